import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { openJson } from '../../src/core/crypto.js';
import { SOURCE_AAD } from '../../src/jobs/source-pages.js';
import { replayDeadLetter } from '../../src/jobs/replay.js';
import { webhookIngestBatcher } from '../../src/jobs/webhook-batch.js';
import { SNAPSHOT_AAD } from '../../src/jobs/payments.js';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, queuedWebhookEvents, type TestHub } from '../helpers/hub.js';
import { jobId } from '../../src/jobs/queues.js';
import { sealWebhookRecord } from '../../src/jobs/webhook-sealing.js';
import { hubspotDealsMock, loopbackOnly, numberedOrder, shopifyDelivery, webhookOrdersConfig } from '../helpers/webhook-crm.js';

/**
 * Webhook events of jobs running side by side in one process are ingested together
 * (src/jobs/webhook-batch.ts): one ingest call, one set of Redis round trips, for many events,
 * each event keeping its own deliveries, dead letter and source.
 */

const config = (jobs: Record<string, unknown> = {}) => webhookOrdersConfig(jobs);
const order = (n: number, extra: Record<string, unknown> = {}) => numberedOrder(n, { id: 7_000_000, number: 20_000 }, extra);
const delivery = shopifyDelivery;
const hubspotDeals = hubspotDealsMock;

/** Counts ingest calls: each looks up its records' canonical keys once. */
function countIngestCalls(t: TestHub) {
  const store = t.hub.store;
  const original = store.keysForExternalIds.bind(store);
  const counted = { calls: 0, records: 0 };
  store.keysForExternalIds = (connection, entity, ids) => {
    counted.calls++;
    counted.records += ids.length;
    return original(connection, entity, ids);
  };
  return counted;
}

