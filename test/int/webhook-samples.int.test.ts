import { afterEach, describe, expect, it } from 'vitest';
import { readSamples } from '../../src/jobs/samples.js';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, type TestHub } from '../helpers/hub.js';
import { hubspotDealsMock, loopbackOnly, numberedOrder, shopifyDelivery, webhookOrdersConfig } from '../helpers/webhook-crm.js';

/**
 * The mapping playground's samples from webhook traffic (src/jobs/samples.ts): a trickle is
 * captured event by event; a burst, ingested in micro-batches, at most once a second per
 * process, so the samples come from the burst without 5 records sealed and written per batch.
 */
describe('samples captured from webhook events', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('a trickle: each event becomes the newest sample; a burst: the newest sample is a record of the burst, and each is sealed in Redis', async () => {
    const crm = hubspotDealsMock();
    t = await openTestHub(webhookOrdersConfig({ pushLingerMs: 50 }));
    t.startWorkers();
    const app = createApp(t.hub);
    const order = (n: number) => numberedOrder(n, { id: 6_000_000, number: 30_000 });
    for (let n = 1; n <= 3; n++) {
      expect((await app.request('/webhooks/shop', shopifyDelivery(order(n), `wh-sample-${n}`))).status).toBe(200);
      await eventually(() => crm.deals.has(String(30_000 + n)), 10_000, 10);
      expect((await readSamples(t.hub, 'orders'))[0].record).toMatchObject({ order_number: 30_000 + n });
      await new Promise((r) => setTimeout(r, 1100));
    }

    const burst = Array.from({ length: 200 }, (_, i) => order(100 + i));
    await Promise.all(burst.map((o) => app.request('/webhooks/shop', shopifyDelivery(o, `wh-sample-${o.id}`))));
    await eventually(() => crm.deals.size === 203, 60_000);
    const samples = await readSamples(t.hub, 'orders');
    expect(samples.length).toBeLessThanOrEqual(5);
    // The newest comes from the burst (its first micro-batch may have held fewer than 5 events).
    const numbers = new Set(burst.map((o) => o.order_number));
    expect(numbers.has((samples[0].record as { order_number: number }).order_number)).toBe(true);
    const stored = await t.hub.redis.lrange(t.hub.store.k('samples', 'orders'), 0, -1);
    for (const text of stored) expect(text).not.toContain(String(burst[0].email));
  });
});
