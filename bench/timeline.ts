/**
 * The record timeline's own cost (src/timeline/), apart from the pipeline's noise: `orders`
 * orders in batches of 250, each batch an ingest call's steps (received from one page, mapped,
 * validated, a status change, queued), made by IngestSteps as ingest.ts makes them, and a push
 * job's (pushed, with the CRM's id), as push.ts makes them. (Orders are found by email through
 * the person index, which the data path writes for erasure whether the timeline is on or not.)
 * - worker side: CPU per order to build, seal and queue both sheets on a transaction;
 * - Redis side: the same sheets committed, each on a MULTI of its own, against a redis-server of
 *   its own: Redis CPU, commands (those a script runs included) and memory per order.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChainableCommander } from 'ioredis';
import { Redis } from 'ioredis';
import type { Pipeline } from '../src/config/load.js';
import { createKeyring, generateKeySpec } from '../src/core/crypto.js';
import type { Hub } from '../src/jobs/hub.js';
import type { OrderEvent } from '../src/notify/types.js';
import { startRedisServer } from '../src/runtime/redis-server.js';
import { IngestSteps } from '../src/timeline/ingest-steps.js';
import { TimelineStore } from '../src/timeline/store.js';
import { fmt, type Row } from './util.js';

const BATCH = 250;
const PIPELINE = { name: 'orders' } as Pipeline;

/** What an ingest call has of its orders by the time it writes their steps. */
interface Order { key: string; record: Record<string, unknown>; event: OrderEvent }

function orders(n: number): Order[] {
  return Array.from({ length: n }, (_, i) => {
    const key = `order:shop:${5_000_000 + i}`;
    return { key, record: { externalId: String(5_000_000 + i) }, event: { order: { key, orderNumber: String(1000 + i), status: 'paid', currency: 'EUR', total: '10.00' } } as OrderEvent };
  });
}

function writeBatch(hub: Hub, b: number, all: Order[], ingest: ChainableCommander, push: ChainableCommander): void {
  const batch = all.slice(b * BATCH, (b + 1) * BATCH);
  const steps = new IngestSteps(hub, PIPELINE, { runId: 'r1', seq: b }, batch.length);
  for (let i = 0; i < batch.length; i++) {
    steps.mapped(i);
    steps.validated(i);
  }
  batch.forEach((o, i) => steps.keyed(i, o.key));
  steps.statusChanges(batch.map((o) => o.event));
  steps.queued(batch.map((o) => o.key), ['crm'], false);
  steps.write(ingest);
  const pushed = hub.timeline.sheet('orders');
  for (const o of batch) pushed.pushed(o.key, 'crm', String(9_000_000 + Number(o.record.externalId)));
  pushed.write(push);
}

async function redisFigures(redis: Redis): Promise<{ cpuS: number; calls: number; memory: number }> {
  const text = await redis.info('all');
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  let calls = 0;
  for (const m of text.matchAll(/cmdstat_[^:]+:calls=(\d+)/g)) calls += Number(m[1]);
  return { cpuS: num(/used_cpu_user:([\d.]+)/) + num(/used_cpu_sys:([\d.]+)/), calls, memory: num(/used_memory:(\d+)/) };
}

export async function timelineBench(count = 100_000): Promise<Row[]> {
  const keyring = createKeyring(generateKeySpec('bench'));
  const all = orders(count);
  const batches = Math.ceil(count / BATCH);
  const settings = { enabled: true, retentionDays: 30, maxEntries: 200 };
  // What IngestSteps reads of the hub.
  const hubOf = (timeline: TimelineStore) => ({ timeline }) as unknown as Hub;

  // Worker side: a transaction that is never sent (ioredis only queues the command).
  const offline = new Redis({ lazyConnect: true, enableOfflineQueue: true });
  const hub = hubOf(new TimelineStore(offline, (...p) => `bench:${p.join(':')}`, keyring, settings));
  for (let b = 0; b < 20; b++) writeBatch(hub, b, all, offline.multi(), offline.multi());
  const c0 = process.cpuUsage();
  for (let b = 0; b < batches; b++) writeBatch(hub, b, all, offline.multi(), offline.multi());
  const c = process.cpuUsage(c0);
  offline.disconnect();
  const workerUs = (c.user + c.system) / count;

  const server = await startRedisServer({ dir: mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-tl-')) });
  const redis = new Redis(server.url);
  try {
    const live = hubOf(new TimelineStore(redis, (...p) => `bench:${p.join(':')}`, keyring, settings));
    await redis.ping();
    const before = await redisFigures(redis);
    for (let b = 0; b < batches; b++) {
      const ingest = redis.multi();
      const push = redis.multi();
      writeBatch(live, b, all, ingest, push);
      await ingest.exec();
      await push.exec();
    }
    const after = await redisFigures(redis);
    const measure = `${fmt(count)} orders, ${BATCH} a batch, an ingest and a push sheet each`;
    return [
      { benchmark: 'timeline', measure: `worker CPU µs per order to build, seal and queue its steps (${measure})`, value: fmt(workerUs, 2), baseline: '', ratio: '' },
      { benchmark: 'timeline', measure: 'Redis CPU µs, commands and memory bytes per order (the same, committed)', value: `${fmt(((after.cpuS - before.cpuS) * 1e6) / count, 1)}; ${fmt((after.calls - before.calls - 1) / count, 2)}; ${fmt((after.memory - before.memory) / count)}`, baseline: '', ratio: '' },
    ];
  } finally {
    redis.disconnect();
    await server.stop();
  }
}
