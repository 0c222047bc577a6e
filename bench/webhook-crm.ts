/**
 * Webhook → CRM end to end: a load generator in its own process posts n signed Shopify
 * orders/create webhooks (each its own order) at 50 connections to /webhooks/shop; workers in
 * this process ingest them and upsert the deals into the HubSpot sandbox. Two runs: (a) no
 * limiter, (b) the HubSpot connector's default limit (100 calls / 10 s) on the push queue,
 * with the sandbox answering 429 beyond it, as HubSpot's TEN_SECONDLY_ROLLING policy does.
 * Reported: answered req/s and p99, time until every deal is in the sandbox, records/s,
 * upsert calls and records per call, and (b) the ratio to what the limit can carry
 * (records/s ÷ (calls/s × batch cap)). Each run twice: the server and the workers in this
 * process (as `synchub start`), and as docs/production.md describes, a `synchub serve` and a
 * `synchub worker` process of their own (this process then holds only the sandbox).
 *
 * (b) runs 20,000 orders (quick: 1,000), 200 calls of 100: twice what one 10-s window allows,
 * so the limit binds. Beside the rates: the hub's CPU time per record (its processes' user +
 * system time from the first webhook to the last deal; in one process that includes the
 * sandbox) and Redis's commands and bytes in per record, steadier than rates on a shared
 * machine. BENCH_CPU_PROF=DIR writes CPU profiles of the hub (this process's, or the serve
 * and worker processes') there; BENCH_WEBHOOK_CRM=a1,b1,a2,b2 runs only the cases named
 * (a/b: the limiter; 1: one process, 2: serve + worker).
 *
 * The (a) runs are measured after a warm-up of twice as many webhooks of other orders through the
 * same hub, the (b) runs after 10,000 and the limit's window (BENCH_WEBHOOK_WARMUP=N sets it, 0
 * for none): a hub that has just started spends its first seconds compiling (see warmupSize).
 *
 * For the worker's own cost: BENCH_WEBHOOK_DRAIN=1 (serve + worker cases) starts the worker only
 * once every webhook is stored and answered, and prints its CPU per record draining them (an idle
 * worker's start-up CPU, measured on an empty prefix, left out; and `steady`: from the moment a
 * tenth of the deals are in, with no start-up in it), with nothing but Redis and the sandbox
 * beside it. BENCH_HEAP_SAMPLE=bench/heap-sample.mjs samples the serve and worker processes'
 * allocations instead of their CPU (see that file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildConfig } from '../src/config/load.js';
import { HUBSPOT_MAX_BATCH } from '../src/connectors/hubspot/client.js';
import { generateKeySpec } from '../src/core/crypto.js';
import { createLogger } from '../src/core/logger.js';
import { Hub } from '../src/jobs/hub.js';
import { startWorkers } from '../src/jobs/workers.js';
import { listen } from '../src/sandbox/demo.js';
import { HubspotSandbox } from '../src/sandbox/hubspot.js';
import { createApp } from '../src/server.js';
import { orders } from './mapping.js';
import { Redis } from 'ioredis';
import { fmt, procStat, ratio, type Row } from './util.js';

const SECRET = 'bench-webhook-crm-secret';
const LIMIT = { max: 100, perMs: 10_000 };

interface Sent { startedAt: number; answered: number; seconds: number; p50: number; p99: number; cpuMs: number }

/** `offset`: the first order's number past the benchmark's first (a warm-up's orders come first). */
function send(url: string, n: number, offset = 0): Promise<Sent> {
  const opts = { url, n, connections: 50, secret: SECRET, template: orders(1)[0], offset };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.resolve('bench/webhook-sender.mjs'), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Sent) : reject(new Error(`the webhook sender exited ${code}`))));
  });
}

interface Result { sent: Sent; deals: number; doneMs: number; complete: boolean; calls: number; written: number; rateLimited: number; cost: Cost }

/** What the run cost: the hub's CPU (ms), Redis's CPU (ms), commands and bytes in. */
interface Cost { hubCpuMs: number; redisCpuMs: number; redisCommands: number; redisBytesIn: number; /** One process: this event loop's delay, p99 and max (ms), as the route's requests wait for it. */ loopDelay?: { p99: number; max: number } }

