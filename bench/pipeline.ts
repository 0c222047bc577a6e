/**
 * Pipeline throughput: N orders in the Shopify sandbox synced to the HubSpot sandbox by one
 * `synchub worker` process, on the default path (GraphQL, a full run through a bulk operation)
 * and, beside it, over REST and over GraphQL pages. The sandboxes run in a process of their own
 * (bench/sandboxes.ts), so the worker's CPU and theirs are measured apart. Records/s end to end
 * (for bulk runs also the export's time and the rate after it), the worker's CPU per record and
 * peak RSS, the sandboxes' CPU share; baseline: the same path with no processing. Then the time
 * per stage, measured in-process over the same records.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
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
import { baseline, bulkBaseline, graphqlBaseline } from './pipeline-baseline.js';
import { SourceNotReadyError } from '../src/core/errors.js';
import { BENCH_SHOP_GRAPHQL, fmt, procStat, ratio, type Row } from './util.js';
import { asCluster, isClusterAddress, scanKeys, type RedisAddress } from '../src/state/redis-client.js';
import { startRedisCluster } from '../src/runtime/redis-cluster.js';

/** How the pipeline reads the shop: GraphQL with a full run through a bulk operation (the default), GraphQL page by page (`backfill: pages`), or REST (`api: rest`). */
export type ShopPath = 'graphql' | 'graphql-pages' | 'rest';
const PATH_LABEL: Record<ShopPath, string> = { graphql: 'GraphQL (bulk backfill, the default)', 'graphql-pages': 'GraphQL, backfill: pages', rest: 'REST' };
const shopSandbox = (orders: number) => new ShopifySandbox({ customers: 500, orders, graphql: BENCH_SHOP_GRAPHQL });

/**
 * A worker's CPU per record keeps falling over its first tens of thousands of records (V8's
 * compiled code and heap limits settling): measured after 5,000 / 20,000 / 40,000 warm-up
 * orders, 269 / 224 / 218 µs a record. The measured run starts after 20,000.
 */
const WARMUP_ORDERS = 20_000;

/** Records per pull page (`batchSize` of the benchmark's pipelines); BENCH_BATCH_SIZE for another. */
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 250);

