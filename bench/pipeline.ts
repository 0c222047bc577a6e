/**
 * Pipeline throughput: N orders in the Shopify sandbox synced to the HubSpot sandbox by one
 * `synchub worker` process, pulled over the GraphQL Admin API (`api: graphql`) and, beside
 * it, over REST. Records/s end to end, the worker's peak RSS, the sandboxes' CPU share;
 * baseline: the same pages fetched and posted with no processing. Then the time per stage,
 * measured in-process over the same records.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { canonicalProblems } from '../src/core/canonical/validate.js';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { generateKeySpec, openJsonBytes, sealJsonBytes } from '../src/core/crypto.js';
import { sealPulledPage } from '../src/jobs/source-pages.js';
import { pushRecordsAad, type PushItemData } from '../src/jobs/queues.js';
import { createLogger } from '../src/core/logger.js';
import { Hub } from '../src/jobs/hub.js';
import { startRun } from '../src/jobs/pull.js';
import { listen } from '../src/sandbox/demo.js';
import { HubspotSandbox } from '../src/sandbox/hubspot.js';
import { ShopifySandbox } from '../src/sandbox/shopify.js';
import { ORDERS_QUERY, ORDER_PAGE } from '../src/connectors/shopify/graphql-queries.js';
import { fmt, procStat, ratio, type Row } from './util.js';
import { asCluster, isClusterAddress, scanKeys, type RedisAddress } from '../src/state/redis-client.js';
import { stateKeyPrefix } from '../src/state/key-layout.js';
import { startRedisCluster } from '../src/runtime/redis-cluster.js';

export type ShopApi = 'graphql' | 'rest';
/**
 * The sandbox's GraphQL cost bucket in the benchmark: large enough never to throttle, so the
 * figures are the hub's. On a real shop paged GraphQL reads are bound by the plan's restore
 * rate (an order page of 12 costs about 500 points: ~25 orders/s on Plus at 1,000 points/s).
 */
const UNTHROTTLED = { maximumAvailable: 1e12, restoreRate: 1e12 };
const shopSandbox = (orders: number) => new ShopifySandbox({ customers: 500, orders, graphql: UNTHROTTLED });

/**
 * A worker's CPU per record keeps falling over its first tens of thousands of records (V8's
 * compiled code and heap limits settling): measured after 5,000 / 20,000 / 40,000 warm-up
 * orders, 269 / 224 / 218 µs a record. The measured run starts after 20,000.
 */
const WARMUP_ORDERS = 20_000;

