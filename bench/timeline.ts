/**
 * The record timeline's own cost (src/timeline/), apart from the pipeline's noise: `orders`
 * orders in batches of 250, each batch an ingest sheet (received from one page, mapped,
 * validated, a status change, queued; the customer email's blind index) and a push sheet (pushed,
 * with the CRM's id), as ingest.ts and push.ts write them.
 * - worker side: CPU per order to build, seal and queue both sheets on a transaction (the blind
 *   index itself not counted: ingest computes it once per record for other uses too);
 * - Redis side: the same sheets committed, each on a MULTI of its own, against a redis-server of
 *   its own: Redis CPU, commands (those a script runs included) and memory per order.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChainableCommander } from 'ioredis';
import { Redis } from 'ioredis';
import { createKeyring, generateKeySpec } from '../src/core/crypto.js';
import { startRedisServer } from '../src/runtime/redis-server.js';
import type { TimelineStep } from '../src/timeline/steps.js';
import { TimelineStore } from '../src/timeline/store.js';
import { fmt, type Row } from './util.js';

const BATCH = 250;
const MAPPED: TimelineStep = { step: 'mapped' };
const VALIDATED: TimelineStep = { step: 'validated' };
const STATUS: TimelineStep = { step: 'status', from: 'pending', to: 'paid' };
const QUEUED: TimelineStep = { step: 'queued', targets: ['crm'] };

function writeBatch(store: TimelineStore, b: number, emails: string[], ingest: ChainableCommander, push: ChainableCommander): void {
  const sheet = store.sheet('orders');
  const received: TimelineStep = { step: 'received', via: 'pull', run: 'r1', page: b };
  for (let i = 0; i < BATCH; i++) {
    const key = `order:shop:${5_000_000 + b * BATCH + i}`;
    sheet.add(key, received);
    sheet.add(key, MAPPED);
    sheet.add(key, VALIDATED);
    sheet.indexEmail(key, emails[(b * BATCH + i) % emails.length]);
    sheet.add(key, STATUS);
    sheet.add(key, QUEUED);
  }
  sheet.write(ingest);
  const pushed = store.sheet('orders');
  for (let i = 0; i < BATCH; i++) pushed.pushed(`order:shop:${5_000_000 + b * BATCH + i}`, 'crm', String(9_000_000 + b * BATCH + i));
  pushed.write(push);
}

async function redisFigures(redis: Redis): Promise<{ cpuS: number; calls: number; memory: number }> {
  const text = await redis.info('all');
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  let calls = 0;
  for (const m of text.matchAll(/cmdstat_[^:]+:calls=(\d+)/g)) calls += Number(m[1]);
  return { cpuS: num(/used_cpu_user:([\d.]+)/) + num(/used_cpu_sys:([\d.]+)/), calls, memory: num(/used_memory:(\d+)/) };
}

export async function timelineBench(orders = 100_000): Promise<Row[]> {
  const keyring = createKeyring(generateKeySpec('bench'));
  const emails = Array.from({ length: orders }, (_, i) => keyring.blindIndex(`buyer${i}@example.com`));
  const batches = Math.ceil(orders / BATCH);
  const settings = { enabled: true, retentionDays: 30, maxEntries: 200 };

  // Worker side: a transaction that is never sent (ioredis only queues the command).
  const offline = new Redis({ lazyConnect: true, enableOfflineQueue: true });
  const store = new TimelineStore(offline, (...p) => `bench:${p.join(':')}`, keyring, settings);
  for (let b = 0; b < 20; b++) writeBatch(store, b, emails, offline.multi(), offline.multi());
  const c0 = process.cpuUsage();
  for (let b = 0; b < batches; b++) writeBatch(store, b, emails, offline.multi(), offline.multi());
  const c = process.cpuUsage(c0);
  offline.disconnect();
  const workerUs = (c.user + c.system) / (batches * BATCH);

  const server = await startRedisServer({ dir: mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-tl-')) });
  const redis = new Redis(server.url);
  try {
    const live = new TimelineStore(redis, (...p) => `bench:${p.join(':')}`, keyring, settings);
    await redis.ping();
    const before = await redisFigures(redis);
    for (let b = 0; b < batches; b++) {
      const ingest = redis.multi();
      const push = redis.multi();
      writeBatch(live, b, emails, ingest, push);
      await ingest.exec();
      await push.exec();
    }
    const after = await redisFigures(redis);
    const n = batches * BATCH;
    const measure = `${fmt(n)} orders, ${BATCH} a batch, an ingest and a push sheet each`;
    return [
      { benchmark: 'timeline', measure: `worker CPU µs per order to build, seal and queue its steps (${measure})`, value: fmt(workerUs, 2), baseline: '', ratio: '' },
      { benchmark: 'timeline', measure: 'Redis CPU µs, commands and memory bytes per order (the same, committed)', value: `${fmt(((after.cpuS - before.cpuS) * 1e6) / n, 1)}; ${fmt((after.calls - before.calls - 1) / n, 2)}; ${fmt((after.memory - before.memory) / n)}`, baseline: '', ratio: '' },
    ];
  } finally {
    redis.disconnect();
    await server.stop();
  }
}