/** A full run of the pipeline, until every record is pushed (anything else fails the benchmark). */
async function syncAll(hub: Hub, pipeline: string, n: number): Promise<void> {
  const { runId } = await startRun(hub, pipeline, true);
  const t0 = performance.now();
  const trace: string[] = [];
  for (;;) {
    const run = await hub.store.getRun(runId);
    if (process.env.BENCH_TRACE && run) trace.push(`${Math.round(performance.now() - t0)}:${run.pushed}`);
    if (process.env.BENCH_TRACE && run?.finishedAt) console.error(`[bench] ${pipeline} pushed over time (ms:records)`, trace.filter((_, i) => i % 5 === 0).join(' '));
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

/** Calls and µs per command so far on every primary (INFO commandstats), for BENCH_VERBOSE. */
async function commandStats(redis: Redis): Promise<Map<string, [number, number]>> {
  const per = new Map<string, [number, number]>();
  for (const node of asCluster(redis)?.nodes('master') ?? [redis]) {
    for (const m of (await node.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      const [calls, usec] = per.get(m[1]) ?? [0, 0];
      per.set(m[1], [calls + Number(m[2]), usec + Number(m[3])]);
    }
  }
  return per;
}

/** CPU ms used so far by every Redis node of the address (primaries and replicas: all run on this machine), from INFO cpu. */
async function redisCpuMs(redis: Redis): Promise<number> {
  let ms = 0;
  for (const node of asCluster(redis)?.nodes('all') ?? [redis]) {
    const info = await node.info('cpu');
    ms += (Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0)) * 1000;
  }
  return ms;
}

/** Redis's time per order (µs) by command and by script (the first 8 hex of its SHA), from a SLOWLOG that logged every call. */
async function slowlogPerOrder(redis: Redis, n: number): Promise<string> {
  const log = (await redis.slowlog('GET', '-1')) as [number, number, number, Buffer[] | string[]][];
  const per = new Map<string, [number, number]>();
  for (const [, , usec, args] of log) {
    const cmd = String(args[0]).toLowerCase();
    // A script by its SHA's first 8 hex and the role of its first key (e.g. `q:{push-crm}:wait`: a BullMQ script).
    const name = cmd === 'evalsha' ? `evalsha ${String(args[1]).slice(0, 8)} ${String(args[3] ?? '').replace(/^[^:]*:/, '').replace(/[0-9a-f]{12,}|\d+/g, '#')}` : cmd;
    const [calls, total] = per.get(name) ?? [0, 0];
    per.set(name, [calls + 1, total + usec]);
  }
  return [...per].sort((a, b) => b[1][1] - a[1][1]).slice(0, 25).map(([name, [calls, usec]]) => `${name} ${(calls / n).toFixed(2)} calls (${(usec / n).toFixed(1)} µs)`).join(', ');
}

/** How the worker runs: its threads (jobs.threads, with the concurrencies per thread), NODE_OPTIONS, and how many worker processes (default 1). */
export interface WorkerShape { threads: number; pullConcurrency: number; pushConcurrency: number; nodeOptions?: string; processes?: number }

/** used_memory of each primary (one Redis: its own), by address. */
async function redisUsedMemory(redis: Redis): Promise<Map<string, number>> {
  const nodes: Redis[] = asCluster(redis)?.nodes('master') ?? [redis];
  return new Map(await Promise.all(nodes.map(async (n) => [`${n.options.host}:${n.options.port}`, Number(/used_memory:(\d+)/.exec(await n.info('memory'))?.[1] ?? 0)] as const)));
}

/**
 * The bytes (MEMORY USAGE) of the hub's source pages on each primary (in redisUsedMemory's order),
 * their bytes and their pending hashes together: the family in flight during a sync.
 */
async function sourcePageBytes(redis: Redis, hub: Hub): Promise<{ bytes: number; hubTag: number }[]> {
  const nodes: Redis[] = asCluster(redis)?.nodes('master') ?? [redis];
  return Promise.all(nodes.map(async (node) => {
    let bytes = 0;
    let hubTag = 0;
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `*${hub.config.redis.prefix}*:srcpage:*`, 'COUNT', 10_000);
      cursor = next;
      const sizes = keys.length ? await keys.reduce((p, key) => p.memory('USAGE', key), node.pipeline()).exec() : [];
      (sizes ?? []).forEach(([, size], i) => {
        bytes += Number(size ?? 0);
        if (keys[i].startsWith(`${hub.layout.hub}:`)) hubTag += Number(size ?? 0);
      });
    } while (cursor !== '0');
    return { bytes, hubTag };
  }));
}

/** On a cluster, which of the primaries (in redisUsedMemory's order) serves the hub tag: the others answer MOVED. */
async function hubTagPrimary(hub: Hub): Promise<string> {
  const nodes = asCluster(hub.redis)?.nodes('master');
  if (!nodes) return '';
  const answers = await Promise.all(nodes.map((n) => n.exists(`${hub.layout.hub}:layout`).then(() => true, () => false)));
  return ` (the hub tag's: primary ${answers.indexOf(true) + 1})`;
}

export const ONE_THREAD: WorkerShape = { threads: 1, pullConcurrency: 2, pushConcurrency: 8 };
/** Two threads with the same concurrency in all as one: for a machine with a core to spare beside Redis. */
export const TWO_THREADS: WorkerShape = { threads: 2, pullConcurrency: 1, pushConcurrency: 4 };

