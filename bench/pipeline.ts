/**
 * Pipeline throughput: N orders in the Shopify sandbox synced to the HubSpot sandbox by one
 * `synchub worker` process. Records/s end to end, the worker's peak RSS, the sandboxes' CPU
 * share; baseline: the same pages fetched and posted with no processing. Then the time per
 * stage, measured in-process over the same records.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { canonicalProblems } from '../src/core/canonical/validate.js';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { decryptRecord, encryptRecord, generateKeySpec, sealJson } from '../src/core/crypto.js';
import { createLogger } from '../src/core/logger.js';
import { Hub } from '../src/jobs/hub.js';
import { startRun } from '../src/jobs/pull.js';
import { listen } from '../src/sandbox/demo.js';
import { HubspotSandbox } from '../src/sandbox/hubspot.js';
import { ShopifySandbox } from '../src/sandbox/shopify.js';
import { fmt, ratio, type Row } from './util.js';

const procStat = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = 100; // USER_HZ
  return { peakRssMb: Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024, cpuMs: ((Number(stat[11]) + Number(stat[12])) / ticks) * 1000 };
};

async function baseline(shopUrl: string, crmUrl: string, n: number): Promise<number> {
  const t0 = performance.now();
  let next: string | undefined = `${shopUrl}/admin/api/2025-01/orders.json?limit=250&status=any`;
  let seen = 0;
  while (next) {
    const res: Response = await fetch(next, { headers: { 'x-shopify-access-token': 'x' } });
    const { orders } = (await res.json()) as { orders: { order_number: number; total_price: string }[] };
    const link = res.headers.get('link') ?? '';
    next = /<([^>]+)>;\s*rel="next"/.exec(link)?.[1];
    for (let i = 0; i < orders.length; i += 100) {
      const inputs = orders.slice(i, i + 100).map((o) => ({ id: String(o.order_number), idProperty: 'synchub_order_number', properties: { amount: o.total_price, synchub_order_number: String(o.order_number) } }));
      await fetch(`${crmUrl}/crm/v3/objects/deals/batch/upsert`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: JSON.stringify({ inputs }) });
    }
    seen += orders.length;
  }
  if (seen !== n) throw new Error(`baseline read ${seen} of ${n}`);
  return performance.now() - t0;
}

export async function pipelineRun(redisUrl: string, n: number, nodeOptions = ''): Promise<{ rate: number; baseRate: number; peakRssMb: number; sandboxShare: number; config: string }> {
  const shop = new ShopifySandbox({ customers: 500, orders: n });
  const crm = new HubspotSandbox();
  const s = await listen(shop.app());
  const h = await listen(crm.app());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-'));
  const config = path.join(dir, 'hub.yaml');
  writeFileSync(config, `
redis: { url: "${redisUrl}", prefix: "bench-${n}-${Date.now()}" }
encryption: { keys: "\${SYNCHUB_KEYS}" }
jobs: { pushConcurrency: 8 }
connections:
  shop: { connector: shopify, baseUrl: "${s.url}", credentials: { accessToken: x }, leakRate: 1000 }
  crm: { connector: hubspot, baseUrl: "${h.url}", credentials: { accessToken: x }, http: { rateLimit: { max: 100000, perMs: 1000 } } }
pipelines:
  orders: { source: { connection: shop, entity: order }, targets: [ { connection: crm, entity: order } ], batchSize: 250 }
`);
  const env = { ...process.env, SYNCHUB_KEYS: generateKeySpec('bench'), LOG_LEVEL: 'error', NODE_OPTIONS: [process.env.NODE_OPTIONS, nodeOptions].filter(Boolean).join(' ') };
  // The baseline writes to its own CRM sandbox, so the hub's run starts from an empty one.
  const baseCrm = await listen(new HubspotSandbox().app());
  const baseMs = await baseline(s.url, baseCrm.url, n);
  baseCrm.server.close();
  const worker = spawn(process.execPath, [path.resolve('bin/synchub.js'), 'worker', '--config', config], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const hub = await Hub.open(loadConfig(config, { env }), createLogger({ level: 'silent' }), redisUrl);
  await new Promise((r) => setTimeout(r, 1500));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { runId } = await startRun(hub, 'orders', true);
  for (;;) {
    const run = await hub.store.getRun(runId);
    if (run?.finishedAt) {
      if (run.pushed !== n) throw new Error(`run pushed ${run.pushed} of ${n} (dead ${run.dead})`);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const ms = performance.now() - t0;
  const mine = process.cpuUsage(cpu0);
  const w = procStat(worker.pid!);
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  await hub.close();
  s.server.close();
  h.server.close();
  const sandboxCpu = (mine.user + mine.system) / 1000;
  return { rate: (n / ms) * 1000, baseRate: (n / baseMs) * 1000, peakRssMb: w.peakRssMb, sandboxShare: sandboxCpu / (sandboxCpu + w.cpuMs), config };
}

/** Time per stage over the same records, in one process; `queue` is the hand-on alone (sources kept in a hash, push jobs through BullMQ). */
export async function stageSplit(configFile: string, redisUrl: string, n: number): Promise<Record<string, number>> {
  const shop = new ShopifySandbox({ customers: 500, orders: n });
  const crm = new HubspotSandbox();
  const s = await listen(shop.app());
  const h = await listen(crm.app());
  const raw = readFileSync(configFile, 'utf8').replace(/baseUrl: "[^"]+", credentials: \{ accessToken: x \}, leakRate/, `baseUrl: "${s.url}", credentials: { accessToken: x }, leakRate`).replace(/crm: \{ connector: hubspot, baseUrl: "[^"]+"/, `crm: { connector: hubspot, baseUrl: "${h.url}"`);
  const file = path.join(path.dirname(configFile), 'stages.yaml');
  writeFileSync(file, raw);
  const env = { ...process.env, SYNCHUB_KEYS: generateKeySpec('bench') };
  const config = loadConfig(file, { env });
  const hub = await Hub.open(config, createLogger({ level: 'silent' }), redisUrl);
  const p = config.pipelines.get('orders')!;
  const t = { pull: 0, 'map in': 0, validate: 0, encrypt: 0, queue: 0, decrypt: 0, 'map out': 0, push: 0 };
  // The hand-on between ingest and push: the same jobs (100 sealed records each) added to a BullMQ
  // queue and read back as a push worker would take them, the sealed sources kept beside them.
  const queue = new Queue(`bench-stages-${Date.now()}`, { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }) });
  const clock = async <T>(stage: keyof typeof t, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const v = await fn();
    t[stage] += performance.now() - t0;
    return v;
  };
  let cursor: unknown = null;
  for (;;) {
    const page = await clock('pull', () => hub.client('shop').pull('order', { cursor, pageSize: 250 }));
    const canon: Record<string, unknown>[] = [];
    for (const r of page.records) canon.push(await clock('map in', () => p.source.mapIn.evaluate(r)) as Record<string, unknown>);
    await clock('validate', () => canon.forEach((c) => canonicalProblems('order', c)));
    const sealed = await clock('encrypt', () => canon.map((c, i) => ({ key: `k${i}`, rec: encryptRecord(config.keyring, 'order', c), src: sealJson(config.keyring, page.records[i], 'source') })));
    const taken = await clock('queue', async () => {
      // As ingest hands on: sources into one hash per page, the records into push jobs of 100.
      const srcKey = `bench-stages-src-${Date.now()}`;
      await hub.redis.multi().hset(srcKey, Object.fromEntries(sealed.map((r) => [r.key, r.src]))).expire(srcKey, 60).exec();
      const jobs = [];
      for (let i = 0; i < sealed.length; i += 100) jobs.push({ name: 'push', data: { srcKey, items: sealed.slice(i, i + 100).map(({ key, rec }) => ({ key, rec, srcField: key })) } });
      const added = await queue.addBulk(jobs);
      const back = await Promise.all(added.map((j) => Job.fromId(queue, j.id!)));
      await Promise.all(added.map((j) => j.remove()));
      return back.flatMap((j) => (j!.data as { items: { key: string; rec: Record<string, unknown> }[] }).items);
    });
    const opened = await clock('decrypt', () => taken.map((c) => decryptRecord(config.keyring, 'order', c.rec)));
    const payloads: Record<string, unknown>[] = [];
    for (const c of opened) payloads.push(await clock('map out', () => p.targets[0].mapOut.evaluate(c)) as Record<string, unknown>);
    for (let i = 0; i < payloads.length; i += 100) {
      await clock('push', () => hub.client('crm').push('order', payloads.slice(i, i + 100).map((payload, j) => ({ key: `k${i + j}`, payload }))));
    }
    cursor = page.cursor;
    if (page.done) break;
  }
  await queue.obliterate({ force: true });
  await queue.close();
  await hub.close();
  s.server.close();
  h.server.close();
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, (v / n) * 1000]));
}

