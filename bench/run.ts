/**
 * npm run bench — runs each benchmark on this machine against its own redis-server, prints
 * a table and writes bench/RESULTS.md. Every figure stands beside a baseline measured in
 * the same run: absolute numbers drift between runs and machines, ratios much less.
 * BENCH_QUICK=1 runs smaller sizes (for a quick look; not for RESULTS.md comparisons).
 * BENCH_CLUSTER=1 makes `pipeline` compare a Redis Cluster with one primary (1 and 2 worker processes).
 * `npm run bench -- webhook queue` runs only the benchmarks named (mapping, queue, webhook,
 * webhook-crm, pipeline, bulk, sealing, timeline) and prints the table without writing RESULTS.md, which holds full runs only.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedisServer } from '../src/runtime/redis-server.js';
import { mappingBench } from './mapping.js';
import { clusterBench, pipelineBench } from './pipeline.js';
import { bulkBench } from './bulk.js';
import { queueBench } from './queue.js';
import { sealingBench } from './sealing.js';
import { timelineBench } from './timeline.js';
import { machine, table, type Row } from './util.js';
import { webhookBench } from './webhook.js';
import { webhookCrmBench } from './webhook-crm.js';

const quick = process.env.BENCH_QUICK === '1';
const BENCHES = ['mapping', 'queue', 'webhook', 'webhook-crm', 'pipeline', 'bulk', 'sealing', 'timeline'] as const;
const only = process.argv.slice(2);
for (const name of only) if (!(BENCHES as readonly string[]).includes(name)) throw new Error(`unknown benchmark "${name}"; choose from ${BENCHES.join(', ')}`);
const selected = (name: (typeof BENCHES)[number]) => only.length === 0 || only.includes(name);

async function main(): Promise<void> {
  const m = machine();
  const redis = await startRedisServer({ dir: mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-redis-')) });
  const rows: Row[] = [];
  let stages: Record<string, number> = {};
  const step = (name: string) => console.error(`[bench] ${name}…`);
  try {
    if (selected('mapping')) { step('mapping'); rows.push(...(await mappingBench(quick ? 2_000 : 20_000))); }
    if (selected('queue')) { step('queue'); rows.push(...(await queueBench(redis.url, quick ? 20 : 200))); }
    if (selected('webhook')) { step('webhook ingest'); rows.push(...(await webhookBench(redis.url, quick ? 3 : 10))); }
    if (selected('webhook-crm')) { step('webhook → CRM'); rows.push(...(await webhookCrmBench(redis.url, quick ? { a: 1_000, b: 1_000 } : { a: 5_000, b: 20_000 }))); }
    if (selected('sealing')) { step('sealing'); rows.push(...(await sealingBench(quick ? 500 : 2_000))); }
    if (selected('timeline')) { step('timeline'); rows.push(...(await timelineBench(quick ? 10_000 : 100_000))); }
    if (selected('pipeline') && process.env.BENCH_CLUSTER === '1') {
      step('pipeline on a Redis Cluster beside one primary'); rows.push(...(await clusterBench(redis.url, quick ? 2_000 : 10_000)));
    } else if (selected('pipeline')) {
      step('pipeline'); const p = await pipelineBench(redis.url, quick ? [2_000] : [10_000, 100_000]);
      rows.push(...p.rows);
      stages = p.stages;
    }
    if (selected('bulk')) { step('shopify bulk JSONL'); rows.push(...(await bulkBench(quick ? [10_000] : [10_000, 100_000]))); }
  } finally {
    await redis.stop();
  }
  const stageTable = ['| stage | ms per 1,000 records |', '|---|---|', ...Object.entries(stages).map(([k, v]) => `| ${k} | ${v.toFixed(1)} |`)].join('\n');
  const out = `# Benchmarks

Run with \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}${quick ? ' (BENCH_QUICK: reduced sizes)' : ''}.
Machine: ${m.cpus}; Node ${m.node}; Redis ${m.redis}; load average before the run ${m.load}.
Each figure is compared with a baseline measured in the same run; the ratio is the figure that carries across machines.

${table(rows)}

Time per stage of the data path (one process, the same orders; \`queue\` is the hand-on from ingest to push alone):

${stageTable}
${history()}`;
  if (only.length === 0) writeFileSync(path.resolve('bench/RESULTS.md'), out);
  else console.error(`[bench] only ${only.join(', ')}: bench/RESULTS.md left as it is`);
  console.log(out);
}

/** bench/HISTORY.md (kept by hand: figures before and after each change, and where the time goes) follows the generated tables. */
function history(): string {
  const file = path.resolve('bench/HISTORY.md');
  return existsSync(file) ? `\n${readFileSync(file, 'utf8')}` : '';
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
