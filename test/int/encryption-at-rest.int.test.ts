import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { fixture, mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { dumpPrefix } from '../helpers/redis-scan.js';

const SHOP = 'https://acme.myshopify.com';

describe('personal data at rest', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    nock.cleanAll();
  });

  it('leaves no email, phone, name or street in plaintext anywhere in Redis after a sync, a webhook and a dead letter', async () => {
    const orders = shopifyOrders(120);
    orders[7].total_price = 'twelve dollars'; // dead-lettered: its sealed source stays in Redis
    orders[8].customer.phone = '+15550109999';
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: 'wh' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true, batchSize: 50 } },
    }));
    // A webhook stored but not yet processed: its body sits in the queue.
    const body = JSON.stringify({ ...fixture('shopify/order.json'), id: 77, order_number: 7777, email: 'webhook.person@example.com' });
    const res = await createApp(t.hub).request('/webhooks/shop', {
      method: 'POST', body,
      headers: { 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': 'w-77', 'x-shopify-hmac-sha256': createHmac('sha256', 'wh').update(body).digest('base64') },
    });
    expect(res.status).toBe(200);

    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    const run = await runFinished(t!.hub, runId);
    expect(run).toMatchObject({ pushed: 119, dead: 1 });
    await eventually(() => crm.deals.size === 120);

    const values = [...(await dumpPrefix(t.hub.redis, `${t.hub.config.redis.prefix}:`)).values()];
    expect(values.length).toBeGreaterThan(20);
    const haystack = values.join('\n');
    for (const needle of ['@example.com', 'buyer7', 'webhook.person', 'Chestnut', 'Norman', '+15550109999', '+16136120707', 'Louisville']) {
      expect(haystack, `found "${needle}" in Redis`).not.toContain(needle);
    }
    // What is there is ciphertext.
    expect(haystack).toContain('enc:v1:t1:');
  });
});