async function redisCounters(redis: Redis): Promise<Omit<Cost, 'hubCpuMs'> & { redisReads: number }> {
  const info = await redis.info();
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return {
    redisCpuMs: (field('used_cpu_user') + field('used_cpu_sys')) * 1000, redisCommands: field('total_commands_processed'), redisBytesIn: field('total_net_input_bytes'),
    // Socket reads Redis made: about one per write the clients made (a command sent alone, or a pipeline's bytes).
    redisReads: field('total_reads_processed'),
  };
}

/** Calls per command so far (INFO commandstats), for BENCH_VERBOSE. */
async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
}

/**
 * Measures `run` (the webhooks sent until every deal is in): `hubCpuMs` reads the hub's CPU
 * time so far, in ms. With BENCH_CPU_PROF, `profile` starts the hub's profiler and returns its stop.
 */
async function measured<T>(redisUrl: string, hubCpuMs: () => number, run: () => Promise<T>): Promise<{ value: T; cost: Cost }> {
  const redis = new Redis(redisUrl);
  try {
    const [cpu0, r0, c0, w0] = [hubCpuMs(), await redisCounters(redis), await commandStats(redis), writeCalls()];
    const value = await run();
    const [cpu1, r1, c1, w1] = [hubCpuMs(), await redisCounters(redis), await commandStats(redis), writeCalls()];
    if (process.env.BENCH_VERBOSE) {
      const calls = [...c1].map(([cmd, n]) => [cmd, n - (c0.get(cmd) ?? 0)] as const).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
      console.error('[bench] Redis calls (scripts\' inner calls included):', calls.map(([cmd, n]) => `${cmd} ${n}`).join(', '));
      console.error(`[bench] Redis socket reads (about the clients' writes): ${r1.redisReads - r0.redisReads}; this process's write system calls (in one process: the hub's and the sandbox's): ${w1 - w0}`);
    }
    return { value, cost: { hubCpuMs: cpu1 - cpu0, redisCpuMs: r1.redisCpuMs - r0.redisCpuMs, redisCommands: r1.redisCommands - r0.redisCommands, redisBytesIn: r1.redisBytesIn - r0.redisBytesIn } };
  } finally {
    redis.disconnect();
  }
}

const profileDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;

