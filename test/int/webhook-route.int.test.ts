import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server.js';
import { startRedisServer } from '../../src/runtime/redis-server.js';
import { eventually, openTestHub, SHOP_WEBHOOK_SECRET, shopWebhookConfig, type TestHub } from '../helpers/hub.js';
import { fixture, mockHubspotDeals } from '../helpers/mock-apis.js';
import { jobId } from '../../src/jobs/queues.js';

const SECRET = SHOP_WEBHOOK_SECRET;
const config = shopWebhookConfig;

function delivery(order: Record<string, unknown>, webhookId: string, opts: { secret?: string; topic?: string } = {}) {
  const body = JSON.stringify(order);
  return {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': opts.topic ?? 'orders/create',
      'x-shopify-hmac-sha256': createHmac('sha256', opts.secret ?? SECRET).update(body).digest('base64'),
      'x-shopify-webhook-id': webhookId,
    },
  };
}

describe('POST /webhooks/:connection', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('stores a verified event before answering 200, queues a duplicate once, and the order reaches HubSpot', async () => {
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const order = fixture('shopify/order.json');

    const first = await app.request('/webhooks/shop', delivery(order, 'wh-1'));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ ok: true, stored: 1, duplicates: 0 });
    // Stored before the answer: the job is in Redis now, before any worker runs.
    expect(await t.hub.ingestQueue.getJobCounts('wait')).toEqual({ wait: 1 });

    const again = await app.request('/webhooks/shop', delivery(order, 'wh-1'));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ ok: true, stored: 0, duplicates: 1 });
    expect(await t.hub.ingestQueue.getJobCounts('wait')).toEqual({ wait: 1 });

    t.startWorkers();
    await eventually(() => crm.deals.size === 1);
    expect(crm.deals.get('1001')?.properties.amount).toBe('598.94');
    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 1);
    expect(crm.calls).toEqual([1]);
  });

  it("releases each event's source page once its record is pushed, when several are pushed in one batch", async () => {
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const order = fixture('shopify/order.json') as Record<string, unknown>;
    const ids = ['wh-a', 'wh-b', 'wh-c'];
    for (const [i, id] of ids.entries()) {
      const res = await app.request('/webhooks/shop', delivery({ ...order, id: 7001 + i, order_number: 7001 + i, name: `#${7001 + i}` }, id));
      expect(res.status).toBe(200);
    }
    t.startWorkers();
    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 3);
    expect(crm.deals.size).toBe(3);
    // One push batch of three records, each from a page of its own: every page settled and gone.
    expect(crm.calls).toEqual([3]);
    const pages = ids.map((id) => `ingest:${jobId('wh', 'shop', id, 'orders')}`);
    await eventually(async () => (await Promise.all(pages.map((p) => t!.hub.store.sourcePage(p)))).every((page) => page === null));
  });

  it('answers 401 to a forged or unsigned delivery and stores nothing', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const forged = await app.request('/webhooks/shop', delivery(fixture('shopify/order.json'), 'wh-2', { secret: 'guess' }));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toEqual({ error: { code: 'webhook_signature', message: expect.stringContaining('X-Shopify-Hmac-Sha256') } });
    const d = delivery(fixture('shopify/order.json'), 'wh-3');
    delete (d.headers as Record<string, string>)['x-shopify-hmac-sha256'];
    expect((await app.request('/webhooks/shop', d)).status).toBe(401);
    expect(await t.hub.ingestQueue.count()).toBe(0);
  });

  it('answers 400 to a malformed body, 413 to an oversized one, 404 to an unknown connection or one without webhooks', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const bad = '{"id": 1,';
    const malformed = await app.request('/webhooks/shop', {
      method: 'POST', body: bad,
      headers: { 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': 'm1', 'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(bad).digest('base64') },
    });
    expect(malformed.status).toBe(400);
    const huge = { ...fixture('shopify/order.json'), note: 'x'.repeat(1024 * 1024) };
    expect((await app.request('/webhooks/shop', delivery(huge, 'big'))).status).toBe(413);
    expect((await app.request('/webhooks/nowhere', delivery(fixture('shopify/order.json'), 'n1'))).status).toBe(404);
    // crm has no clientSecret in this config: it takes no webhooks.
    expect((await app.request('/webhooks/crm', { method: 'POST', body: '[]' })).status).toBe(404);
    expect(await t.hub.ingestQueue.count()).toBe(0);
  });

  it('answers 503, never 2xx, while Redis is down, and 200 again once it is back', async () => {
    const redis = await startRedisServer();
    try {
      t = await openTestHub(config(redis.url), redis.url);
      const app = createApp(t.hub);
      expect((await app.request('/readyz')).status).toBe(200);
      await redis.stop();
      const down = await app.request('/webhooks/shop', delivery(fixture('shopify/order.json'), 'wh-down'));
      expect(down.status).toBe(503);
      expect(((await down.json()) as any).error.code).toBe('store_unavailable');
      expect((await app.request('/readyz')).status).toBe(503);
      expect((await app.request('/healthz')).status).toBe(200);

      const back = await startRedisServer({ port: redis.port });
      try {
        const ok = await eventually(async () => {
          const res = await app.request('/webhooks/shop', delivery(fixture('shopify/order.json'), 'wh-down'));
          return res.status === 200 ? res : undefined;
        }, 15_000, 200);
        expect(await ok.json()).toEqual({ ok: true, stored: 1, duplicates: 0 });
      } finally {
        await t.close();
        t = undefined;
        await back.stop();
      }
    } finally {
      await redis.stop();
    }
  });
});