/** The sandboxes in their own process (bench/sandboxes.ts): their URLs, and when each bulk operation of the measured shop ended. */
async function startSandboxes(n: number): Promise<{ child: ChildProcess; urls: Record<'shop' | 'crm' | 'warmShop' | 'warmCrm' | 'baseCrm', string>; bulkFinished: { status: string; at: number }[] }> {
  const child = spawn(process.execPath, [...(process.env.BENCH_SANDBOX_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_SANDBOX_PROF)}`] : []), '--import', 'tsx', path.resolve('bench/sandboxes.ts'), String(n), String(WARMUP_ORDERS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const bulkFinished: { status: string; at: number }[] = [];
  const lines = createInterface({ input: child.stdout! });
  const urls = await new Promise<Record<'shop' | 'crm' | 'warmShop' | 'warmCrm' | 'baseCrm', string>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench sandboxes exited (${code}) before listening`)));
    lines.once('line', (line) => resolve(JSON.parse(line)));
  });
  lines.on('line', (line) => {
    const m = /^bulk-finished \S+ (\S+) (\d+)$/.exec(line);
    if (m) bulkFinished.push({ status: m[1], at: Number(m[2]) });
  });
  return { child, urls, bulkFinished };
}

export interface PipelineResult {
  rate: number; baseRate: number; peakRssMb: number; sandboxShare: number; config: string;
  /** Redis memory the run left per order, on all primaries and on the fullest one (bytes). */
  redisBytesPerOrder: number; largestPrimaryBytesPerOrder: number;
  /** The worker's CPU per record in the measured run (µs): unlike the rates, it does not fall with the machine's load. */
  cpuUsPerRecord: number;
  /** Of that, its busiest thread's (µs; the main thread with one thread); and the CPU per record of Redis (every node) and of the sandboxes' process. */
  busiestThreadUsPerRecord: number; redisUsPerRecord: number; sandboxUsPerRecord: number;
  /** The most records/s the machine's cores allow at these CPU costs (the lower of: all cores busy, the worker's busiest thread busy). */
  ceiling: number;
  /** Bulk runs: seconds from the run's start until the shop's export was COMPLETED, and records/s from then on. */
  exportS?: number; rateAfterExport?: number;
}

