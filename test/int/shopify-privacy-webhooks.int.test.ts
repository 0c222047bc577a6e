/**
 * Shopify's mandatory compliance webhooks on real Redis, with payloads shaped like the examples
 * in "Privacy law compliance" (shopify.dev/docs/apps/build/compliance/privacy-law-compliance):
 * verified by X-Shopify-Hmac-Sha256 like every Shopify webhook (a forged one is refused with 401
 * and nothing is stored), stored before the 200, handled in a job.
 */
import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';
const SECRET = 'shop-secret';
const PERSON = 'buyer0@example.com';

describe('Shopify compliance webhooks', () => {
  let t: TestHub;
  let orders: Record<string, any>[];
  let app: ReturnType<typeof createApp>;
  let api: ReturnType<typeof adminClient>;

  const send = (topic: string, payload: unknown, id: string, secret = SECRET) => {
    const body = JSON.stringify(payload);
    return app.request('/webhooks/shop', {
      method: 'POST', body,
      headers: {
        'content-type': 'application/json', 'x-shopify-topic': topic, 'x-shopify-webhook-id': id, 'x-shopify-shop-domain': 'acme.myshopify.com',
        'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body).digest('base64'),
      },
    });
  };
  const handled = async (n: number) => eventually(async () => {
    const items = (await api.get('/api/privacy-requests')).body.items;
    return items.length >= n ? items : undefined;
  });
  const snapshot = (i: number) => t.hub.store.orders.orderSnapshot(`order:shop:${orders[i].id}`);

  beforeEach(async () => {
    orders = shopifyOrders(4);
    Object.assign(orders[2], { email: PERSON, customer: { ...orders[2].customer, id: 300_000, email: PERSON } });
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      server: { adminToken: ADMIN_TOKEN },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SECRET } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    }));
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    await eventually(async () => (await t.hub.store.getRun(runId))?.finishedAt);
    expect(crm.deals.size).toBe(4);
    app = createApp(t.hub);
    api = adminClient(app);
  });
  afterEach(async () => {
    await t.close();
    nock.cleanAll();
  });

  it('customers/data_request: a report of what the hub holds (kinds, fields, systems, dates; no values), retrievable by the admin API', async () => {
    const res = await send('customers/data_request', {
      shop_id: 954889, shop_domain: 'acme.myshopify.com', orders_requested: [orders[0].id, orders[2].id],
      customer: { id: 300_000, email: PERSON, phone: '555-625-1199' }, data_request: { id: 9999 },
    }, 'dr-1');
    expect(res.status).toBe(200);
    const [item] = await handled(1);
    expect(item).toMatchObject({ topic: 'customers/data_request', kind: 'customer_data_request', requestId: '9999', connection: 'shop' });
    const report = (await api.get(`/api/privacy-requests/${item.id}`)).body.report;
    expect(report.found).toBe(true);
    expect(report.records).toEqual([expect.objectContaining({ entity: 'order', count: 2, firstSeen: expect.any(String), lastChanged: expect.any(String) })]);
    expect(report.records[0].fields).toEqual(expect.arrayContaining(['customer', 'shippingAddress', 'total']));
    expect(report.systems).toEqual(expect.arrayContaining([{ connection: 'crm', connector: 'hubspot', entity: 'order', records: 2 }, { connection: 'shop', connector: 'shopify', entity: 'order', records: 2 }]));
    expect(JSON.stringify(report)).not.toMatch(/buyer|555-625/);
    // Nothing was erased by a data request.
    expect(await snapshot(2)).not.toBeNull();
  });

  it('customers/redact erases the customer and the orders it lists; the other customers keep theirs', async () => {
    const res = await send('customers/redact', {
      shop_id: 954889, shop_domain: 'acme.myshopify.com', customer: { id: 300_000, email: PERSON, phone: '555-625-1199' }, orders_to_redact: [orders[0].id, orders[2].id],
    }, 'cr-1');
    expect(res.status).toBe(200);
    const [item] = await handled(1);
    expect(item.erasures).toHaveLength(1);
    const erasure = (await api.get(`/api/erasure/${item.erasures[0]}`)).body;
    expect(erasure).toMatchObject({ status: 'erased', origin: 'webhook:shop', removed: { orderSnapshots: 2 } });
    expect(await snapshot(0)).toBeNull();
    expect(await snapshot(2)).toBeNull();
    expect(await snapshot(1)).not.toBeNull();
    expect(await snapshot(3)).not.toBeNull();
    // Shopify retries a delivery it did not see answered: the same webhook id is a duplicate, nothing runs twice.
    expect((await send('customers/redact', { shop_id: 954889, shop_domain: 'acme.myshopify.com', customer: { id: 300_000, email: PERSON }, orders_to_redact: [] }, 'cr-1')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect((await api.get('/api/privacy-requests')).body.items).toHaveLength(1);
  });

  it('shop/redact erases everything the hub holds for the shop’s connection', async () => {
    expect((await send('shop/redact', { shop_id: 954889, shop_domain: 'acme.myshopify.com' }, 'sr-1')).status).toBe(200);
    const [item] = await handled(1);
    expect(item.kind).toBe('shop_redact');
    expect(item.erasures.length).toBeGreaterThan(0);
    for (const i of [0, 1, 2, 3]) {
      expect(await snapshot(i)).toBeNull();
      expect(await t.hub.store.getLinks(`order:shop:${orders[i].id}`)).toEqual({});
    }
    expect(await t.hub.redis.llen(t.hub.store.k('samples', 'orders'))).toBe(0);
  });

  it('refuses each topic with a forged signature (401) and stores nothing', async () => {
    const bodies: [string, unknown][] = [
      ['customers/data_request', { shop_id: 1, shop_domain: 'acme.myshopify.com', orders_requested: [], customer: { id: 1, email: PERSON }, data_request: { id: 1 } }],
      ['customers/redact', { shop_id: 1, shop_domain: 'acme.myshopify.com', customer: { id: 1, email: PERSON }, orders_to_redact: [] }],
      ['shop/redact', { shop_id: 1, shop_domain: 'acme.myshopify.com' }],
    ];
    for (const [topic, body] of bodies) {
      const res = await send(topic, body, `forged-${topic}`, 'not-the-secret');
      expect(res.status, topic).toBe(401);
    }
    expect(await t.hub.ingestQueue.getJobCounts('waiting', 'active', 'completed', 'delayed', 'failed')).toMatchObject({ waiting: 0, active: 0, completed: 0, delayed: 0, failed: 0 });
    expect(await snapshot(2)).not.toBeNull();
    // A body that names no customer is refused as malformed.
    expect((await send('customers/redact', { shop_id: 1, shop_domain: 'acme.myshopify.com', customer: {} }, 'bad-1')).status).toBe(400);
  });
});
