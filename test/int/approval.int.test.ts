import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { SHOPIFY_API_VERSION } from '../../src/connectors/shopify/client.js';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { eventStreamKey } from '../../src/jobs/order-events.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { fixture, mockHubspotDeals, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';

function config(approval: Record<string, unknown>) {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN },
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x', webhookSecret: 'whsec_w' } },
    },
    pipelines: {
      orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], approval },
      payments: { source: { connection: 'stripe', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }] },
    },
    jobs: { pushLingerMs: 0 },
  });
}

/** Order 1001 is small, 1002 large (2500.00): `total > 1000` holds 1002 only. */
function orders() {
  const [small, large] = shopifyOrders(2);
  large.total_price = '2500.00';
  large.subtotal_price = '2500.00';
  return { small, large };
}

async function approvalEvents(t: TestHub) {
  const entries = await t.hub.redis.xrange(eventStreamKey(t.hub), '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1])).filter((e) => e.type === 'order.approval');
}

describe('order approval', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('holds an order the rule matches, lists it, and pushes it once approved, with who, when and why recorded', async () => {
    const crm = mockHubspotDeals();
    t = await openTestHub(config({ when: '$number(total) > 1000' }));
    t.startWorkers();
    const api = adminClient(createApp(t.hub));
    const { small, large } = orders();
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [small, large]);
    await eventually(() => crm.deals.has('1001'));
    expect(crm.deals.has('1002')).toBe(false);

    const open = await api.get('/api/approvals');
    expect(open.body).toMatchObject({ total: 1, items: [{ state: 'awaiting_approval', orderNumber: '1002', total: '2500.00', currency: 'USD', pipeline: 'orders' }] });
    expect(JSON.stringify(open.body)).not.toContain('buyer1@example.com');
    expect(await approvalEvents(t)).toMatchObject([{ order: { orderNumber: '1002', status: 'awaiting_approval' } }]);

    // A change at the source while held: still matching, still held.
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [{ ...large, updated_at: '2025-01-02T00:00:00Z', note: 'gift wrap' }]);
    expect((await api.get('/api/approvals')).body.total).toBe(1);

    const id = open.body.items[0].id;
    expect((await api.post(`/api/approvals/${id}/approve`, { reason: 'checked' })).status).toBe(400);
    const decided = await api.post(`/api/approvals/${id}/approve`, { by: 'ops@acme', reason: 'called the customer' });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({ state: 'approved', decision: { by: 'ops@acme', reason: 'called the customer', via: 'admin' }, decidedAt: expect.any(String) });
    await eventually(() => crm.deals.has('1002'));
    expect(crm.deals.get('1002')!.properties).toMatchObject({ amount: '2500.00', dealstage: 'closedwon' });

    expect((await api.post(`/api/approvals/${id}/reject`, { by: 'x', reason: 'late' })).status).toBe(409);
    expect((await api.get('/api/approvals')).body.total).toBe(0);
    expect((await api.get('/api/approvals?state=decided')).body.items).toMatchObject([{ orderNumber: '1002', state: 'approved' }]);
    expect((await approvalEvents(t)).map((e) => e.order.status)).toEqual(['awaiting_approval', 'approved']);

    // Approved is final: a later change at the source goes through as any order's does.
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [{ ...large, updated_at: '2025-01-03T00:00:00Z', total_price: '2400.00', subtotal_price: '2400.00' }]);
    await eventually(() => crm.deals.get('1002')?.properties.amount === '2400.00');
  });

  it('a rejected order is cancelled at its source (Shopify cancel.json) and never reaches the targets', async () => {
    const crm = mockHubspotDeals();
    const { large } = orders();
    // Shopify REST Admin API, Order resource: GET /orders/{id}.json, then POST /orders/{id}/cancel.json (shopify.dev admin-rest order#post-orders-order-id-cancel).
    const shop = nock(SHOP).get(`/admin/api/${SHOPIFY_API_VERSION}/orders/${large.id}.json`).reply(200, { order: { ...large, cancelled_at: null } })
      .post(`/admin/api/${SHOPIFY_API_VERSION}/orders/${large.id}/cancel.json`).reply(200, { order: { ...large, cancelled_at: '2025-01-02T10:00:00-05:00', cancel_reason: 'other' } });
    t = await openTestHub(config({ when: '$number(total) > 1000' }));
    t.startWorkers();
    const api = adminClient(createApp(t.hub));
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [large], { deliveryBase: 'e1' });
    const [held] = (await api.get('/api/approvals')).body.items;
    const res = await api.post(`/api/approvals/${held.id}/reject`, { by: 'ops@acme', reason: 'fraud check failed' });
    expect(res.body).toMatchObject({ state: 'rejected', cancel: 'cancelled', decision: { by: 'ops@acme', reason: 'fraud check failed' } });
    expect(shop.isDone()).toBe(true);
    // The source's own cancellation coming back is not pushed either.
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [{ ...large, updated_at: '2025-01-02T15:00:00Z', cancelled_at: '2025-01-02T10:00:00-05:00', financial_status: 'voided' }], { deliveryBase: 'e2' });
    expect(crm.deals.size).toBe(0);
    expect((await t.hub.store.pipelineStats('orders')).skipped).toBe(2);
    expect((await approvalEvents(t)).map((e) => e.order.status)).toEqual(['awaiting_approval', 'rejected']);
  });

  it('onTimeout applies when no one decides: approve pushes the order, escalate keeps it held and says so', async () => {
    const crm = mockHubspotDeals();
    t = await openTestHub(config({ when: '$number(total) > 1000', timeoutHours: 0.0003, onTimeout: 'approve' }));
    t.startWorkers();
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [orders().large]);
    await eventually(() => crm.deals.has('1002'));
    const [a] = (await t.hub.store.approvals.list('decided', 0, 10)).items;
    expect(a).toMatchObject({ state: 'approved' });
    const view = (await adminClient(createApp(t.hub)).get(`/api/approvals/${Buffer.from(a.key).toString('base64url')}`)).body;
    expect(view.decision).toMatchObject({ by: 'synchub', via: 'timeout' });
    await t.close();

    t = await openTestHub(config({ when: '$number(total) > 1000', timeoutHours: 0.0003, onTimeout: 'escalate' }));
    t.startWorkers();
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [orders().large]);
    await eventually(async () => (await t!.hub.store.approvals.list('open', 0, 10)).items[0]?.state === 'escalated');
    expect((await approvalEvents(t)).map((e) => e.order.status)).toEqual(['awaiting_approval', 'escalated']);
  });

  it('a held order that changes at the source so the rule no longer matches is approved by the rule and pushed', async () => {
    const crm = mockHubspotDeals();
    t = await openTestHub(config({ when: '$number(total) > 1000' }));
    t.startWorkers();
    const { large } = orders();
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [large]);
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [{ ...large, updated_at: '2025-01-02T00:00:00Z', total_price: '900.00', subtotal_price: '900.00' }], { deliveryBase: 'changed' });
    await eventually(() => crm.deals.get('1002')?.properties.amount === '900.00');
    const [a] = (await t.hub.store.approvals.list('decided', 0, 10)).items;
    expect(a).toMatchObject({ state: 'approved', orderNumber: '1002' });
    expect((await approvalEvents(t)).map((e) => e.order.status)).toEqual(['awaiting_approval', 'approved']);
  });

  it('payments for a held order go into its ledger; approving pushes the order as paid', async () => {
    const crm = mockHubspotDeals();
    t = await openTestHub(config({ when: '$number(total) >= 20' }));
    t.startWorkers();
    const [order] = shopifyOrders(1);
    Object.assign(order, { financial_status: 'pending', total_price: '20.00', subtotal_price: '20.00', processed_at: null });
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order]);
    const [held] = (await t.hub.store.approvals.list('open', 0, 10)).items;
    expect(held).toMatchObject({ orderNumber: '1001', state: 'awaiting_approval' });

    const pi = { ...fixture<Record<string, any>>('stripe/payment_intent.json'), id: 'pi_1001', amount: 2000, metadata: { order_number: '1001' } };
    // A Stripe event as webhooks and /v1/events carry it (docs.stripe.com/api/events/object).
    const event = { id: 'evt_1001', object: 'event', type: 'payment_intent.succeeded', created: 1735725600, data: { object: pi } };
    expect(await ingestRecords(t.hub, t.hub.config.pipelines.get('payments')!, [event])).toMatchObject({ dead: 0, skipped: 1 });
    expect(await t.hub.store.orders.paymentFacts([held.key])).toMatchObject([[expect.stringContaining('"status":"succeeded"')]]);
    expect(crm.deals.size).toBe(0);

    await adminClient(createApp(t.hub)).post(`/api/approvals/${Buffer.from(held.key).toString('base64url')}/approve`, { by: 'ops', reason: 'ok' });
    await eventually(() => crm.deals.get('1001')?.properties.dealstage === 'closedwon');
    expect(crm.deals.get('1001')!.properties.amount).toBe('20.00');
  });
});