export async function pipelineRun(redisUrl: RedisAddress, n: number, shape: WorkerShape = ONE_THREAD, shopPath: ShopPath = 'graphql'): Promise<PipelineResult> {
  const { child, urls, bulkFinished } = await startSandboxes(n);
  const api = shopPath === 'rest' ? 'rest' : 'graphql';
  const backfill = shopPath === 'graphql-pages' ? 'pages' : 'bulk';
  // The worker first syncs WARMUP_ORDERS other orders to another CRM sandbox, as a long-running
  // worker has long done (through the same path); the measured run follows.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-'));
  const config = path.join(dir, 'hub.yaml');
  const prefix = `bench-${n}-${Date.now()}`;
  writeFileSync(config, `
redis: ${isClusterAddress(redisUrl) ? `{ cluster: [${redisUrl.cluster.map((u) => `"${u}"`).join(', ')}], prefix: "${prefix}"${process.env.BENCH_SHARDS ? `, shards: ${Number(process.env.BENCH_SHARDS)}` : ''} }` : `{ url: "${redisUrl}", prefix: "${prefix}" }`}
encryption: { keys: "\${SYNCHUB_KEYS}" }
jobs: { threads: ${shape.threads}, pullConcurrency: ${shape.pullConcurrency}, pushConcurrency: ${shape.pushConcurrency}${process.env.BENCH_HEAP_GROWTH ? `, heapGrowthPercent: ${Number(process.env.BENCH_HEAP_GROWTH)}` : ''}${process.env.BENCH_WORKER_NICE ? `, workerNice: ${Number(process.env.BENCH_WORKER_NICE)}` : ''} }
timeline: { enabled: ${process.env.BENCH_TIMELINE !== 'off'} }
connections:
  shop: { connector: shopify, baseUrl: "${urls.shop}", api: ${api}, backfill: ${backfill}, credentials: { accessToken: x }, leakRate: 1000 }
  crm: { connector: hubspot, baseUrl: "${urls.crm}", credentials: { accessToken: x }, http: { rateLimit: { max: 100000, perMs: 1000 } } }
  warmshop: { connector: shopify, baseUrl: "${urls.warmShop}", api: ${api}, backfill: ${backfill}, credentials: { accessToken: x }, leakRate: 1000 }
  warmcrm: { connector: hubspot, baseUrl: "${urls.warmCrm}", credentials: { accessToken: x }, http: { rateLimit: { max: 100000, perMs: 1000 } } }
pipelines:
  orders: { source: { connection: shop, entity: order }, targets: [ { connection: crm, entity: order } ], batchSize: ${BATCH_SIZE} }
  warmup: { source: { connection: warmshop, entity: order }, targets: [ { connection: warmcrm, entity: order } ], batchSize: ${BATCH_SIZE} }
`);
  const env = { ...process.env, SYNCHUB_KEYS: generateKeySpec('bench'), LOG_LEVEL: 'error', NODE_OPTIONS: [process.env.NODE_OPTIONS, shape.nodeOptions].filter(Boolean).join(' ') };
  // The baseline writes to its own CRM sandbox, so the hub's run starts from an empty one.
  const baseMs = shopPath === 'graphql' ? await bulkBaseline(urls.shop, urls.baseCrm, n) : shopPath === 'graphql-pages' ? await graphqlBaseline(urls.shop, urls.baseCrm, n) : await baseline(urls.shop, urls.baseCrm, n);
  // BENCH_CPU_PROF=DIR writes the worker's CPU profile there (node refuses --cpu-prof in NODE_OPTIONS).
  // BENCH_WORKER_NODE_ARGS (e.g. `--trace-gc`) goes on the worker's node command line, for the flags NODE_OPTIONS refuses.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const workers = Array.from({ length: shape.processes ?? 1 }, () => spawn(process.execPath, [...prof, ...nodeArgs, path.resolve('bin/synchub.js'), 'worker', '--config', config], { env, stdio: ['ignore', 'inherit', 'inherit'] }));
  const worker = workers[0];
  // A worker that exits (a refused flag, a crash) fails the benchmark instead of leaving it waiting for the run.
  const exited = new Promise<never>((_, reject) => workers.forEach((w) => w.once('exit', (code) => reject(new Error(`the worker exited (${code}) during the benchmark`)))));
  exited.catch(() => {});
  const hub = await Hub.open(loadConfig(config, { env }), createLogger({ level: 'silent' }), redisUrl);
  await new Promise((r) => setTimeout(r, 1500));
  await Promise.race([syncAll(hub, 'warmup', WARMUP_ORDERS), exited]);
  const idle = procStat(worker.pid!).cpuMs;
  const othersIdle = workers.slice(1).reduce((sum, wk) => sum + procStat(wk.pid!).cpuMs, 0);
  const idleThreads = threadCpu(worker.pid!);
  const sandboxIdle = procStat(child.pid!).cpuMs;
  const memory0 = await redisUsedMemory(hub.redis);
  // BENCH_SLOWLOG=1 (one Redis): every call of the run in the SLOWLOG, summed by command and script at the end.
  if (process.env.BENCH_SLOWLOG) await hub.redis.config('SET', 'slowlog-log-slower-than', '0', 'slowlog-max-len', '2000000').then(() => hub.redis.slowlog('RESET'));
  const redisCpu0 = await redisCpuMs(hub.redis);
  const commands0 = process.env.BENCH_VERBOSE ? await commandStats(hub.redis) : new Map<string, [number, number]>();
  const cpu0 = process.cpuUsage();
  const startedAt = Date.now();
  const t0 = performance.now();
  // With BENCH_VERBOSE, each primary's used_memory is sampled while the run goes (the largest it
  // grew to: source pages and push batches in flight), as well as after it.
  const peak = new Map<string, number>();
  // And the source pages' own bytes on each primary, at their largest.
  let pagesPeak: number[] = [];
  let hubTagPagesPeak = 0;
  let sampled = Promise.resolve();
  let ticks = 0;
  const sampling = process.env.BENCH_VERBOSE ? setInterval(() => {
    redisUsedMemory(hub.redis).then((m) => { for (const [node, used] of m) peak.set(node, Math.max(peak.get(node) ?? 0, used - (memory0.get(node) ?? 0))); }, () => {});
    // A SCAN of every key each time: once a second, only with BENCH_PAGES (it adds Redis work).
    if (process.env.BENCH_PAGES && ticks++ % 4 === 0) sampled = sampled.then(() => sourcePageBytes(hub.redis, hub)).then((b) => {
      pagesPeak = b.map((x, i) => Math.max(x.bytes, pagesPeak[i] ?? 0));
      hubTagPagesPeak = Math.max(hubTagPagesPeak, b.reduce((sum, x) => sum + x.hubTag, 0));
    }, () => {});
  }, 250) : undefined;
  await Promise.race([syncAll(hub, 'orders', n), exited]);
  clearInterval(sampling);
  const ms = performance.now() - t0;
  // Right after the run: links, fingerprints, snapshots and timelines, plus the completed jobs and
  // their batches BullMQ keeps for their hour.
  const memory1 = await redisUsedMemory(hub.redis);
  const grown = [...memory1].map(([node, used]) => (used - (memory0.get(node) ?? 0)) / n);
  const redisBytesPerOrder = grown.reduce((a, b) => a + b, 0);
  const largestPrimaryBytesPerOrder = Math.max(...grown);
  await sampled;
  if (process.env.BENCH_VERBOSE) console.error(`[bench] used_memory grown per primary (bytes per order): ${grown.map((b) => Math.round(b)).join(' / ')}${await hubTagPrimary(hub)}; at its peak during the run: ${[...memory1.keys()].map((node) => Math.round((peak.get(node) ?? 0) / n)).join(' / ')}${pagesPeak.length ? `; source pages at their peak: ${pagesPeak.map((b) => Math.round(b / 1024)).join(' / ')} KB, of which on the hub tag at most ${Math.round(hubTagPagesPeak / 1024)} KB` : ''}`);
  const mine = process.cpuUsage(cpu0);
  const w = procStat(worker.pid!);
  const sandboxCpu = procStat(child.pid!).cpuMs - sandboxIdle;
  // With more than one worker process (the cluster benchmark), the others' CPU counts in what the cores carry,
  // and each is taken to be bound by a busiest thread like the first one's.
  const othersCpu = workers.slice(1).reduce((sum, wk) => sum + procStat(wk.pid!).cpuMs, 0) - othersIdle;
  const redisCpu = (await redisCpuMs(hub.redis)) - redisCpu0;
  // The worker's busiest thread in the run: its main thread with one thread, else one of its JavaScript threads.
  const busiest = Math.max(...[...threadCpu(worker.pid!)].map(([k, ms]) => ms - (idleThreads.get(k) ?? 0)));
  if (process.env.BENCH_VERBOSE) {
    const per = threadCpu(worker.pid!);
    for (const [k, v] of idleThreads) per.set(k, (per.get(k) ?? 0) - v);
    console.error('[bench] worker threads cpu ms', JSON.stringify(Object.fromEntries([...per].filter(([, v]) => v > 20))));
    const commands = [...await commandStats(hub.redis)].map(([cmd, [calls, usec]]) => [cmd, calls - (commands0.get(cmd)?.[0] ?? 0), usec - (commands0.get(cmd)?.[1] ?? 0)] as const).filter(([, calls]) => calls > 0).sort((a, b) => b[2] - a[2]);
    console.error(`[bench] Redis calls per order (µs of Redis per order): ${commands.map(([cmd, calls, usec]) => `${cmd} ${(calls / n).toFixed(2)} (${(usec / n).toFixed(1)})`).join(', ')}`);
  }
  if (process.env.BENCH_SLOWLOG) console.error(`[bench] Redis's time per order by command and script (SLOWLOG of every call, nested ones included): ${await slowlogPerOrder(hub.redis, n)}`);
  for (const wk of workers) wk.kill('SIGTERM');
  await Promise.all(workers.map((wk) => new Promise((r) => wk.once('exit', r))));
  if (process.env.BENCH_FAMILIES) {
    // Memory by key family (the key's role after the prefix or shard tag), for a before/after.
    const families = new Map<string, number>();
    const counts = new Map<string, number>();
    for (const pattern of new Set([`${prefix}:*`, ...hub.layout.scanPatterns()])) {
      for await (const keys of scanKeys(hub.redis, pattern, 5000)) {
        const sizes = await Promise.all(keys.map((k) => hub.redis.memory('USAGE', k)));
        keys.forEach((k, i) => {
          const rest = k.slice(k.indexOf('}:') >= 0 ? k.indexOf('}:') + 2 : prefix.length + 1).split(':');
          // On a cluster, state under a shard tag is marked `~`, the hub tag's unmarked.
          const where = k.startsWith(`{${prefix}~`) ? '~' : '';
          const fam = where + (rest[0] === 'q' ? `q:${rest[1]}:${rest[2]?.length > 12 ? 'job' : rest[2]}` : rest[0] === 'tl' ? `tl:${rest[1]}` : rest[0]);
          families.set(fam, (families.get(fam) ?? 0) + Number(sizes[i] ?? 0));
          counts.set(fam, (counts.get(fam) ?? 0) + 1);
        });
      }
    }
    // Over every order Redis holds: the warm-up's and the measured run's.
    const orders = n + WARMUP_ORDERS;
    console.error(`[bench] families (bytes per order, over the ${orders} orders of the warm-up and the run): ${[...families].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([f, b]) => `${f} ${Math.round(b / orders)} (${counts.get(f)} keys)`).join(', ')}`);
  }
  // Each run starts from a Redis without the previous runs' hundreds of thousands of keys
  // (queues under `<prefix>:q:`, state under `{<prefix>}:` and its shard groups on a cluster).
  for (const pattern of new Set([`${prefix}:*`, ...hub.layout.scanPatterns()])) {
    for await (const keys of scanKeys(hub.redis, pattern, 5000)) {
      const pipe = hub.redis.pipeline();
      for (const key of keys) pipe.unlink(key);
      await pipe.exec();
    }
  }
  await hub.close();
  child.stdin!.end();
  await new Promise((r) => child.once('exit', r));
  const workerCpu = w.cpuMs - idle;
  const exported = bulkFinished.find((f) => f.at >= startedAt);
  const exportS = shopPath === 'graphql' && exported ? (exported.at - startedAt) / 1000 : undefined;
  const rateAfterExport = exportS !== undefined ? n / (ms / 1000 - exportS) : undefined;
  if (process.env.BENCH_VERBOSE) console.error(`[bench] ${PATH_LABEL[shopPath]} ${n}: ${Math.round((n / ms) * 1000)} records/s; worker cpu ${Math.round(workerCpu)} ms = ${Math.round((workerCpu * 1000) / n)} µs/record; sandboxes ${Math.round(sandboxCpu)} ms, bench ${Math.round((mine.user + mine.system) / 1000)} ms; wall ${Math.round(ms)} ms${exportS !== undefined ? `; export ${exportS.toFixed(1)} s, then ${Math.round(rateAfterExport!)} records/s` : ''}; peak RSS ${Math.round(w.peakRssMb)} MB`);
  // The most this machine allows the run: every core busy with the worker, Redis and the
  // sandboxes at the CPU per record measured (the export's included), and the worker's busiest
  // thread (one JavaScript thread runs its records one after another) busy all the time. The
  // rate is under both.
  const perRecord = { worker: (workerCpu * 1000) / n, busiestThread: (busiest * 1000) / n, redis: (redisCpu * 1000) / n, sandboxes: (sandboxCpu * 1000) / n };
  const ceiling = Math.min((os.availableParallelism() * 1e6) / (perRecord.worker + (othersCpu * 1000) / n + perRecord.redis + perRecord.sandboxes), (1e6 * workers.length) / perRecord.busiestThread);
  if (process.env.BENCH_VERBOSE) console.error(`[bench] CPU µs per record: worker ${Math.round(perRecord.worker)} (its busiest thread ${Math.round(perRecord.busiestThread)}), Redis ${Math.round(perRecord.redis)}, sandboxes ${Math.round(perRecord.sandboxes)}: at most ${Math.round(ceiling)} records/s on ${os.availableParallelism()} cores`);
  return { rate: (n / ms) * 1000, baseRate: (n / baseMs) * 1000, peakRssMb: w.peakRssMb, sandboxShare: sandboxCpu / (sandboxCpu + workerCpu), config, cpuUsPerRecord: perRecord.worker, busiestThreadUsPerRecord: perRecord.busiestThread, redisUsPerRecord: perRecord.redis, sandboxUsPerRecord: perRecord.sandboxes, ceiling, exportS, rateAfterExport, redisBytesPerOrder, largestPrimaryBytesPerOrder };
}

