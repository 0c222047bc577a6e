/**
 * One pipeline run for a closer look (profiles, a change's before and after):
 * `npx tsx bench/one-run.ts <orders> <graphql|graphql-pages|rest> [threads]`, with BENCH_VERBOSE
 * and BENCH_CPU_PROF as for `npm run bench -- pipeline`. Prints the run's figures as JSON.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedisServer } from '../src/runtime/redis-server.js';
import { ONE_THREAD, pipelineRun, TWO_THREADS, type ShopPath } from './pipeline.js';

const [n = '10000', shopPath = 'graphql', threads = '1'] = process.argv.slice(2);
const redis = await startRedisServer({ dir: mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-redis-')) });
try {
  const load = os.loadavg()[0];
  const r = await pipelineRun(redis.url, Number(n), threads === '2' ? TWO_THREADS : ONE_THREAD, shopPath as ShopPath);
  console.log(JSON.stringify({ orders: Number(n), path: shopPath, threads: Number(threads), loadBefore: load, loadAfter: os.loadavg()[0], ...r, config: undefined }));
} finally {
  await redis.stop();
}
process.exit(0);
