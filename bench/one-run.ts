/**
 * One pipeline run for a closer look (profiles, a change's before and after):
 * `npx tsx bench/one-run.ts <orders> <graphql|graphql-pages|rest> [threads]`, with BENCH_VERBOSE
 * and BENCH_CPU_PROF as for `npm run bench -- pipeline`. Prints the run's figures as JSON.
 * BENCH_TIMELINE=off runs the hub with `timeline.enabled: false` (what the record timeline costs:
 * alternate runs with and without it).
 * BENCH_HEAP_GROWTH=N runs the worker with `jobs.heapGrowthPercent: N` (0: V8's own heap growth).
 * BENCH_WORKER_NODE_OPTIONS (e.g. `--max-semi-space-size=32`) goes to the worker process only,
 * not to the benchmark's own process or the sandboxes'. BENCH_CLUSTER=1 runs it on a Redis Cluster
 * of three primaries with a replica each, started here (with BENCH_VERBOSE: bytes per primary).
 * BENCH_PULL_CONCURRENCY / BENCH_PUSH_CONCURRENCY set the worker's concurrencies per thread (defaults: bench/pipeline.ts's ONE_THREAD and TWO_THREADS), BENCH_BATCH_SIZE the pipelines' `batchSize` (default 250).
 * BENCH_SHARDS=N sets `redis.shards` on it (the shard groups a hub's record state spreads over).
 * `hostMapInUs` in the output is this host's speed, measured before the run: the default Shopify
 * order in-mapping's µs an order (best of five rounds of 2,000 orders, in this process). Hosts of
 * the same machine kind differ by up to 2× (bench/HISTORY.md); dividing by it compares runs made
 * on different hosts better than the rates alone.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedisCluster } from '../src/runtime/redis-cluster.js';
import { startRedisServer } from '../src/runtime/redis-server.js';
import { ONE_THREAD, pipelineRun, TWO_THREADS, type ShopPath } from './pipeline.js';
import { orders } from './mapping.js';
import { shopify } from '../src/connectors/shopify/index.js';
import { defaultMappingFile, loadMapping } from '../src/mappings/engine.js';

/** The default Shopify order in-mapping's µs an order on this host: the best of five rounds of 2,000 orders. */
async function hostMapInUs(): Promise<number> {
  const data = orders(2000);
  const mapIn = loadMapping(defaultMappingFile('shopify', 'order', 'in'), { connector: 'shopify', statusMap: shopify.statusMap }, { timeoutMs: 60_000, engine: 'compiled' });
  let best = Infinity;
  for (let round = 0; round < 6; round++) {
    const t0 = performance.now();
    for (const o of data) await mapIn.evaluate(o);
    // The first round warms the code up.
    if (round > 0) best = Math.min(best, ((performance.now() - t0) * 1000) / data.length);
  }
  return Math.round(best * 10) / 10;
}

const [n = '10000', shopPath = 'graphql', threads = '1'] = process.argv.slice(2);
const hostSpeed = await hostMapInUs();
if (process.env.BENCH_VERBOSE) console.error(`[bench] host: the default Shopify order in-mapping takes ${hostSpeed} µs an order here`);
const onCluster = process.env.BENCH_CLUSTER === '1';
const redis = onCluster
  ? await startRedisCluster({ primaries: 3, replicas: 1 }).then((c) => ({ url: { cluster: c.urls }, stop: () => c.stop() }))
  : await startRedisServer({ dir: mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-redis-')) });
try {
  const load = os.loadavg()[0];
  const base = threads === '2' ? TWO_THREADS : ONE_THREAD;
  // BENCH_PULL_CONCURRENCY / BENCH_PUSH_CONCURRENCY: the worker's concurrencies per thread instead of the benchmark's.
  const shape = { ...base, pullConcurrency: Number(process.env.BENCH_PULL_CONCURRENCY ?? base.pullConcurrency), pushConcurrency: Number(process.env.BENCH_PUSH_CONCURRENCY ?? base.pushConcurrency) };
  const nodeOptions = process.env.BENCH_WORKER_NODE_OPTIONS;
  const r = await pipelineRun(redis.url, Number(n), nodeOptions ? { ...shape, nodeOptions } : shape, shopPath as ShopPath);
  console.log(JSON.stringify({ orders: Number(n), cluster: onCluster, path: shopPath, threads: Number(threads), nodeOptions: process.env.BENCH_WORKER_NODE_OPTIONS, loadBefore: load, loadAfter: os.loadavg()[0], hostMapInUs: hostSpeed, ...r, config: undefined }));
} finally {
  await redis.stop();
}
process.exit(0);
