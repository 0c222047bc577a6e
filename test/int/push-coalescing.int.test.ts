import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { processFlush } from '../../src/jobs/coalesce.js';
import { ingestRecords } from '../../src/jobs/ingest.js';
import type { FlushJobData, PushJobData } from '../../src/jobs/queues.js';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, queuedWebhookEvents, type TestHub } from '../helpers/hub.js';
import { hubspotDealsMock, loopbackOnly, numberedOrder, shopifyDelivery, webhookOrdersConfig } from '../helpers/webhook-crm.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';

/**
 * Webhook records bound for the same target are pushed together (src/jobs/coalesce.ts):
 * one push call per batch cap instead of one per webhook event.
 */

const config = (jobs: Record<string, unknown> = {}) => webhookOrdersConfig(jobs, { server: { adminToken: ADMIN_TOKEN } });
const order = (n: number, extra: Record<string, unknown> = {}) => numberedOrder(n, { id: 5_000_000, number: 10_000 }, extra);
const delivery = shopifyDelivery;
const hubspotDeals = hubspotDealsMock;

describe('webhook records are pushed together per target', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('1,000 webhooks for 1,000 orders within a second: a handful of full batches, every deal once with its exact amount', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const app = createApp(t.hub);
    const orders = Array.from({ length: 1000 }, (_, i) => order(i + 1));
    const answers = await Promise.all(orders.map((o) => app.request('/webhooks/shop', delivery(o, `wh-${o.id}`))));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));

    await eventually(() => crm.deals.size === 1000, 60_000);
    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 1000, 20_000);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.amount).toBe(o.total_price);
    expect([...crm.writes.values()].every((n) => n === 1)).toBe(true);
    // HubSpot's cap is 100 inputs a call: 10 full calls, and a few part batches at window ends.
    expect(crm.calls.length).toBeLessThanOrEqual(1000 / 100 + 10);
    expect(crm.calls.every((c) => c.inputs <= 100)).toBe(true);
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 1000, skipped: 0, dead: 0 });
    // Nothing is left waiting, and each event's sealed source went once its record was pushed.
    expect(await t.hub.redis.llen(t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order'))).toBe(0);
    await eventually(async () => (await t!.hub.redis.keys(t!.hub.store.k('srcpage', '*'))).length === 0, 10_000);

    // /metrics and the admin API say how many records each call carried.
    const metrics = await (await app.request('/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toContain('synchub_push_records_total{connection="crm"} 1000');
    expect(metrics).toContain(`synchub_push_duration_seconds_count{connection="crm"} ${crm.calls.length}`);
    const { body } = await adminClient(app).get('/api/pipelines');
    expect(body.pipelines[0].targets[0].pushes).toEqual({ calls: crm.calls.length, records: 1000, recordsPerCall: Math.round((1000 / crm.calls.length) * 10) / 10 });
    expect(body.pipelines[0].targets[0].pushes.recordsPerCall).toBeGreaterThanOrEqual(50);
  });

  it('a batch that fills goes at once, before its window ends; the rest waits in Redis for its window', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 30_000 }));
    t.startWorkers();
    const app = createApp(t.hub);
    const orders = Array.from({ length: 101 }, (_, i) => order(i + 1));
    await Promise.all(orders.map((o) => app.request('/webhooks/shop', delivery(o, `wh-${o.id}`))));
    await eventually(() => crm.deals.size === 100, 20_000);
    expect(crm.calls.map((c) => c.inputs)).toEqual([100]);
    await eventually(async () => (await queuedWebhookEvents(t!.hub.ingestQueue, ['completed'])).size === 101, 20_000);
    expect(await t.hub.redis.llen(t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order'))).toBe(1);
  });

  it('the same order updated 5 times in quick succession: the deal ends with the newest state, written at most twice', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 300 }));
    t.startWorkers();
    const app = createApp(t.hub);
    const base = Date.parse('2026-11-27T10:00:00Z');
    for (let v = 1; v <= 5; v++) {
      const o = order(7, { total_price: `${v}00.00`, updated_at: new Date(base + v * 1000).toISOString() });
      expect((await app.request('/webhooks/shop', delivery(o, `wh-upd-${v}`, 'orders/updated'))).status).toBe(200);
    }
    await eventually(async () => {
      const s = await t!.hub.store.pipelineStats('orders');
      return s.pushed + s.skipped === 5;
    }, 20_000);
    expect(crm.deals.get('10007')?.amount).toBe('500.00');
    expect(crm.writes.get('10007')).toBeLessThanOrEqual(2);
    const stats = await t.hub.store.pipelineStats('orders');
    expect(stats.dead).toBe(0);
    expect(stats.pushed).toBe(crm.writes.get('10007'));
  });

  it('a record HubSpot refuses inside a coalesced batch is dead-lettered alone, replayable; the others are pushed', async () => {
    const crm = hubspotDeals(new Set(['10013']));
    t = await openTestHub(config({ pushLingerMs: 1000 }));
    t.startWorkers();
    const app = createApp(t.hub);
    const orders = Array.from({ length: 30 }, (_, i) => order(i + 1));
    await Promise.all(orders.map((o) => app.request('/webhooks/shop', delivery(o, `wh-${o.id}`))));

    await eventually(async () => {
      const s = await t!.hub.store.pipelineStats('orders');
      return s.pushed + s.dead === 30;
    }, 30_000);
    // The batch went as one call first, refused as a whole, then record by record.
    expect(crm.calls[0].inputs).toBeGreaterThan(1);
    expect(crm.deals.size).toBe(29);
    expect(crm.deals.has('10013')).toBe(false);
    const { total, items } = await t.hub.store.listDeadLetters({ pipeline: 'orders' });
    expect(total).toBe(1);
    expect(items[0]).toMatchObject({ step: 'push', target: 'crm', error: { code: 'remote_rejected' } });
    expect(items[0].source).not.toBe('');
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 29, dead: 1 });
  });

  it('an event ingested twice (its ingest job retried) is one item of its batch: pushed once, counted once', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 300 }));
    const pipeline = t.hub.config.pipelines.get('orders')!;
    const base = 'wh_shop_retried_orders';
    for (let i = 0; i < 2; i++) await ingestRecords(t.hub, pipeline, [order(42)], { deliveryBase: base, deadLetterBase: base, coalesce: true });
    expect(await t.hub.redis.llen(t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order'))).toBe(2);
    t.startWorkers();
    await eventually(() => crm.deals.has('10042'), 20_000);
    await eventually(async () => (await t!.hub.redis.llen(t!.hub.store.coalesce.coalesceKey('orders', 'crm', 'order'))) === 0, 10_000);
    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 1, 10_000);
    expect(crm.calls.map((c) => c.inputs)).toEqual([1]);
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 1, skipped: 0, dead: 0 });
  });

  it('records waiting in the list as an earlier version wrote them (one JSON entry, the record in base64) are still pushed once', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 300 }));
    const pipeline = t.hub.config.pipelines.get('orders')!;
    const key = t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order');
    await ingestRecords(t.hub, pipeline, [order(7)], { deliveryBase: 'wh_shop_old_orders', deadLetterBase: 'wh_shop_old_orders', coalesce: true });
    await ingestRecords(t.hub, pipeline, [order(8)], { deliveryBase: 'wh_shop_new_orders', deadLetterBase: 'wh_shop_new_orders', coalesce: true });
    const [entry, current] = await t.hub.redis.lrangeBuffer(key, 0, -1);
    // The sealed record is kept as bytes after its header's newline, not as base64 text.
    const nl = entry.indexOf(0x0a);
    const header = JSON.parse(entry.subarray(0, nl).toString('utf8'));
    expect(header.item.key).toBe('order:shop:5000007');
    expect(entry.subarray(nl + 1).toString('utf8')).not.toContain('10007');
    const legacy = JSON.stringify({ ...header, sealed: entry.subarray(nl + 1).toString('base64') });
    expect(current.length).toBeLessThan(Buffer.byteLength(legacy));
    await t.hub.redis.lset(key, 0, legacy);
    t.startWorkers();
    await eventually(() => crm.deals.size === 2, 20_000);
    expect(crm.deals.get('10007')?.amount).toBe(order(7).total_price);
    expect(crm.deals.get('10008')?.amount).toBe(order(8).total_price);
    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 2, 10_000);
    expect([...crm.writes.values()]).toEqual([1, 1]);
    expect(await t.hub.redis.llen(key)).toBe(0);
  });

  it('a coalesced batch keeps its records as copies of their entries, made inside Redis; one that does not open at push time is dead-lettered alone', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 200 }));
    const pipeline = t.hub.config.pipelines.get('orders')!;
    for (const n of [1, 2, 3]) await ingestRecords(t.hub, pipeline, [order(n)], { deliveryBase: `wh_shop_${n}_orders`, deadLetterBase: `wh_shop_${n}_orders`, coalesce: true });
    const listed = await t.hub.redis.lrangeBuffer(t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order'), 0, -1);
    await new Promise((r) => setTimeout(r, 300));
    await processFlush(t.hub, { id: 'flush-test', data: { pipeline: 'orders', target: 'crm', entity: 'order' } } as Job<FlushJobData>);
    const [job] = (await t.hub.pushQueue('crm').getJobs(['wait'])) as Job<PushJobData>[];
    expect(job.data).toMatchObject({ recordsEach: true });
    expect(job.data.items.map((i) => i.key)).toEqual(['order:shop:5000001', 'order:shop:5000002', 'order:shop:5000003']);
    const recordsKey = t.hub.store.k('pushrec', job.data.recordsKey!);
    // The batch's records are the entries as ingest appended them, byte for byte.
    expect(await t.hub.redis.lrangeBuffer(recordsKey, 0, -1)).toEqual(listed);
    // The second one's sealed bytes damaged: it cannot open.
    const broken = Buffer.from(listed[1]);
    broken[broken.length - 1] ^= 0xff;
    await t.hub.redis.lset(recordsKey, 1, broken);
    t.startWorkers();
    await eventually(async () => { const s = await t!.hub.store.pipelineStats('orders'); return s.pushed + s.dead === 3; }, 20_000);
    expect([...crm.deals.keys()].sort()).toEqual(['10001', '10003']);
    const { total, items } = await t.hub.store.listDeadLetters({ pipeline: 'orders' });
    expect(total).toBe(1);
    expect(items[0]).toMatchObject({ key: 'order:shop:5000002', error: { code: 'decrypt_failed' } });
    expect(items[0].source).not.toBe('');
  });

  it('an entry that does not open while it waits in its list goes into the batch as it is and is dead-lettered alone at push time', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 200 }));
    const pipeline = t.hub.config.pipelines.get('orders')!;
    for (const n of [1, 2, 3]) await ingestRecords(t.hub, pipeline, [order(n)], { deliveryBase: `wh_shop_${n}_orders`, deadLetterBase: `wh_shop_${n}_orders`, coalesce: true });
    const list = t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order');
    const broken = Buffer.from((await t.hub.redis.lindexBuffer(list, 1))!);
    broken[broken.length - 1] ^= 0xff;
    await t.hub.redis.lset(list, 1, broken);
    t.startWorkers();
    await eventually(async () => { const s = await t!.hub.store.pipelineStats('orders'); return s.pushed + s.dead === 3; }, 20_000);
    const stats = await t.hub.store.pipelineStats('orders');
    expect([stats.pushed, stats.dead]).toEqual([2, 1]);
    expect([...crm.deals.keys()].sort()).toEqual(['10001', '10003']);
    expect(crm.calls.map((c) => c.inputs)).toEqual([2]);
    const { total, items } = await t.hub.store.listDeadLetters({ pipeline: 'orders' });
    expect(total).toBe(1);
    expect(items[0]).toMatchObject({ key: 'order:shop:5000002', error: { code: 'decrypt_failed' } });
    expect(items[0].source).not.toBe('');
    await eventually(async () => (await t!.hub.redis.keys(t!.hub.store.k('srcpage', '*'))).length === 0, 10_000);
  });

  it('a full flush that finds another flusher at the list ends at once; a flusher that lets go of records left asks for their flush', async () => {
    hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 100 }));
    const pipeline = t.hub.config.pipelines.get('orders')!;
    for (const n of [1, 2, 3]) await ingestRecords(t.hub, pipeline, [order(n)], { deliveryBase: `wh_shop_${n}_orders`, deadLetterBase: `wh_shop_${n}_orders`, coalesce: true });
    const list = t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order');
    expect(await t.hub.store.coalesce.lockCoalesce(list, 'another-flusher', 10_000)).toBe(true);
    const data = { pipeline: 'orders', target: 'crm', entity: 'order' } as const;
    // Not delayed (a delayed job would throw DelayedError here, having no token).
    expect(await processFlush(t.hub, { id: 'full-1', data: { ...data, full: true } } as Job<FlushJobData>)).toEqual({ batches: 0, records: 0 });
    expect(await t.hub.redis.llen(list)).toBe(3);
    await t.hub.store.coalesce.unlockCoalesce(list, 'another-flusher');
    await new Promise((r) => setTimeout(r, 150));
    expect(await processFlush(t.hub, { id: 'window-1', data } as Job<FlushJobData>)).toEqual({ batches: 1, records: 3 });
    expect(await t.hub.redis.llen(list)).toBe(0);
    // A flusher that lets go of a list with records left asks for a flush of them at once: the
    // flushes that found the list held come back only once its lock would have lapsed.
    await ingestRecords(t.hub, pipeline, [order(4)], { deliveryBase: 'wh_shop_4_orders', deadLetterBase: 'wh_shop_4_orders', coalesce: true });
    const asked = async () => ((await t!.hub.flushQueue.getJobs(['wait', 'delayed'])) as Job<FlushJobData>[]).filter((j) => String(j.id).includes('_after_'));
    expect(await asked()).toEqual([]);
    expect(await processFlush(t.hub, { id: 'full-2', data: { ...data, full: true } } as Job<FlushJobData>)).toEqual({ batches: 0, records: 0 });
    const [after] = await asked();
    expect(after.data).toEqual(data);
    expect(after.opts.delay ?? 0).toBe(0);
  });

  it('a light trickle (one webhook every 2 s): each order is pushed alone, before the next webhook arrives', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 250 }));
    t.startWorkers();
    const app = createApp(t.hub);
    for (let n = 1; n <= 3; n++) {
      const sent = Date.now();
      expect((await app.request('/webhooks/shop', delivery(order(n), `wh-trickle-${n}`))).status).toBe(200);
      await eventually(() => crm.deals.has(String(10_000 + n)), 10_000, 10);
      // Before the next webhook of the trickle would arrive.
      expect(crm.calls.at(-1)!.at - sent).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, Math.max(0, 2000 - (Date.now() - sent))));
    }
    expect(crm.calls.map((c) => c.inputs)).toEqual([1, 1, 1]);
  });

  it('with jobs.pushLingerMs: 0 each webhook event is pushed alone, as before', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 0 }));
    t.startWorkers();
    const app = createApp(t.hub);
    await Promise.all([1, 2, 3].map((n) => app.request('/webhooks/shop', delivery(order(n), `wh-off-${n}`))));
    await eventually(() => crm.deals.size === 3, 20_000);
    expect(crm.calls.map((c) => c.inputs)).toEqual([1, 1, 1]);
    expect(await t.hub.redis.exists(t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order'))).toBe(0);
  });
});
