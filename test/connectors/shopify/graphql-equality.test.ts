import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shopify } from '../../../src/connectors/shopify/index.js';
import { shopifyWebhooks } from '../../../src/connectors/shopify/webhooks.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { stableStringify } from '../../../src/jobs/fingerprint.js';
import { quietLogger } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';

/**
 * The same order and customer, once as the REST body a webhook (or `api: rest`)
 * delivers and once as the GraphQL node a pull (`api: graphql`) reads, must give
 * the identical canonical record: same ids, money, statuses, refunds, addresses.
 */
const SHOP = 'https://acme.myshopify.com';
const GQL = '/admin/api/2026-10/graphql.json';
const SECRET = 'shpss_test';
const cost = { cost: { requestedQueryCost: 300, actualQueryCost: 120, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1880, restoreRate: 100 } } };

const mapping = (entity: 'order' | 'customer') => loadMapping(defaultMappingFile('shopify', entity, 'in'), { connector: 'shopify', statusMap: shopify.statusMap });

function graphqlClient() {
  return shopify.create(
    testConnection({ name: 'shop', connector: 'shopify', baseUrl: SHOP, credentials: { accessToken: 'shpat_test' }, options: { apiVersion: '2026-10', api: 'graphql', backfill: 'pages' } }),
    { logger: quietLogger },
  );
}

/** The REST body as it comes in by webhook, verified like any delivery. */
function webhookRecord(topic: string, body: unknown): unknown {
  const rawBody = Buffer.from(JSON.stringify(body));
  const hmac = createHmac('sha256', SECRET).update(rawBody).digest('base64');
  const delivery = shopifyWebhooks(SECRET).verify({
    rawBody, headers: { 'x-shopify-hmac-sha256': hmac, 'x-shopify-topic': topic, 'x-shopify-webhook-id': `wh-${topic}` },
  } as any) as any;
  return delivery.events[0].record;
}

describe('shopify: the same canonical record from REST (webhook) and GraphQL (pull)', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('orders: ids, order number, money, statuses, line items, refunds, customer and addresses are equal field by field', async () => {
    nock(SHOP)
      .post(GQL).reply(200, { data: { orders: { nodes: [fixture('shopify/graphql-order.json')], pageInfo: { hasNextPage: false, endCursor: 'o1' } } }, extensions: cost })
      .post(GQL).reply(200, { data: { node: { lineItems: fixture('shopify/graphql-order-line-items-page2.json') } }, extensions: cost });
    const pulled = (await graphqlClient().pull('order', { cursor: null, pageSize: 25 })).records[0];
    const m = mapping('order');
    const fromGraphql = (await m.evaluate(pulled)) as any;
    const fromWebhook = (await m.evaluate(webhookRecord('orders/updated', fixture('shopify/order.json')))) as any;

    expect(canonicalProblems('order', fromGraphql)).toEqual([]);
    for (const key of new Set([...Object.keys(fromWebhook), ...Object.keys(fromGraphql)])) {
      expect({ [key]: fromGraphql[key] }).toStrictEqual({ [key]: fromWebhook[key] });
    }
    // What links, fingerprints and pushes are computed from is the same text.
    expect(stableStringify(fromGraphql)).toBe(stableStringify(fromWebhook));
    // And it is the record the docs' order stands for, money exact although GraphQL sent "597.0" and "0.0".
    expect(fromGraphql).toMatchObject({
      externalId: '450789469', orderNumber: '1001', status: 'partially_refunded', sourceStatus: 'partially_refunded/unfulfilled',
      subtotal: '597.00', taxTotal: '11.94', shippingTotal: '0.00', discountTotal: '10.00', total: '598.94', refundedAmount: '209.00',
      customer: { externalId: '207119551', email: 'bob.norman@mail.example.com' },
      shippingAddress: { line1: 'Chestnut Street 92', region: 'Kentucky', country: 'US', postalCode: '40202' },
    });
    expect(fromGraphql.lineItems.map((l: any) => [l.externalId, l.unitPrice, l.discount, l.tax, l.total])).toEqual([
      ['466157049', '199.00', '0.00', '3.98', '199.00'], ['518995019', '199.00', '0.00', '3.98', '199.00'], ['703073504', '199.00', '10.00', '3.98', '189.00'],
    ]);
  });

  it('orders: a fulfilled, closed, cancelled-reason order keeps its status from either side', async () => {
    const rest = { ...fixture('shopify/order.json'), financial_status: 'paid', fulfillment_status: 'fulfilled', closed_at: '2008-01-12T11:00:00-05:00', refunds: [] };
    const node = {
      ...fixture('shopify/graphql-order.json'), displayFinancialStatus: 'PAID', displayFulfillmentStatus: 'FULFILLED', closedAt: '2008-01-12T16:00:00Z', refunds: [],
      lineItems: { nodes: [...fixture('shopify/graphql-order.json').lineItems.nodes, ...fixture('shopify/graphql-order-line-items-page2.json').nodes], pageInfo: { hasNextPage: false, endCursor: 'x' } },
    };
    nock(SHOP).post(GQL).reply(200, { data: { orders: { nodes: [node], pageInfo: { hasNextPage: false, endCursor: null } } }, extensions: cost });
    const m = mapping('order');
    const fromGraphql = (await m.evaluate((await graphqlClient().pull('order', { cursor: null, pageSize: 25 })).records[0])) as any;
    const fromWebhook = (await m.evaluate(webhookRecord('orders/fulfilled', rest))) as any;
    expect(fromGraphql.status).toBe('completed');
    expect(fromGraphql.paidAt).toBe('2008-01-10T16:00:00.000Z');
    expect(fromGraphql.refundedAmount).toBeUndefined();
    expect(stableStringify(fromGraphql)).toBe(stableStringify(fromWebhook));
  });

  it('orders: null fields (a guest checkout with no customer, no addresses, a line without SKU) agree too', async () => {
    const restBody = structuredClone(fixture('shopify/order.json'));
    Object.assign(restBody, { customer: null, shipping_address: null, billing_address: null, note: 'leave at door', tags: 'vip, gift' });
    restBody.line_items[0].sku = null;
    const node = structuredClone(fixture('shopify/graphql-order.json'));
    Object.assign(node, { customer: null, shippingAddress: null, billingAddress: null, note: 'leave at door', tags: ['vip', 'gift'] });
    node.lineItems.nodes.push(...fixture('shopify/graphql-order-line-items-page2.json').nodes);
    node.lineItems.pageInfo = { hasNextPage: false, endCursor: null };
    node.lineItems.nodes[0].sku = null;
    nock(SHOP).post(GQL).reply(200, { data: { orders: { nodes: [node], pageInfo: { hasNextPage: false, endCursor: null } } }, extensions: cost });
    const m = mapping('order');
    const fromGraphql = (await m.evaluate((await graphqlClient().pull('order', { cursor: null, pageSize: 25 })).records[0])) as any;
    const fromWebhook = (await m.evaluate(webhookRecord('orders/create', restBody))) as any;
    expect(fromGraphql.customer).toEqual({ email: 'bob.norman@mail.example.com' });
    expect(fromGraphql.shippingAddress).toBeUndefined();
    expect(fromGraphql.lineItems[0].sku).toBeUndefined();
    expect(fromGraphql.tags).toEqual(['vip', 'gift']);
    expect(stableStringify(fromGraphql)).toBe(stableStringify(fromWebhook));
  });

  it('customers: id, email, phone, tags, marketing consent, orders count, total spent and addresses are equal field by field', async () => {
    nock(SHOP).post(GQL).reply(200, { data: { customers: { nodes: [fixture('shopify/graphql-customer.json')], pageInfo: { hasNextPage: false, endCursor: 'c1' } } }, extensions: cost });
    const pulled = (await graphqlClient().pull('customer', { cursor: null, pageSize: 25 })).records[0];
    const m = mapping('customer');
    const fromGraphql = (await m.evaluate(pulled)) as any;
    const fromWebhook = (await m.evaluate(webhookRecord('customers/update', fixture('shopify/customer.json')))) as any;
    expect(canonicalProblems('customer', fromGraphql)).toEqual([]);
    for (const key of new Set([...Object.keys(fromWebhook), ...Object.keys(fromGraphql)])) {
      expect({ [key]: fromGraphql[key] }).toStrictEqual({ [key]: fromWebhook[key] });
    }
    expect(stableStringify(fromGraphql)).toBe(stableStringify(fromWebhook));
    expect(fromGraphql).toMatchObject({ externalId: '207119551', ordersCount: 1, totalSpent: '199.65', acceptsMarketing: false, tags: ['Léon', 'Noël'] });
    expect(fromGraphql.addresses).toEqual([expect.objectContaining({ line1: 'Chestnut Street 92', city: 'Louisville', country: 'US', phone: '555-625-1199' })]);
  });
});