/** Time per stage over the same records, in one process; `queue` is the hand-on alone (the page and snapshots written, push jobs through BullMQ). */
export async function stageSplit(configFile: string, redisUrl: string, n: number): Promise<Record<string, number>> {
  const shop = shopSandbox(n);
  const crm = new HubspotSandbox();
  const s = await listen(shop.app());
  const h = await listen(crm.app());
  const raw = readFileSync(configFile, 'utf8').replace(/shop: \{ connector: shopify, baseUrl: "[^"]+"/, `shop: { connector: shopify, baseUrl: "${s.url}"`).replace(/crm: \{ connector: hubspot, baseUrl: "[^"]+"/, `crm: { connector: hubspot, baseUrl: "${h.url}"`);
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
    let page;
    for (;;) {
      try {
        page = await clock('pull', () => hub.client('shop').pull('order', { cursor, pageSize: 250 }));
        break;
      } catch (err) {
        // A bulk export still running: the job layer would delay the page job; its wait is not a stage's time.
        if (!(err instanceof SourceNotReadyError)) throw err;
        await new Promise((r) => setTimeout(r, err.retryAfterMs));
      }
    }
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

function pipelineRows(count: number, label: string, r: PipelineResult, baseline: string): Row[] {
  const rows: Row[] = [
    { benchmark: 'pipeline', measure: `records/s end to end, ${fmt(count)} orders, ${label}`, value: fmt(r.rate), baseline: `${fmt(r.baseRate)} (${baseline}, no processing)`, ratio: ratio(r.rate, r.baseRate), target: '≥ 5,000/s', met: r.rate >= 5000 ? 'yes' : 'no' },
  ];
  if (r.exportS !== undefined) {
    rows.push({ benchmark: 'pipeline', measure: `of which the shop's bulk export (s); records/s once it was COMPLETED, ${fmt(count)} orders, ${label}`, value: `${r.exportS.toFixed(1)} s; ${fmt(r.rateAfterExport!)}`, baseline: '', ratio: '' });
  }
  rows.push(
    { benchmark: 'pipeline', measure: `worker CPU µs per record, ${fmt(count)} orders, ${label}`, value: fmt(r.cpuUsPerRecord), baseline: '', ratio: '' },
    // What the machine's cores allow at the CPU each process spent a record; the ratio is the rate's share of it.
    { benchmark: 'pipeline', measure: `CPU µs per record: worker's busiest thread / Redis / sandboxes; records/s the ${os.availableParallelism()} cores allow at those costs, ${fmt(count)} orders, ${label}`, value: `${fmt(r.busiestThreadUsPerRecord)} / ${fmt(r.redisUsPerRecord)} / ${fmt(r.sandboxUsPerRecord)}; ${fmt(r.ceiling)}`, baseline: '', ratio: ratio(r.rate, r.ceiling) },
    { benchmark: 'pipeline', measure: `worker peak RSS, ${fmt(count)} orders, ${label} (MB)`, value: fmt(r.peakRssMb), baseline: '', ratio: '', target: '< 300 MB', met: r.peakRssMb < 300 ? 'yes' : 'no' },
    { benchmark: 'pipeline', measure: `sandboxes' share of CPU (their own process), ${fmt(count)} orders, ${label}`, value: `${(r.sandboxShare * 100).toFixed(0)}%`, baseline: '', ratio: '' },
  );
  return rows;
}

const BASELINE: Record<ShopPath, string> = { graphql: 'the bulk export polled, read and posted', 'graphql-pages': 'GraphQL pages of 12 fetched and posted', rest: 'REST pages fetched and posted' };

/**
 * The default path (GraphQL, a full run through a bulk operation) and REST beside it at each
 * size, then GraphQL page by page at the smallest size, then the other worker shapes on the
 * default path and two threads on REST. `BENCH_PIPELINE=paths` runs only the one-thread
 * comparison of the paths.
 */
export async function pipelineBench(redisUrl: string, sizes = [10_000, 100_000]): Promise<{ rows: Row[]; stages: Record<string, number> }> {
  const rows: Row[] = [];
  let config = '';
  const n = Math.max(...sizes);
  const small = Math.min(...sizes);
  const step = (what: string) => console.error(`[bench] pipeline: ${what} (load ${os.loadavg()[0].toFixed(1)})`);
  // One after the other at each size, the order alternating (the machine's load drifts).
  for (const [i, count] of sizes.entries()) {
    const order: ShopPath[] = i % 2 === 0 ? ['graphql', 'rest'] : ['rest', 'graphql'];
    const got = new Map<ShopPath, PipelineResult>();
    for (const p of order) {
      step(`${fmt(count)} orders, ${PATH_LABEL[p]}`);
      got.set(p, await pipelineRun(redisUrl, count, ONE_THREAD, p));
    }
    config ||= got.get('graphql')!.config;
    for (const p of ['graphql', 'rest'] as ShopPath[]) rows.push(...pipelineRows(count, `one worker, one thread, ${PATH_LABEL[p]}`, got.get(p)!, BASELINE[p]));
    const g = got.get('graphql')!;
    const r = got.get('rest')!;
    rows.push({ benchmark: 'pipeline', measure: `GraphQL ÷ REST, ${fmt(count)} orders, one thread: records/s; worker CPU per record`, value: `${ratio(g.rate, r.rate)}; ${ratio(g.cpuUsPerRecord, r.cpuUsPerRecord)}`, baseline: '', ratio: '' });
  }
  // A paged full pull (backfill: pages; increments always page) at the smaller size only: on a
  // real shop it is bound by the cost bucket, 12 orders a query.
  step(`${fmt(small)} orders, ${PATH_LABEL['graphql-pages']}`);
  rows.push(...pipelineRows(small, `one worker, one thread, ${PATH_LABEL['graphql-pages']}`, await pipelineRun(redisUrl, small, ONE_THREAD, 'graphql-pages'), BASELINE['graphql-pages']));
  // The other worker shapes on the default path, and two threads on the REST path (no export to
  // wait for: records come from the first page on).
  const runs: [string, WorkerShape, number[], ShopPath?][] = process.env.BENCH_PIPELINE === 'paths' ? [] : [
    ['one worker, jobs.threads: 2, GraphQL', TWO_THREADS, sizes],
    ['one worker, jobs.threads: 2, REST', TWO_THREADS, sizes, 'rest'],
    // The old-generation cap docs/production.md suggests for worker processes: V8
    // otherwise lets the heap grow well past the live data before it collects.
    [`one worker, one thread, --max-old-space-size=${CAPPED_HEAP_MB}, GraphQL`, { ...ONE_THREAD, nodeOptions: `--max-old-space-size=${CAPPED_HEAP_MB}` }, [n]],
    [`one worker, jobs.threads: 2, --max-old-space-size=${CAPPED_HEAP_MB}, GraphQL`, { ...TWO_THREADS, nodeOptions: `--max-old-space-size=${CAPPED_HEAP_MB}` }, sizes],
  ];
  for (const [label, shape, counts, shopPath = 'graphql'] of runs) {
    for (const count of counts) {
      step(`${fmt(count)} orders, ${label}`);
      const r = await pipelineRun(redisUrl, count, shape, shopPath);
      rows.push(...pipelineRows(count, label, r, BASELINE[shopPath]));
    }
  }
  return { rows, stages: process.env.BENCH_PIPELINE === 'paths' ? {} : await stageSplit(config, redisUrl, small) };
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