/** A full run of the pipeline, until every record is pushed (anything else fails the benchmark). */
async function syncAll(hub: Hub, pipeline: string, n: number): Promise<void> {
  const { runId } = await startRun(hub, pipeline, true);
  for (;;) {
    const run = await hub.store.getRun(runId);
    if (run?.finishedAt) {
      if (run.pushed !== n) throw new Error(`${pipeline}: run pushed ${run.pushed} of ${n} (dead ${run.dead})`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CPU ms per thread of a process (name#tid), for BENCH_VERBOSE. */
function threadCpu(pid: number): Map<string, number> {
  const per = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    per.set(`${st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'))}#${tid}`, (Number(f[11]) + Number(f[12])) * 10);
  }
  return per;
}

/** Posts one page of deals to the CRM sandbox in upserts of 100, with no processing. */
async function postDeals(crmUrl: string, orders: { number: number; total: string }[]): Promise<void> {
  for (let i = 0; i < orders.length; i += 100) {
    const inputs = orders.slice(i, i + 100).map((o) => ({ id: String(o.number), idProperty: 'synchub_order_number', properties: { amount: o.total, synchub_order_number: String(o.number) } }));
    await fetch(`${crmUrl}/crm/v3/objects/deals/batch/upsert`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: JSON.stringify({ inputs }) });
  }
}

/** The GraphQL baseline: the connector's order pages (12 a page) fetched and posted with no processing. */
async function graphqlBaseline(shopUrl: string, crmUrl: string, n: number): Promise<number> {
  const t0 = performance.now();
  let after: string | null = null;
  let seen = 0;
  do {
    const res: Response = await fetch(`${shopUrl}/admin/api/2026-10/graphql.json`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-access-token': 'x' },
      body: JSON.stringify({ query: ORDERS_QUERY, variables: { first: ORDER_PAGE, after, query: null } }),
    });
    const body = (await res.json()) as { data: { orders: { nodes: { number: number; totalPriceSet: { shopMoney: { amount: string } } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } };
    const { nodes, pageInfo } = body.data.orders;
    await postDeals(crmUrl, nodes.map((o) => ({ number: o.number, total: o.totalPriceSet.shopMoney.amount })));
    seen += nodes.length;
    after = pageInfo.hasNextPage ? pageInfo.endCursor : null;
  } while (after);
  if (seen !== n) throw new Error(`graphql baseline read ${seen} of ${n}`);
  return performance.now() - t0;
}

async function baseline(shopUrl: string, crmUrl: string, n: number): Promise<number> {
  const t0 = performance.now();
  let next: string | undefined = `${shopUrl}/admin/api/2025-01/orders.json?limit=250&status=any`;
  let seen = 0;
  while (next) {
    const res: Response = await fetch(next, { headers: { 'x-shopify-access-token': 'x' } });
    const { orders } = (await res.json()) as { orders: { order_number: number; total_price: string }[] };
    const link = res.headers.get('link') ?? '';
    next = /<([^>]+)>;\s*rel="next"/.exec(link)?.[1];
    await postDeals(crmUrl, orders.map((o) => ({ number: o.order_number, total: o.total_price })));
    seen += orders.length;
  }
  if (seen !== n) throw new Error(`baseline read ${seen} of ${n}`);
  return performance.now() - t0;
}

/** How the worker runs: its threads (jobs.threads, with the concurrencies per thread), NODE_OPTIONS, and how many worker processes (default 1). */
export interface WorkerShape { threads: number; pullConcurrency: number; pushConcurrency: number; nodeOptions?: string; processes?: number }

/** used_memory of each primary (one Redis: its own), by address. */
async function redisUsedMemory(redis: Redis): Promise<Map<string, number>> {
  const nodes: Redis[] = asCluster(redis)?.nodes('master') ?? [redis];
  return new Map(await Promise.all(nodes.map(async (n) => [`${n.options.host}:${n.options.port}`, Number(/used_memory:(\d+)/.exec(await n.info('memory'))?.[1] ?? 0)] as const)));
}

export const ONE_THREAD: WorkerShape = { threads: 1, pullConcurrency: 2, pushConcurrency: 8 };
/** Two threads with the same concurrency in all as one: for a machine with a core to spare beside Redis. */
export const TWO_THREADS: WorkerShape = { threads: 2, pullConcurrency: 1, pushConcurrency: 4 };

export async function pipelineRun(redisUrl: RedisAddress, n: number, shape: WorkerShape = ONE_THREAD, api: ShopApi = 'graphql'): Promise<{ rate: number; baseRate: number; peakRssMb: number; sandboxShare: number; config: string; redisBytesPerOrder: number; largestPrimaryBytesPerOrder: number }> {
  const shop = shopSandbox(n);
  const crm = new HubspotSandbox();
  const s = await listen(shop.app());
  const h = await listen(crm.app());
  // The worker first syncs WARMUP_ORDERS other orders to another CRM sandbox, as a long-running
  // worker has long done; the measured run follows.
  const warmShop = await listen(shopSandbox(WARMUP_ORDERS).app());
  const warmCrm = await listen(new HubspotSandbox().app());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-'));
  const config = path.join(dir, 'hub.yaml');
  const prefix = `bench-${n}-${Date.now()}`;
  writeFileSync(config, `
redis: ${isClusterAddress(redisUrl) ? `{ cluster: [${redisUrl.cluster.map((u) => `"${u}"`).join(', ')}], prefix: "${prefix}" }` : `{ url: "${redisUrl}", prefix: "${prefix}" }`}
encryption: { keys: "\${SYNCHUB_KEYS}" }
jobs: { threads: ${shape.threads}, pullConcurrency: ${shape.pullConcurrency}, pushConcurrency: ${shape.pushConcurrency} }
connections:
  shop: { connector: shopify, baseUrl: "${s.url}", api: ${api}, credentials: { accessToken: x }, leakRate: 1000 }
  crm: { connector: hubspot, baseUrl: "${h.url}", credentials: { accessToken: x }, http: { rateLimit: { max: 100000, perMs: 1000 } } }
  warmshop: { connector: shopify, baseUrl: "${warmShop.url}", api: ${api}, credentials: { accessToken: x }, leakRate: 1000 }
  warmcrm: { connector: hubspot, baseUrl: "${warmCrm.url}", credentials: { accessToken: x }, http: { rateLimit: { max: 100000, perMs: 1000 } } }
pipelines:
  orders: { source: { connection: shop, entity: order }, targets: [ { connection: crm, entity: order } ], batchSize: 250 }
  warmup: { source: { connection: warmshop, entity: order }, targets: [ { connection: warmcrm, entity: order } ], batchSize: 250 }
`);
  const env = { ...process.env, SYNCHUB_KEYS: generateKeySpec('bench'), LOG_LEVEL: 'error', NODE_OPTIONS: [process.env.NODE_OPTIONS, shape.nodeOptions].filter(Boolean).join(' ') };
  // The baseline writes to its own CRM sandbox, so the hub's run starts from an empty one.
  const baseCrm = await listen(new HubspotSandbox().app());
  const baseMs = api === 'graphql' ? await graphqlBaseline(s.url, baseCrm.url, n) : await baseline(s.url, baseCrm.url, n);
  baseCrm.server.close();
  // BENCH_CPU_PROF=DIR writes the worker's CPU profile there (node refuses --cpu-prof in NODE_OPTIONS).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
  const workers = Array.from({ length: shape.processes ?? 1 }, () => spawn(process.execPath, [...prof, path.resolve('bin/synchub.js'), 'worker', '--config', config], { env, stdio: ['ignore', 'inherit', 'inherit'] }));
  const worker = workers[0];
  const hub = await Hub.open(loadConfig(config, { env }), createLogger({ level: 'silent' }), redisUrl);
  await new Promise((r) => setTimeout(r, 1500));
  await syncAll(hub, 'warmup', WARMUP_ORDERS);
  const idle = procStat(worker.pid!).cpuMs;
  const idleThreads = threadCpu(worker.pid!);
  const memory0 = await redisUsedMemory(hub.redis);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await syncAll(hub, 'orders', n);
  const ms = performance.now() - t0;
  // Right after the run: links, fingerprints, snapshots and timelines, plus the completed jobs and
  // their batches BullMQ keeps for their hour.
  const memory1 = await redisUsedMemory(hub.redis);
  const grown = [...memory1].map(([node, used]) => (used - (memory0.get(node) ?? 0)) / n);
  const redisBytesPerOrder = grown.reduce((a, b) => a + b, 0);
  const largestPrimaryBytesPerOrder = Math.max(...grown);
  const mine = process.cpuUsage(cpu0);
  const w = procStat(worker.pid!);
  if (process.env.BENCH_VERBOSE) {
    const per = threadCpu(worker.pid!);
    for (const [k, v] of idleThreads) per.set(k, (per.get(k) ?? 0) - v);
    console.error('[bench] worker threads cpu ms', JSON.stringify(Object.fromEntries([...per].filter(([, v]) => v > 20))));
  }
  for (const wk of workers) wk.kill('SIGTERM');
  await Promise.all(workers.map((wk) => new Promise((r) => wk.once('exit', r))));
  // Each run starts from a Redis without the previous runs' hundreds of thousands of keys
  // (queues under `<prefix>:q:`, state under `{<prefix>}:` on a cluster).
  for (const pattern of new Set([`${prefix}:*`, `${stateKeyPrefix(prefix, isClusterAddress(redisUrl))}:*`])) {
    for await (const keys of scanKeys(hub.redis, pattern, 5000)) {
      const pipe = hub.redis.pipeline();
      for (const key of keys) pipe.unlink(key);
      await pipe.exec();
    }
  }
  await hub.close();
  for (const x of [s, h, warmShop, warmCrm]) x.server.close();
  const sandboxCpu = (mine.user + mine.system) / 1000;
  if (process.env.BENCH_VERBOSE) console.error(`[bench] worker cpu ${Math.round(w.cpuMs - idle)} ms = ${Math.round((w.cpuMs - idle) * 1000 / n)} µs/record; wall ${Math.round(ms)} ms`);
  return { rate: (n / ms) * 1000, baseRate: (n / baseMs) * 1000, peakRssMb: w.peakRssMb, sandboxShare: sandboxCpu / (sandboxCpu + w.cpuMs), config, redisBytesPerOrder, largestPrimaryBytesPerOrder };
}

/** Time per stage over the same records, in one process; `queue` is the hand-on alone (the page and snapshots written, push jobs through BullMQ). */
export async function stageSplit(configFile: string, redisUrl: string, n: number): Promise<Record<string, number>> {
  const shop = shopSandbox(n);
  const crm = new HubspotSandbox();
  const s = await listen(shop.app());
  const h = await listen(crm.app());
  const raw = readFileSync(configFile, 'utf8').replace(/baseUrl: "[^"]+", api: (\w+), credentials: \{ accessToken: x \}, leakRate/, `baseUrl: "${s.url}", api: $1, credentials: { accessToken: x }, leakRate`).replace(/crm: \{ connector: hubspot, baseUrl: "[^"]+"/, `crm: { connector: hubspot, baseUrl: "${h.url}"`);
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
  for (let seq = 0; ; seq++) {
    // As processPage and ingest do: the pulled page sealed as the bytes received (it is also the
    // records' source page), each order's snapshot sealed, each push batch's records sealed together.
    const page = await clock('pull', () => hub.client('shop').pull('order', { cursor, pageSize: 250 }));
    const canon: Record<string, unknown>[] = [];
    for (const r of page.records) canon.push(await clock('map in', () => p.source.mapIn.evaluate(r)) as Record<string, unknown>);
    await clock('validate', () => canon.forEach((c) => canonicalProblems('order', c)));
    const sealed = await clock('encrypt', () => {
      const pageSeal = sealPulledPage(config.keyring, page, `page:bench:${seq}`);
      const snapshots = canon.map((c) => sealJsonBytes(config.keyring, c, 'order-snapshot'));
      const batches = [];
      for (let i = 0; i < canon.length; i += 100) {
        const items = canon.slice(i, i + 100).map((_, j) => ({ key: `k${i + j}`, delivery: `${seq}.${i + j}>crm`, version: 1, srcIndex: i + j }));
        batches.push({ items, recordsKey: `bench-stages-rec-${seq}-${i}`, sealed: sealJsonBytes(config.keyring, canon.slice(i, i + 100), pushRecordsAad('crm', items)) });
      }
      return { pageSeal, snapshots, batches };
    });
    const taken = await clock('queue', async () => {
      // The hand-on: the page, snapshots and batch records written, the push jobs added to BullMQ
      // and read back with their records as a push worker takes them.
      const srcKey = `bench-stages-src-${seq}`;
      const tx = hub.redis.multi().set(srcKey, sealed.pageSeal, 'EX', 60);
      // The last GraphQL page can be empty: MSET takes no empty list.
      if (sealed.snapshots.length) tx.mset(sealed.snapshots.flatMap((v, i) => [`bench-stages-snap-${i}`, v]));
      for (const b of sealed.batches) tx.set(b.recordsKey, b.sealed, 'EX', 60);
      await tx.exec();
      const added = await queue.addBulk(sealed.batches.map(({ items, recordsKey }) => ({ name: 'push', data: { items, recordsKey, sources: { page: srcKey, aad: 'x' } } })));
      const back = await Promise.all(added.map(async (j) => {
        const data = (await Job.fromId(queue, j.id!))!.data as { items: PushItemData[]; recordsKey: string };
        return { items: data.items, records: (await hub.redis.getBuffer(data.recordsKey))! };
      }));
      await Promise.all(added.map((j) => j.remove()));
      return back;
    });
    const opened = await clock('decrypt', () => taken.map((b) => openJsonBytes<Record<string, unknown>[]>(config.keyring, b.records, pushRecordsAad('crm', b.items))));
    for (const [bi, records] of opened.entries()) {
      const payloads: Record<string, unknown>[] = [];
      for (const c of records) payloads.push(await clock('map out', () => p.targets[0].mapOut.evaluate(c)) as Record<string, unknown>);
      await clock('push', () => hub.client('crm').push('order', payloads.map((payload, j) => ({ key: `k${bi * 100 + j}`, payload }))));
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
  const n = Math.max(...sizes);
  // The default path (GraphQL) and REST beside it, one after the other at each size (the machine's load drifts).
  for (const [i, count] of sizes.entries()) {
    const order: ShopApi[] = i % 2 === 0 ? ['graphql', 'rest'] : ['rest', 'graphql'];
    const got = new Map<ShopApi, Awaited<ReturnType<typeof pipelineRun>>>();
    for (const api of order) got.set(api, await pipelineRun(redisUrl, count, ONE_THREAD, api));
    config ||= got.get('graphql')!.config;
    for (const api of ['graphql', 'rest'] as ShopApi[]) {
      const r = got.get(api)!;
      const label = `one worker, one thread, ${api === 'graphql' ? 'GraphQL' : 'REST'}`;
      rows.push(
        { benchmark: 'pipeline', measure: `records/s end to end, ${fmt(count)} orders, ${label}`, value: fmt(r.rate), baseline: `${fmt(r.baseRate)} (pages fetched and posted, no processing)`, ratio: ratio(r.rate, r.baseRate), target: '≥ 5,000/s', met: r.rate >= 5000 ? 'yes' : 'no' },
        { benchmark: 'pipeline', measure: `worker peak RSS, ${fmt(count)} orders, ${label} (MB)`, value: fmt(r.peakRssMb), baseline: '', ratio: '', target: '< 300 MB', met: r.peakRssMb < 300 ? 'yes' : 'no' },
        { benchmark: 'pipeline', measure: `sandboxes' share of CPU, ${fmt(count)} orders, ${label}`, value: `${(r.sandboxShare * 100).toFixed(0)}%`, baseline: '', ratio: '' },
      );
    }
    const g = got.get('graphql')!;
    const r = got.get('rest')!;
    rows.push({ benchmark: 'pipeline', measure: `GraphQL ÷ REST records/s, ${fmt(count)} orders, one thread`, value: ratio(g.rate, r.rate), baseline: '', ratio: '' });
  }
  // The other worker shapes on the GraphQL path.
  const runs: [string, WorkerShape, number[]][] = [
    ['one worker, jobs.threads: 2, GraphQL', TWO_THREADS, sizes],
    // The old-generation cap docs/production.md suggests for worker processes: V8
    // otherwise lets the heap grow well past the live data before it collects.
    [`one worker, one thread, --max-old-space-size=${CAPPED_HEAP_MB}, GraphQL`, { ...ONE_THREAD, nodeOptions: `--max-old-space-size=${CAPPED_HEAP_MB}` }, [n]],
    [`one worker, jobs.threads: 2, --max-old-space-size=${CAPPED_HEAP_MB}, GraphQL`, { ...TWO_THREADS, nodeOptions: `--max-old-space-size=${CAPPED_HEAP_MB}` }, sizes],
  ];
  for (const [label, shape, counts] of runs) {
    for (const count of counts) {
      const r = await pipelineRun(redisUrl, count, shape, 'graphql');
      config ||= r.config;
      rows.push(
        { benchmark: 'pipeline', measure: `records/s end to end, ${fmt(count)} orders, ${label}`, value: fmt(r.rate), baseline: `${fmt(r.baseRate)} (pages fetched and posted, no processing)`, ratio: ratio(r.rate, r.baseRate), target: '≥ 5,000/s', met: r.rate >= 5000 ? 'yes' : 'no' },
        { benchmark: 'pipeline', measure: `worker peak RSS, ${fmt(count)} orders, ${label} (MB)`, value: fmt(r.peakRssMb), baseline: '', ratio: '', target: '< 300 MB', met: r.peakRssMb < 300 ? 'yes' : 'no' },
        { benchmark: 'pipeline', measure: `sandboxes' share of CPU, ${fmt(count)} orders, ${label}`, value: `${(r.sandboxShare * 100).toFixed(0)}%`, baseline: '', ratio: '' },
      );
    }
  }
  return { rows, stages: await stageSplit(config, redisUrl, Math.min(...sizes)) };
}

/**
 * BENCH_CLUSTER=1 npm run bench -- pipeline: the same sync on a Redis Cluster (three primaries with
 * a replica each, started here on this machine) beside one Redis primary, with one and with two
 * worker processes, over REST (the GraphQL sandbox's bulk export would take most of the CPU).
 * Records/s end to end and Redis memory per order right after the run; runs alternate between the
 * two layouts, since the machine's load drifts.
 */
export async function clusterBench(redisUrl: string, n = 10_000): Promise<Row[]> {
  const cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
  const rows: Row[] = [];
  try {
    for (const processes of [1, 2]) {
      const shape = { ...ONE_THREAD, processes };
      const single = await pipelineRun(redisUrl, n, shape, 'rest');
      const onCluster = await pipelineRun({ cluster: cluster.urls }, n, shape, 'rest');
      const label = `${fmt(n)} orders, ${processes} worker process${processes > 1 ? 'es' : ''}, REST`;
      rows.push(
        { benchmark: 'pipeline', measure: `records/s end to end on a Redis Cluster (3 primaries + 3 replicas), ${label}`, value: fmt(onCluster.rate), baseline: `${fmt(single.rate)} (one Redis primary)`, ratio: ratio(onCluster.rate, single.rate), target: '≥ 5,000/s per worker', met: onCluster.rate / processes >= 5000 ? 'yes' : 'no' },
        { benchmark: 'pipeline', measure: `Redis memory per order after the run (bytes, all primaries), ${label}`, value: fmt(onCluster.redisBytesPerOrder), baseline: `${fmt(single.redisBytesPerOrder)} (one Redis primary)`, ratio: ratio(onCluster.redisBytesPerOrder, single.redisBytesPerOrder) },
        { benchmark: 'pipeline', measure: `of which on the largest primary (bytes per order), ${label}`, value: fmt(onCluster.largestPrimaryBytesPerOrder), baseline: '', ratio: ratio(onCluster.largestPrimaryBytesPerOrder, onCluster.redisBytesPerOrder) },
      );
      console.error(`[bench] cluster ${label}: ${fmt(onCluster.rate)}/s, ${fmt(onCluster.redisBytesPerOrder)} B/order (largest primary ${fmt(onCluster.largestPrimaryBytesPerOrder)}); one primary ${fmt(single.rate)}/s, ${fmt(single.redisBytesPerOrder)} B/order`);
    }
  } finally {
    await cluster.stop();
  }
  return rows;
}