describe('order types over GraphQL', () => {
  it('a subscription order pulled over GraphQL is recurring, as its webhook body is (sourceName → source_name)', async () => {
    const { orderToRest } = await import('../../../src/connectors/shopify/graphql-normalize.js');
    const node = (sourceName: string | null) => ({
      id: 'gid://shopify/Order/450789469', legacyResourceId: '450789469', name: '#1001', number: 1, currencyCode: 'EUR',
      email: null, phone: null, note: null, tags: [], displayFinancialStatus: 'PAID', displayFulfillmentStatus: 'UNFULFILLED',
      createdAt: '2026-11-01T10:00:00Z', updatedAt: '2026-11-01T10:00:00Z', processedAt: '2026-11-01T10:00:00Z',
      closedAt: null, cancelledAt: null, cancelReason: null, sourceName,
      subtotalPriceSet: { shopMoney: { amount: '10.0', currencyCode: 'EUR' } }, totalTaxSet: { shopMoney: { amount: '0.0', currencyCode: 'EUR' } },
      totalShippingPriceSet: { shopMoney: { amount: '0.0', currencyCode: 'EUR' } }, totalDiscountsSet: { shopMoney: { amount: '0.0', currencyCode: 'EUR' } },
      totalPriceSet: { shopMoney: { amount: '10.0', currencyCode: 'EUR' } }, discountCodes: [], customer: null, shippingAddress: null, billingAddress: null,
      lineItems: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } }, shippingLines: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } }, refunds: [],
    });
    const m = mapping('order');
    expect(orderToRest(node('subscription_contract_checkout_one')).source_name).toBe('subscription_contract_checkout_one');
    expect(((await m.evaluate(orderToRest(node('subscription_contract_checkout_one')))) as any).recurring).toBe(true);
    expect(((await m.evaluate(orderToRest(node('web')))) as any).recurring).toBeUndefined();
    expect(((await m.evaluate(orderToRest(node(null)))) as any).recurring).toBeUndefined();
  });
});