describe('webhook events are ingested in micro-batches', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('300 webhook events at once are ingested in far fewer ingest calls; every deal once with its exact amount', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config());
    const ingests = countIngestCalls(t);
    t.startWorkers();
    const app = createApp(t.hub);
    const orders = Array.from({ length: 300 }, (_, i) => order(i + 1));
    const answers = await Promise.all(orders.map((o) => app.request('/webhooks/shop', delivery(o, `wh-${o.id}`))));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));

    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 300, 60_000);
    expect(crm.deals.size).toBe(300);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.amount).toBe(o.total_price);
    expect([...crm.writes.values()].every((n) => n === 1)).toBe(true);
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 300, skipped: 0, dead: 0 });
    // Each event ingested once, many to a call (jobs.ingestConcurrency 64 side by side).
    expect(ingests.records).toBe(300);
    expect(ingests.calls).toBeLessThanOrEqual(300 / 4);
    // Each event's source page went once its record was pushed.
    await eventually(async () => (await t!.hub.redis.keys(t!.hub.store.k('srcpage', '*'))).length === 0, 10_000);
  });

  it('a bad record among events ingested together is dead-lettered alone with its own source; a refused one too, and replays', async () => {
    const crm = hubspotDeals(new Set(['20013']));
    t = await openTestHub(config({ pushLingerMs: 500 }));
    const ingests = countIngestCalls(t);
    t.startWorkers();
    const app = createApp(t.hub);
    const orders = Array.from({ length: 40 }, (_, i) => order(i + 1));
    orders[6].currency = 'dollars'; // the mapping refuses the currency: order 20007 fails map_in
    await Promise.all(orders.map((o) => app.request('/webhooks/shop', delivery(o, `wh-${o.id}`))));

    await eventually(async () => {
      const s = await t!.hub.store.pipelineStats('orders');
      return s.pushed + s.dead === 40;
    }, 30_000);
    expect(ingests.calls).toBeLessThan(40);
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 38, dead: 2 });
    expect(crm.deals.size).toBe(38);
    const { items } = await t.hub.store.listDeadLetters({ pipeline: 'orders' });
    const byStep = Object.fromEntries(items.map((d) => [d.step, d]));
    expect(Object.keys(byStep).sort()).toEqual(['map_in', 'push']);
    // Each dead letter holds its own event's record, not the batch's.
    expect(openJson<{ id: number }>(t.hub.config.keyring, byStep.map_in.source, SOURCE_AAD).id).toBe(orders[6].id);
    expect(openJson<{ id: number }>(t.hub.config.keyring, byStep.push.source, SOURCE_AAD).id).toBe(orders[12].id);

    // HubSpot takes it now: the replay pushes it.
    nock.cleanAll();
    const crm2 = hubspotDeals();
    await replayDeadLetter(t.hub, byStep.push);
    await eventually(() => crm2.deals.has('20013'), 20_000);
    expect(crm2.deals.get('20013')?.amount).toBe(orders[12].total_price);
  });

  it('a shared ingest that fails after writing part of its work: each event is ingested again, nothing doubled', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config());
    const ingests = countIngestCalls(t);
    const store = t.hub.store;
    // The first ingest call of several events fails at its very end: its transaction ran, its records were appended to be pushed.
    const parkedAmong = store.orders.parkedAmong.bind(store.orders);
    let failed = 0;
    store.orders.parkedAmong = async (numbers) => {
      if (numbers.length > 1 && !failed++) throw new Error('connection lost');
      return parkedAmong(numbers);
    };
    t.startWorkers();
    const app = createApp(t.hub);
    const orders = Array.from({ length: 60 }, (_, i) => order(i + 1));
    await Promise.all(orders.map((o) => app.request('/webhooks/shop', delivery(o, `wh-${o.id}`))));

    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 60, 30_000);
    expect(failed).toBeGreaterThan(0);
    // Some events were ingested twice (once in the failed batch, once again)…
    expect(ingests.records).toBeGreaterThan(60);
    // …and each deal is written once, each event counted once.
    await new Promise((r) => setTimeout(r, 1000));
    expect(crm.deals.size).toBe(60);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.amount).toBe(o.total_price);
    expect([...crm.writes.values()].every((n) => n === 1)).toBe(true);
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 60, skipped: 0, dead: 0 });
    // Every ingest job done, each event in one of them.
    expect(await t.hub.ingestQueue.getJobCounts('wait', 'active', 'delayed', 'failed')).toEqual({ wait: 0, active: 0, delayed: 0, failed: 0 });
    expect(await queuedWebhookEvents(t.hub.ingestQueue, ['completed'])).toEqual(new Map(orders.map((o) => [`wh-${o.id}`, 1])));
    await eventually(async () => (await t!.hub.redis.keys(t!.hub.store.k('srcpage', '*'))).length === 0, 10_000);
  });

  it('an event taken up again while its record waits to be pushed is not appended twice, and is pushed once', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 300 }));
    const pipeline = t.hub.config.pipelines.get('orders')!;
    const batcher = webhookIngestBatcher(t.hub);
    // The same event ingested again (its job stalled after its ingest, or retried), with other events around it.
    await Promise.all([batcher.ingest(pipeline, order(1), 'wh_shop_e1_orders'), batcher.ingest(pipeline, order(2), 'wh_shop_e2_orders')]);
    await Promise.all([batcher.ingest(pipeline, order(1), 'wh_shop_e1_orders'), batcher.ingest(pipeline, order(3), 'wh_shop_e3_orders')]);
    expect(await t.hub.redis.llen(t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order'))).toBe(3);
    t.startWorkers();
    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 3, 20_000);
    expect(crm.calls.reduce((a, c) => a + c.inputs, 0)).toBe(3);
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 3, skipped: 0, dead: 0 });
    // Taken up again once pushed (its worker died before completing the job): nothing to push again.
    await batcher.ingest(pipeline, order(2), 'wh_shop_e2_orders');
    expect(await t.hub.redis.llen(t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order'))).toBe(0);
    await new Promise((r) => setTimeout(r, 800));
    expect(crm.calls.reduce((a, c) => a + c.inputs, 0)).toBe(3);
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 3, skipped: 0, dead: 0 });
  });

  it('two updates of one order ingested together, the newer first: the order kept for its payments is the newer', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 100 }));
    const pipeline = t.hub.config.pipelines.get('orders')!;
    const batcher = webhookIngestBatcher(t.hub);
    const at = Date.parse('2026-11-27T10:00:00Z');
    const newer = order(9, { total_price: '200.00', updated_at: new Date(at + 60_000).toISOString() });
    const older = order(9, { total_price: '100.00', updated_at: new Date(at).toISOString() });
    await Promise.all([batcher.ingest(pipeline, newer, 'wh_shop_u2_orders'), batcher.ingest(pipeline, older, 'wh_shop_u1_orders')]);
    const key = (await t.hub.store.keysForExternalIds('shop', 'order', [String(newer.id)]))[0]!;
    const snapshot = JSON.parse(t.hub.config.keyring.decryptBytes((await t.hub.store.orders.orderSnapshot(key))!, SNAPSHOT_AAD).toString('utf8'));
    expect(snapshot.total).toBe('200.00');
    t.startWorkers();
    await eventually(() => crm.deals.get('20009')?.amount === '200.00', 20_000);
  });

  it('an event that breaks ingest is retried alone, in a job of its own; the others of its batch go on', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config());
    const store = t.hub.store;
    const parkedAmong = store.orders.parkedAmong.bind(store.orders);
    let broken = true;
    store.orders.parkedAmong = async (numbers) => {
      if (broken && numbers.includes('20005')) throw new Error('this event breaks ingest');
      return parkedAmong(numbers);
    };
    t.startWorkers();
    const app = createApp(t.hub);
    const orders = Array.from({ length: 30 }, (_, i) => order(i + 1));
    await Promise.all(orders.map((o) => app.request('/webhooks/shop', delivery(o, `wh-${o.id}`))));

    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 30, 30_000);
    // Its record was handed on before the failure, so it is pushed; its own job waits for a retry.
    const alone = jobId('wh', 'shop', `wh-${orders[4].id}`, 'alone');
    const job = await eventually(async () => {
      const j = await t!.hub.ingestQueue.getJob(alone);
      return j && j.attemptsMade >= 1 ? j : undefined;
    });
    expect(job.data.events.map((e: { eventId: string }) => e.eventId)).toEqual([`wh-${orders[4].id}`]);
    expect(await job.isCompleted()).toBe(false);
    // The batch jobs are done: every event but the broken one was ingested in them.
    const pending = await t.hub.ingestQueue.getJobs(['wait', 'active', 'delayed', 'failed']);
    expect(pending.map((j) => j.id)).toEqual([alone]);
    broken = false;
    await eventually(async () => (await t!.hub.ingestQueue.getJob(alone))?.isCompleted(), 20_000);
    await new Promise((r) => setTimeout(r, 800));
    expect(crm.deals.size).toBe(30);
    expect([...crm.writes.values()].every((n) => n === 1)).toBe(true);
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 30, skipped: 0, dead: 0 });
  });

  it('an event held by two ingest jobs (stored twice at once) is ingested once; a job run again ingests nothing twice', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 100 }));
    const ingests = countIngestCalls(t);
    const event = (n: number) => ({ eventId: `dup-${n}`, topic: 'orders/create', entity: 'order' as const, receivedAt: new Date().toISOString(), ...sealWebhookRecord(t!.hub, 'shop', order(n)) });
    // Two processes stored dup-1 at the same moment: each queued it in its own batch.
    await t.hub.ingestQueue.addBulk([
      { name: 'webhooks', data: { connection: 'shop', events: [event(1), event(2)] } },
      { name: 'webhooks', data: { connection: 'shop', events: [event(1), event(3)] } },
    ]);
    t.startWorkers();
    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 3, 20_000);
    expect(await t.hub.ingestQueue.getJobCounts('completed')).toEqual({ completed: 2 });
    expect(ingests.records).toBe(3);

    // The first job delivered again (its worker died before completing it): its events are done already.
    await t.hub.ingestQueue.add('webhooks', { connection: 'shop', events: [event(1), event(2)] });
    await eventually(async () => (await t!.hub.ingestQueue.getJobCounts('completed')).completed === 3, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(ingests.records).toBe(3);
    expect(crm.deals.size).toBe(3);
    expect([...crm.writes.values()].every((n) => n === 1)).toBe(true);
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 3, skipped: 0, dead: 0 });
  });

  it('a one-event ingest job queued by an earlier version (before batches) is still ingested, once', async () => {
    const crm = hubspotDeals();
    t = await openTestHub(config({ pushLingerMs: 100 }));
    const data = { connection: 'shop', eventId: 'old-1', topic: 'orders/create', entity: 'order', receivedAt: new Date().toISOString(), ...sealWebhookRecord(t.hub, 'shop', order(41)) };
    await t.hub.ingestQueue.add('webhook', data, { jobId: jobId('wh', 'shop', 'old-1') });
    t.startWorkers();
    await eventually(() => crm.deals.get('20041')?.amount === order(41).total_price, 20_000);
    const job = await t.hub.ingestQueue.getJob(jobId('wh', 'shop', 'old-1'));
    await eventually(async () => (await job!.isCompleted()) || undefined);
    await eventually(async () => (await t!.hub.store.pipelineStats('orders')).pushed === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await t.hub.store.pipelineStats('orders')).toMatchObject({ pushed: 1, skipped: 0, dead: 0 });
    expect(crm.writes.get('20041')).toBe(1);
  });
});