const CAPPED_HEAP_MB = 128;

export async function pipelineBench(redisUrl: string, sizes = [10_000, 100_000]): Promise<{ rows: Row[]; stages: Record<string, number> }> {
  const rows: Row[] = [];
  let config = '';
  for (const n of sizes) {
    const r = await pipelineRun(redisUrl, n);
    config = r.config;
    rows.push(
      { benchmark: 'pipeline', measure: `records/s end to end, ${fmt(n)} orders, one worker`, value: fmt(r.rate), baseline: `${fmt(r.baseRate)} (pages fetched and posted, no processing)`, ratio: ratio(r.rate, r.baseRate), target: '≥ 5,000/s', met: r.rate >= 5000 ? 'yes' : 'no' },
      { benchmark: 'pipeline', measure: `worker peak RSS, ${fmt(n)} orders (MB)`, value: fmt(r.peakRssMb), baseline: '', ratio: '', target: '< 300 MB', met: r.peakRssMb < 300 ? 'yes' : 'no' },
      { benchmark: 'pipeline', measure: `sandboxes' share of CPU, ${fmt(n)} orders`, value: `${(r.sandboxShare * 100).toFixed(0)}%`, baseline: '', ratio: '' },
    );
  }
  // The same run with the old-generation cap README's production layout suggests for worker
  // processes: V8 otherwise lets the heap grow well past the live data before it collects.
  const n = Math.max(...sizes);
  const capped = await pipelineRun(redisUrl, n, `--max-old-space-size=${CAPPED_HEAP_MB}`);
  rows.push(
    { benchmark: 'pipeline', measure: `records/s end to end, ${fmt(n)} orders, worker with --max-old-space-size=${CAPPED_HEAP_MB}`, value: fmt(capped.rate), baseline: `${fmt(capped.baseRate)} (pages fetched and posted, no processing)`, ratio: ratio(capped.rate, capped.baseRate), target: '≥ 5,000/s', met: capped.rate >= 5000 ? 'yes' : 'no' },
    { benchmark: 'pipeline', measure: `worker peak RSS, ${fmt(n)} orders, --max-old-space-size=${CAPPED_HEAP_MB} (MB)`, value: fmt(capped.peakRssMb), baseline: '', ratio: '', target: '< 300 MB', met: capped.peakRssMb < 300 ? 'yes' : 'no' },
  );
  return { rows, stages: await stageSplit(config, redisUrl, Math.min(...sizes)) };
}
