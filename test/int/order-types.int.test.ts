import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { fixture, mockHubspotDeals, shopifyOrders } from '../helpers/mock-apis.js';

/** Shopify and WooCommerce orders → HubSpot deals with the order-type properties configured. */
function config() {
  return testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
      woo: { connector: 'woocommerce', baseUrl: 'https://woo.example.com', credentials: { consumerKey: 'ck', consumerSecret: 'cs' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, orderTypeProperties: { customerType: 'synchub_customer_type', recurring: 'synchub_recurring' } },
    },
    pipelines: {
      'shop-orders': { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
      'woo-orders': { source: { connection: 'woo', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
    },
    jobs: { pushLingerMs: 0 },
  });
}

/** WooCommerce REST v3 order (the docs' example) of one customer, paid at `paidAt`. */
function wooOrder(id: number, email: string, paidAt: string, meta: { key: string; value: string }[] = []) {
  const o = fixture<Record<string, any>>('woocommerce/order.json');
  return { ...o, id, number: String(id), billing: { ...o.billing, email }, date_created_gmt: paidAt, date_modified_gmt: paidAt, date_paid_gmt: paidAt, meta_data: [...o.meta_data, ...meta] };
}

describe('order types', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('a customer\'s first paid order is new and the next, from another shop, returning; both reach the CRM with their type', async () => {
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const [first] = shopifyOrders(1);
    Object.assign(first, { email: 'Ana.Lima@example.com', customer: { ...first.customer, email: 'Ana.Lima@example.com' }, processed_at: '2025-01-01T10:00:00Z', created_at: '2025-01-01T10:00:00Z' });
    await ingestRecords(t.hub, t.hub.config.pipelines.get('shop-orders')!, [first]);
    await ingestRecords(t.hub, t.hub.config.pipelines.get('woo-orders')!, [wooOrder(727, 'ana.lima@example.com', '2025-03-22T19:28:02')]);
    await eventually(() => crm.deals.has('1001') && crm.deals.has('727'));
    expect(crm.deals.get('1001')!.properties).toMatchObject({ synchub_customer_type: 'new', synchub_recurring: 'false' });
    expect(crm.deals.get('727')!.properties).toMatchObject({ synchub_customer_type: 'returning', synchub_recurring: 'false' });

    // Another customer: their first order is new; a second order of the same customer is returning.
    await ingestRecords(t.hub, t.hub.config.pipelines.get('woo-orders')!, [wooOrder(801, 'bo@example.com', '2025-04-01T08:00:00'), wooOrder(802, 'bo@example.com', '2025-05-01T08:00:00')], { deliveryBase: 'bo' });
    await eventually(() => crm.deals.has('801') && crm.deals.has('802'));
    expect(crm.deals.get('801')!.properties.synchub_customer_type).toBe('new');
    expect(crm.deals.get('802')!.properties.synchub_customer_type).toBe('returning');
  });

  it('an unpaid order is new only while no paid order came before it; recurring comes from the source\'s subscription markers', async () => {
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const [pending, renewal] = shopifyOrders(2);
    // An unpaid first order: new (no paid order before it).
    Object.assign(pending, { financial_status: 'pending', processed_at: null, created_at: '2025-01-01T10:00:00Z', email: 'c@example.com', customer: { ...pending.customer, email: 'c@example.com' } });
    // A subscription renewal: Shopify marks orders made by a subscription contract by source_name.
    Object.assign(renewal, { source_name: 'subscription_contract_checkout_one', processed_at: '2025-02-01T10:00:00Z', created_at: '2025-02-01T10:00:00Z', email: 'c@example.com', customer: { ...renewal.customer, email: 'c@example.com' } });
    await ingestRecords(t.hub, t.hub.config.pipelines.get('shop-orders')!, [pending, renewal]);
    await eventually(() => crm.deals.has('1001') && crm.deals.has('1002'));
    expect(crm.deals.get('1001')!.properties).toMatchObject({ synchub_customer_type: 'new', synchub_recurring: 'false' });
    // The renewal is the customer's first paid order: new, and recurring.
    expect(crm.deals.get('1002')!.properties).toMatchObject({ synchub_customer_type: 'new', synchub_recurring: 'true' });

    // WooCommerce Subscriptions' renewal meta marks a recurring order.
    await ingestRecords(t.hub, t.hub.config.pipelines.get('woo-orders')!, [wooOrder(900, 'c@example.com', '2025-03-01T10:00:00', [{ key: '_subscription_renewal', value: '640' }])]);
    await eventually(() => crm.deals.has('900'));
    expect(crm.deals.get('900')!.properties).toMatchObject({ synchub_customer_type: 'returning', synchub_recurring: 'true' });
  });
});
