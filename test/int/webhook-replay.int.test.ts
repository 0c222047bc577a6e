import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server.js';
import { fixture } from '../helpers/mock-apis.js';
import { openTestHub, SHOP_WEBHOOK_SECRET, shopWebhookConfig, testConfig, type TestHub } from '../helpers/hub.js';

const WOO_SECRET = 'woo-webhook-secret';

function shopify(body: string, webhookId: string) {
  return {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': webhookId, 'x-shopify-hmac-sha256': createHmac('sha256', SHOP_WEBHOOK_SECRET).update(body).digest('base64') },
  };
}

function woo(body: string, deliveryId: string) {
  return {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-wc-webhook-topic': 'order.updated', 'x-wc-webhook-id': '7', 'x-wc-webhook-delivery-id': deliveryId, 'x-wc-webhook-signature': createHmac('sha256', WOO_SECRET).update(body).digest('base64') },
  };
}

describe('webhook replays and bodies too deep to handle', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('a validly signed body nested 10,000 deep is refused 400 (not 503) and nothing is stored', async () => {
    t = await openTestHub(shopWebhookConfig());
    const app = createApp(t.hub);
    const body = `{"id":1,"note_attributes":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const res = await app.request('/webhooks/shop', shopify(body, 'deep-1'));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'webhook_malformed', message: expect.stringContaining('nested deeper than 64') }) });
    expect(await t.hub.ingestQueue.count()).toBe(0);
  });

  it('Shopify: a captured signed body replayed with a new webhook id is a duplicate (200), stored once', async () => {
    t = await openTestHub(shopWebhookConfig());
    const app = createApp(t.hub);
    const body = JSON.stringify(fixture('shopify/order.json'));
    const first = await app.request('/webhooks/shop', shopify(body, 'wh-a'));
    expect(await first.json()).toEqual({ ok: true, stored: 1, duplicates: 0 });
    const replay = await app.request('/webhooks/shop', shopify(body, 'wh-forged-new-id'));
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ ok: true, stored: 0, duplicates: 1 });
    // Both at once, in one batch of the store, are stored once too.
    const other = JSON.stringify({ ...fixture('shopify/order.json'), updated_at: '2025-01-02T00:00:00Z' });
    const [x, y] = await Promise.all([app.request('/webhooks/shop', shopify(other, 'wh-b')), app.request('/webhooks/shop', shopify(other, 'wh-c'))]);
    expect([await x.json(), await y.json()].map((r: any) => r.stored).sort()).toEqual([0, 1]);
    expect(await t.hub.ingestQueue.count()).toBe(2);
  });

  it('WooCommerce: a signed body replayed with a new delivery id is a duplicate (200), stored once', async () => {
    t = await openTestHub(testConfig({
      connections: {
        wc: { connector: 'woocommerce', baseUrl: 'https://shop.example.com', credentials: { consumerKey: 'ck_x', consumerSecret: 'cs_x', webhookSecret: WOO_SECRET } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'wc', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
    }));
    const app = createApp(t.hub);
    const body = JSON.stringify(fixture('woocommerce/order.json'));
    expect(await (await app.request('/webhooks/wc', woo(body, '101'))).json()).toEqual({ ok: true, stored: 1, duplicates: 0 });
    const replay = await app.request('/webhooks/wc', woo(body, '102'));
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ ok: true, stored: 0, duplicates: 1 });
    expect(await t.hub.ingestQueue.count()).toBe(1);
  });
});