/** This process's CPU profile over `run`, written to BENCH_CPU_PROF as `<label>.cpuprofile`. */
async function profiled<T>(label: string, run: () => Promise<T>): Promise<T> {
  if (!profileDir) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(profileDir, { recursive: true });
    writeFileSync(path.join(profileDir, `${label}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/** Write system calls (write, writev, sendmsg) this process made so far (Linux /proc; 0 elsewhere). */
function writeCalls(): number {
  try {
    return Number(/^syscw: (\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export type Layout = 'one process' | 'serve + worker';

async function runOnce(redisUrl: string, n: number, limited: boolean, timeoutMs: number, layout: Layout): Promise<Result> {
  const crm = new HubspotSandbox();
  if (limited) crm.faults = { limit: LIMIT };
  const sandbox = await listen(crm.app());
  if (layout === 'serve + worker') return runSplit(redisUrl, n, limited, timeoutMs, crm, sandbox);
  const config = buildConfig({
    redis: { url: redisUrl, prefix: `bench-whcrm-${limited ? 'b' : 'a'}-${Date.now()}` }, encryption: { keys: generateKeySpec('bench') },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'http://127.0.0.1:9', credentials: { accessToken: 'x', webhookSecret: SECRET } },
      // (a) a limiter far above what the run needs; (b) the connector's default (100 calls / 10 s).
      crm: { connector: 'hubspot', baseUrl: sandbox.url, credentials: { accessToken: 'x' }, ...(limited ? {} : { http: { rateLimit: { max: 100_000, perMs: 1000 } } }) },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
  }, path.resolve('bench/hub.yaml'), { env: {} });
  const hub = await Hub.open(config, createLogger({ level: 'silent' }), redisUrl);
  const workers = startWorkers(hub);
  const server = await listen(createApp(hub));
  try {
    const warm = warmupSize(n, limited);
    await warmUp(`${server.url}/webhooks/shop`, crm, warm, timeoutMs);
    await afterWarmUp(limited, warm);
    const base = tally(crm);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const { value: sent, cost } = await measured(redisUrl, selfCpuMs, () => profiled(`webhook-crm-${limited ? 'b' : 'a'}-one-process-${Date.now()}`, async () => {
      const s = await send(`${server.url}/webhooks/shop`, n, warm);
      await dealsIn(crm, base.deals + n, s.startedAt + timeoutMs);
      return s;
    }));
    loop.disable();
    return result(crm, n, sent, { ...cost, loopDelay: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } }, base);
  } finally {
    await workers.close(true);
    server.server.close();
    sandbox.server.close();
    await hub.close();
  }
}

async function dealsIn(crm: HubspotSandbox, n: number, deadline: number, pollMs = 20): Promise<void> {
  // BENCH_TRACE=1: the deals in the sandbox over time (ms since the wait began: deals), to see where a run's time went.
  const trace: string[] = [];
  const t0 = Date.now();
  let next = 0;
  while (crm.objects.deals.size < n && Date.now() < deadline) {
    if (process.env.BENCH_TRACE && Date.now() - t0 >= next) {
      trace.push(`${Date.now() - t0}:${crm.objects.deals.size}`);
      next += 100;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  if (process.env.BENCH_TRACE) console.error(`[bench] deals over time (ms:deals) ${trace.join(' ')} ${Date.now() - t0}:${crm.objects.deals.size}`);
}

/** What the sandbox holds and was sent so far: a measured run counts from here (after its warm-up). */
interface Tally { deals: number; calls: number; written: number; rateLimited: number }

function tally(crm: HubspotSandbox): Tally {
  return { deals: crm.objects.deals.size, calls: crm.upsertCalls, written: [...crm.writes.deals.values()].reduce((a, b) => a + b, 0), rateLimited: crm.injected.rateLimits };
}

function result(crm: HubspotSandbox, n: number, sent: Sent, cost: Cost, base: Tally): Result {
  const doneMs = Date.now() - sent.startedAt;
  const now = tally(crm);
  const deals = now.deals - base.deals;
  return { sent, deals, doneMs, complete: deals >= n, calls: now.calls - base.calls, written: now.written - base.written, rateLimited: now.rateLimited - base.rateLimited, cost };
}

/**
 * The serve + worker cases' `jobs` settings other than the defaults, from BENCH_WORKER_NICE (the
 * worker's `jobs.workerNice`, default 5; 0 runs it at the serve process's priority) and
 * BENCH_WORKER_THREADS (`jobs.threads`), for comparing them.
 */
function workerJobs(): string {
  const set = [['workerNice', process.env.BENCH_WORKER_NICE], ['threads', process.env.BENCH_WORKER_THREADS]].filter(([, v]) => v !== undefined && v !== '');
  return set.length ? `jobs: { ${set.map(([k, v]) => `${k}: ${Number(v)}`).join(', ')} }` : '';
}

/**
 * How many webhooks of other orders go through the hub before a run without a limiter is measured
 * (twice the run's, unless BENCH_WEBHOOK_WARMUP says): a long-running hub has compiled its hot code
 * long before a flash sale, as the pipeline benchmark's warm-up assumes too. BENCH_WEBHOOK_WARMUP=0
 * measures a hub that has just started, whose first seconds cost it far more CPU a record (V8
 * compiles the code as it first runs). Runs under the limit (b) are warmed with half as many
 * (10,000: what one window of the limit carries) and measured once the limit's window has passed
 * (see afterWarmUp), so that the hub's limiter and the sandbox's start the measured run empty.
 */
function warmupSize(n: number, limited: boolean): number {
  const w = process.env.BENCH_WEBHOOK_WARMUP;
  return w !== undefined ? Number(w) : limited ? Math.min(n / 2, LIMIT.max * HUBSPOT_MAX_BATCH) : 2 * n;
}

/** After a warm-up under the limit: wait out the window it used, the hub's limiter's and the sandbox's. */
async function afterWarmUp(limited: boolean, warm: number): Promise<void> {
  if (limited && warm) await new Promise((r) => setTimeout(r, LIMIT.perMs + 1000));
}

/** Sends the warm-up's webhooks and waits for every deal; the measured orders are numbered after them. */
async function warmUp(url: string, crm: HubspotSandbox, w: number, timeoutMs: number): Promise<void> {
  if (!w) return;
  await send(url, w);
  await dealsIn(crm, w, Date.now() + timeoutMs);
  if (crm.objects.deals.size < w) throw new Error(`the warm-up's ${w} deals did not all arrive (${crm.objects.deals.size})`);
}

async function waitFor(until: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await until())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

/** The production layout: `synchub serve` and `synchub worker`, each its own process, on one config. */
async function runSplit(redisUrl: string, n: number, limited: boolean, timeoutMs: number, crm: HubspotSandbox, sandbox: Awaited<ReturnType<typeof listen>>): Promise<Result> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-whcrm-'));
  const config = path.join(dir, 'hub.yaml');
  const port = await freePort();
  writeFileSync(config, `
redis: { url: "${redisUrl}", prefix: "bench-whcrm-split-${limited ? 'b' : 'a'}-${Date.now()}" }
encryption: { keys: "\${SYNCHUB_KEYS}" }
server: { port: ${port} }
${workerJobs()}
connections:
  shop: { connector: shopify, baseUrl: "http://127.0.0.1:9", credentials: { accessToken: x, webhookSecret: ${SECRET} } }
  crm: { connector: hubspot, baseUrl: "${sandbox.url}", credentials: { accessToken: x }${limited ? '' : ', http: { rateLimit: { max: 100000, perMs: 1000 } }'} }
pipelines:
  orders: { source: { connection: shop, entity: order }, targets: [ { connection: crm, entity: order } ], webhooks: true }
`);
  const env = { ...process.env, SYNCHUB_KEYS: generateKeySpec('bench'), LOG_LEVEL: 'error' };
  // node refuses --cpu-prof in NODE_OPTIONS; each process writes its profile as it exits.
  const prof = process.env.BENCH_HEAP_SAMPLE ? ['--import', process.env.BENCH_HEAP_SAMPLE] : profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const start = (cmd: string) => spawn(process.execPath, [...prof, path.resolve('bin/synchub.js'), cmd, '--config', config], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  // BENCH_WEBHOOK_DRAIN=1: the worker starts only once every webhook is stored, so its CPU per record is measured alone.
  const drain = process.env.BENCH_WEBHOOK_DRAIN === '1';
  const children: ChildProcess[] = drain ? [start('serve')] : [start('serve'), start('worker')];
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), 30_000);
    await new Promise((r) => setTimeout(r, 1000)); // the worker's queues open
    const hubCpuMs = () => children.reduce((a, c) => a + procStat(c.pid!).cpuMs, 0);
    const eachCpuMs = () => children.map((c) => procStat(c.pid!).cpuMs);
    // The drain measures a worker started after the webhooks are stored: no warm-up (its `steady` figure leaves the start out).
    const warm = drain ? 0 : warmupSize(n, limited);
    await warmUp(`${url}/webhooks/shop`, crm, warm, timeoutMs);
    await afterWarmUp(limited, warm);
    const base = tally(crm);
    const before = eachCpuMs();
    const mine0 = process.cpuUsage();
    const s = drain ? await send(`${url}/webhooks/shop`, n) : undefined;
    let idleStartMs = 0;
    if (drain) {
      // What a worker's start-up costs alone, on a prefix with nothing queued: subtracted below.
      const idleConfig = path.join(dir, 'idle.yaml');
      writeFileSync(idleConfig, readFileSync(config, 'utf8').replace('prefix: "', 'prefix: "idle-'));
      const idle = spawn(process.execPath, [path.resolve('bin/synchub.js'), 'worker', '--config', idleConfig], { env, stdio: ['ignore', 'ignore', 'inherit'] });
      await new Promise((r) => setTimeout(r, 4000));
      idleStartMs = procStat(idle.pid!).cpuMs;
      await new Promise((r) => { idle.once('exit', r); idle.kill('SIGTERM'); });
      children.push(start('worker'));
    }
    const drainStart = Date.now();
    // Steady state: the worker's CPU from the moment a tenth of the deals are in to the last, over the
    // records pushed meanwhile; no start-up to subtract (its estimate varies by ±300 ms, ±60 µs a record).
    let steady: { cpuMs: number; deals: number } | undefined;
    const { value: sent, cost } = await measured(redisUrl, hubCpuMs, async () => {
      const sent = s ?? await send(`${url}/webhooks/shop`, n, warm);
      if (drain) {
        await dealsIn(crm, Math.ceil(n / 10), Date.now() + timeoutMs, 2);
        steady = { cpuMs: procStat(children[1].pid!).cpuMs, deals: crm.objects.deals.size };
      }
      await dealsIn(crm, base.deals + n, (s ? Date.now() : sent.startedAt) + timeoutMs);
      return sent;
    });
    if (drain) {
      const cpuMs = procStat(children[1].pid!).cpuMs;
      const steadyUs = steady && n > steady.deals ? Math.round(((cpuMs - steady.cpuMs) * 1000) / (n - steady.deals)) : NaN;
      console.error(`[bench] drain: ${n} records in ${Date.now() - drainStart} ms, worker CPU ${Math.round(((cpuMs - idleStartMs) * 1000) / n)} µs per record (start-up's ${Math.round(idleStartMs)} ms left out); steady ${steadyUs} µs per record (from deal ${steady?.deals} on)`);
    }
    // Each process's share, from the first webhook to the last deal (start-up left out).
    if (process.env.BENCH_VERBOSE && !drain) {
      // The sender and the sandbox share the machine's cores with the hub: their CPU beside its.
      const mine = process.cpuUsage(mine0);
      console.error(`[bench] CPU µs per record, serve / worker: ${eachCpuMs().map((ms, i) => Math.round(((ms - before[i]) * 1000) / n)).join(' / ')}; sender ${Math.round((sent.cpuMs * 1000) / n)}, this process (the CRM sandbox) ${Math.round((mine.user + mine.system) / n)}`);
    }
    return result(crm, n, sent, cost, base);
  } finally {
    await Promise.all(children.map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); })));
    sandbox.server.close();
  }
}

