import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedisServer, type LocalRedis } from '../../src/runtime/redis-server.js';
import { createApp, startServer, type RunningServer } from '../../src/server.js';
import { eventually, openTestHub, queuedWebhookEvents, SHOP_WEBHOOK_SECRET, shopWebhookConfig, type TestHub } from '../helpers/hub.js';
import { fixture } from '../helpers/mock-apis.js';

const SECRET = SHOP_WEBHOOK_SECRET;
const config = shopWebhookConfig;

/** A signed orders/create delivery; the same webhook id is what Shopify sends again on a retry. */
function delivery(webhookId: string) {
  // Distinct events have distinct signed bodies (a byte-identical body is deduplicated on its hash).
  const body = JSON.stringify({ ...fixture('shopify/order.json'), id: 1000 + Number(webhookId.replace(/\D/g, '') || 0), note: `event ${webhookId}` });
  return {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': 'orders/create',
      'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(body).digest('base64'),
      'x-shopify-webhook-id': webhookId,
    },
  };
}

/**
 * Holds the ingest queue's addBulk calls (all, or only the first) before or after their
 * write, until `open()` lets them go on or `fail(err)` makes them throw; records the batch
 * sizes as they reach the hold.
 */
function holdEnqueues(queue: Queue, opts: { when?: 'before-write' | 'after-write'; firstOnly?: boolean } = {}) {
  const when = opts.when ?? 'before-write';
  let release!: (err?: Error) => void;
  const gate = new Promise<Error | undefined>((r) => { release = r; });
  const batches: number[] = [];
  const real = queue.addBulk.bind(queue);
  const hold = async (jobs: unknown[]) => {
    const held = !opts.firstOnly || batches.length === 0;
    batches.push(jobs.length);
    const err = held ? await gate : undefined;
    if (err) throw err;
  };
  queue.addBulk = async (jobs) => {
    if (when === 'before-write') await hold(jobs);
    const added = await real(jobs);
    if (when === 'after-write') await hold(jobs);
    return added;
  };
  return { batches, open: () => release(), fail: (err: Error) => release(err) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('webhook deliveries arriving together are stored in batches', () => {
  let t: TestHub | undefined;
  let server: RunningServer | undefined;
  let redis: LocalRedis | undefined;
  afterEach(async () => {
    await server?.close();
    await t?.close();
    await redis?.stop();
    server = t = redis = undefined;
  });

  it('stores each event once when a batch holds duplicates, answering every delivery after one write', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    expect((await app.request('/webhooks/shop', delivery('ev-0'))).status).toBe(200);
    const { batches, open } = holdEnqueues(t.hub.ingestQueue);
    open();

    const ids = Array.from({ length: 20 }, (_, i) => `ev-${i}`);
    // 35 deliveries of 20 events: ev-0 was stored before, ev-0..9 come twice more and ev-0..4 three times.
    const sent = [...ids, ...ids.slice(0, 10), ...ids.slice(0, 5)];
    const answers = await Promise.all(sent.map((id) => app.request('/webhooks/shop', delivery(id))));
    expect(answers.map((r) => r.status)).toEqual(sent.map(() => 200));
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as { stored: number; duplicates: number }[];

    // One batch, one enqueue of the 19 new events, as one ingest job.
    expect(batches).toEqual([1]);
    const storedBy = new Map<string, number>();
    bodies.forEach((b, i) => storedBy.set(sent[i], (storedBy.get(sent[i]) ?? 0) + b.stored));
    expect(storedBy.get('ev-0')).toBe(0);
    for (const id of ids.slice(1)) expect(storedBy.get(id)).toBe(1);
    expect(bodies.reduce((n, b) => n + b.duplicates, 0)).toBe(sent.length - 19);

    expect(await t.hub.ingestQueue.getJobCounts('wait')).toEqual({ wait: 2 });
    expect(await queuedWebhookEvents(t.hub.ingestQueue)).toEqual(new Map(ids.map((id) => [id, 1])));
    expect(await t.hub.metrics.readHash('webhooks')).toEqual({ 'shop|stored': String(1 + 19), 'shop|duplicate': String(sent.length - 19) });
  });

  it('over HTTP, answers no delivery before its batch is written, then all of them with each event stored once', async () => {
    t = await openTestHub(config());
    server = await startServer(t.hub, { port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${server.port}/webhooks/shop`;
    const q = t.hub.ingestQueue;
    const { batches, open } = holdEnqueues(q);

    const ids = Array.from({ length: 25 }, (_, i) => `http-${i}`);
    const sent = [...ids, ...ids.slice(0, 15)];
    let answered = 0;
    const missing: string[] = [];
    const requests = sent.map(async (id) => {
      const res = await fetch(url, delivery(id));
      answered++;
      // Checked the moment the answer arrives: the event must already be in the queue.
      if (res.status === 200 && !(await queuedWebhookEvents(q)).has(id)) missing.push(id);
      return res;
    });
    await eventually(() => batches.length > 0);
    await sleep(300);
    expect(answered).toBe(0);
    expect(await q.count()).toBe(0);

    open();
    const answers = await Promise.all(requests);
    expect(answers.map((r) => r.status)).toEqual(sent.map(() => 200));
    expect(missing).toEqual([]);
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as { stored: number }[];
    expect(bodies.reduce((n, b) => n + b.stored, 0)).toBe(ids.length);
    // The deliveries that came while the first batches were held were written together, a job per write.
    expect(batches.length).toBeLessThanOrEqual(3);
    expect(batches.every((n) => n === 1)).toBe(true);
    expect(await q.getJobCounts('wait')).toEqual({ wait: batches.length });
    expect(await queuedWebhookEvents(q)).toEqual(new Map(ids.map((id) => [id, 1])));

    // The body limit holds on this path too, with or without a Content-Length.
    const huge = JSON.stringify({ ...fixture('shopify/order.json'), note: 'x'.repeat(1024 * 1024) });
    expect((await fetch(url, { ...delivery('big'), body: huge })).status).toBe(413);
    const chunked = new ReadableStream({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('x'.repeat(64 * 1024)));
        c.close();
      },
    });
    expect((await fetch(url, { ...delivery('big2'), body: chunked, duplex: 'half' } as RequestInit)).status).toBe(413);
    expect(await queuedWebhookEvents(q)).toEqual(new Map(ids.map((id) => [id, 1])));
  });

  it('makes a delivery of an event that a batch still in flight is writing wait for that write and share its outcome', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const q = t.hub.ingestQueue;
    const send = (id: string, answered: Set<string>) => Promise.resolve(app.request('/webhooks/shop', delivery(id))).then(async (r) => {
      answered.add(id);
      return { status: r.status, body: await r.json() };
    });

    for (const outcome of ['written', 'failed'] as const) {
      const { batches, open, fail } = holdEnqueues(q, { firstOnly: true });
      const answered = new Set<string>();
      const first = [send(`${outcome}-1`, answered), send(`${outcome}-2`, answered)];
      await eventually(() => batches.length === 1);
      const again = new Set<string>();
      const second = [send(`${outcome}-1`, again), send(`${outcome}-3`, again)];
      // The second batch writes only the event the first one does not hold, and is not held itself.
      await eventually(() => again.has(`${outcome}-3`));
      expect(batches).toEqual([1, 1]);
      await sleep(100);
      expect(again.has(`${outcome}-1`)).toBe(false);
      expect(answered.size).toBe(0);

      if (outcome === 'written') {
        open();
        expect(await Promise.all(first)).toEqual([1, 2].map(() => ({ status: 200, body: { ok: true, stored: 1, duplicates: 0 } })));
        expect(await Promise.all(second)).toEqual([
          { status: 200, body: { ok: true, stored: 0, duplicates: 1 } },
          { status: 200, body: { ok: true, stored: 1, duplicates: 0 } },
        ]);
      } else {
        fail(new Error('Connection is closed.'));
        const answers = [...(await Promise.all(first)), (await second[0])];
        expect(answers.map((a) => [a.status, a.body.error.code])).toEqual([1, 2, 3].map(() => [503, 'store_unavailable']));
        expect((await second[1]).status).toBe(200);
      }
      q.addBulk = Object.getPrototypeOf(q).addBulk;
    }
    // written-1..3 and failed-3; the failed batch stored nothing and marked nothing.
    expect(await queuedWebhookEvents(q)).toEqual(new Map(['written-1', 'written-2', 'written-3', 'failed-3'].map((id) => [id, 1])));
    expect(await t.hub.store.webhookEvents.seenWebhookEvents([1, 2].map((n) => ({ connection: 'shop', id: `failed-${n}` })))).toEqual([false, false]);
  });

  for (const when of ['before-write', 'after-write'] as const) {
    it(`answers 503 to every delivery of a batch when Redis goes down ${when === 'before-write' ? 'before its events are written' : 'between its jobs and its dedupe marks'}, and none is lost when they come again`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-wh-batch-'));
      redis = await startRedisServer({ dir, persist: true });
      t = await openTestHub(config(redis.url), redis.url);
      const app = createApp(t.hub);
      const q = t.hub.ingestQueue;
      expect((await app.request('/webhooks/shop', delivery('kept'))).status).toBe(200);

      const { batches, open } = holdEnqueues(q, { when });
      const ids = ['down-1', 'down-2', 'down-3', 'down-4'];
      const sent = [...ids, 'down-1'];
      const requests = sent.map((id) => app.request('/webhooks/shop', delivery(id)));
      await eventually(() => batches.length > 0);
      await redis.stop();
      open();
      const answers = await Promise.all(requests);
      expect(answers.map((r) => r.status)).toEqual(sent.map(() => 503));
      for (const r of answers) expect(((await r.json()) as any).error.code).toBe('store_unavailable');

      redis = await startRedisServer({ port: redis.port, dir, persist: true });
      // The sender retries; the retry is stored (it was never marked as seen). After the jobs were
      // written, the event is then in two jobs: its claims let one of them ingest it (webhook-ingest-batch test).
      for (const id of ids) {
        const again = await eventually(async () => {
          const res = await app.request('/webhooks/shop', delivery(id));
          return res.status === 200 ? res : undefined;
        }, 15_000, 100);
        expect(((await again.json()) as any).duplicates).toBe(0);
      }
      const queued = await queuedWebhookEvents(q);
      expect(queued.get('kept')).toBe(1);
      for (const id of ids) expect(queued.get(id)).toBe(when === 'before-write' ? 1 : 2);
      // And now they are marked: one more delivery of each is a duplicate.
      const dup = await app.request('/webhooks/shop', delivery('down-2'));
      expect(await dup.json()).toEqual({ ok: true, stored: 0, duplicates: 1 });
    });
  }
});