const CASES = [['a1', 'one process', false], ['b1', 'one process', true], ['a2', 'serve + worker', false], ['b2', 'serve + worker', true]] as const;

/** `n.a` orders in the runs without a limiter, `n.b` in those with it. */
export async function webhookCrmBench(redisUrl: string, n: { a: number; b: number }): Promise<Row[]> {
  const rows: Row[] = [];
  const limitRecordsPerSecond = (LIMIT.max / (LIMIT.perMs / 1000)) * HUBSPOT_MAX_BATCH;
  const only = process.env.BENCH_WEBHOOK_CRM?.split(',').map((c) => c.trim());
  for (const [id, layout, limited] of CASES.filter(([id]) => !only || only.includes(id))) {
    const orders = limited ? n.b : n.a;
    // Record by record, (b) would take n / 10 seconds: the run stops after 10 minutes and reports the rate so far.
    const r = await runOnce(redisUrl, orders, limited, 600_000, layout);
    const label = `webhook → CRM ${limited ? '(b) 100 calls/10 s' : '(a) no limiter'}, ${layout} [${id}]`;
    const recordsPerSecond = (r.deals / r.doneMs) * 1000;
    rows.push(
      { benchmark: label, measure: `answered req/s, p50 / p99 ms (${fmt(orders)} orders/create, 50 connections)`, value: `${fmt(r.sent.answered / r.sent.seconds)}; ${r.sent.p50} / ${r.sent.p99}`, baseline: '', ratio: '', target: 'p99 < 50 ms', met: r.sent.p99 < 50 ? 'yes' : 'no' },
      { benchmark: label, measure: 'time until every deal is in the sandbox (s); records/s end to end', value: `${r.complete ? '' : `> (${fmt(r.deals)} of ${fmt(orders)} after) `}${fmt(r.doneMs / 1000, 1)}; ${fmt(recordsPerSecond)}`, baseline: limited ? `${fmt(limitRecordsPerSecond)} records/s (the limit × cap)` : '', ratio: limited ? ratio(recordsPerSecond, limitRecordsPerSecond) : '', target: limited ? '≥ 0.8 of the limit' : '≥ 2,000 records/s', met: (limited ? recordsPerSecond / limitRecordsPerSecond >= 0.8 : recordsPerSecond >= 2000) ? 'yes' : 'no' },
      { benchmark: label, measure: `hub CPU µs per record${layout === 'one process' ? ' (with the sandbox)' : ''}; Redis CPU µs, commands and bytes in per record`, value: `${fmt((r.cost.hubCpuMs * 1000) / r.deals)}; ${fmt((r.cost.redisCpuMs * 1000) / r.deals)}, ${fmt(r.cost.redisCommands / r.deals, 1)}, ${fmt(r.cost.redisBytesIn / r.deals)}`, baseline: '', ratio: '' },
      ...(r.cost.loopDelay ? [{ benchmark: label, measure: 'the serving event loop\'s delay while it ingests and pushes, p99 / max ms', value: `${fmt(r.cost.loopDelay.p99)} / ${fmt(r.cost.loopDelay.max)}`, baseline: '', ratio: '' }] : []),
      { benchmark: label, measure: 'upsert calls (429s); records per call', value: `${fmt(r.calls)} (${fmt(r.rateLimited)}); ${fmt(r.written / Math.max(1, r.calls), 1)}`, baseline: '', ratio: '', target: '≥ 50 records per call', met: r.written / Math.max(1, r.calls) >= 50 ? 'yes' : 'no' },
    );
  }
  return rows;
}
