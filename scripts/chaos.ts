/**
 * npm run chaos — breaks things on purpose and checks that nothing is lost or duplicated.
 *
 * One `synchub serve` and two `synchub worker` processes sync 20,000 orders from the
 * Shopify sandbox into the HubSpot sandbox, whose batch upserts answer 5% 500s, 5% 429s
 * with Retry-After and occasional 10 s stalls. Meanwhile 5,000 signed orders/create
 * webhooks are posted (10% of them twice), one worker is SIGKILLed and restarted, and
 * Redis is restarted once. All traffic stays on 127.0.0.1; every loop is bounded.
 * Exits 1 on any loss or duplicate.
 *
 * `npm run chaos -- --cluster`: the same on a Redis Cluster of three primaries with a replica each
 * (redis.waitReplicas: 1); instead of the Redis restart, the primary holding the hub's state is
 * SIGKILLed, its replica takes over, and the killed node is started again as the new replica.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { generateKeySpec } from '../src/core/crypto.js';
import { createLogger } from '../src/core/logger.js';
import { Hub } from '../src/jobs/hub.js';
import { startRun } from '../src/jobs/pull.js';
import { freePort, startRedisServer, type LocalRedis } from '../src/runtime/redis-server.js';
import { startRedisCluster, type LocalRedisCluster } from '../src/runtime/redis-cluster.js';
import { listen } from '../src/sandbox/demo.js';
import { HubspotSandbox } from '../src/sandbox/hubspot.js';
import { ShopifySandbox } from '../src/sandbox/shopify.js';

const ORDERS = Number(process.env.CHAOS_ORDERS ?? 20_000);
const WEBHOOKS = Number(process.env.CHAOS_WEBHOOKS ?? 5_000);
const DUPLICATE_SHARE = 0.1;
const DEADLINE_MS = Number(process.env.CHAOS_DEADLINE_MS ?? 15 * 60_000);
const SECRET = 'chaos-webhook-secret';
const BIN = path.resolve('bin/synchub.js');
const log = (msg: string) => console.log(`[chaos ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const ON_CLUSTER = process.argv.slice(2).includes('--cluster');

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = DEADLINE_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(250);
  }
}

async function main(): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-chaos-'));
  let redis: LocalRedis | undefined = ON_CLUSTER ? undefined : await startRedisServer({ dir: path.join(dir, 'redis'), persist: true });
  const cluster: LocalRedisCluster | undefined = ON_CLUSTER ? await startRedisCluster({ primaries: 3, replicas: 1, nodeTimeoutMs: 2000 }) : undefined;
  const redisConfig = cluster
    ? `{ cluster: [${cluster.urls.map((u) => `"${u}"`).join(', ')}], prefix: chaos, waitReplicas: 1, waitTimeoutMs: 1000 }`
    : `{ url: "${redis!.url}", prefix: chaos }`;
  const shop = new ShopifySandbox({ customers: 500, orders: ORDERS });
  const crm = new HubspotSandbox();
  crm.faults = { errorRate: 0.05, rateLimitRate: 0.05, retryAfterSeconds: 1, stallRate: 0.002, stallMs: 10_000 };
  const s = await listen(shop.app());
  const h = await listen(crm.app());
  const port = await freePort();
  const configFile = path.join(dir, 'hub.yaml');
  writeFileSync(configFile, `
redis: ${redisConfig}
server: { port: ${port}, host: 127.0.0.1 }
encryption: { keys: "\${SYNCHUB_KEYS}" }
jobs: { lockDurationMs: 15000, stalledIntervalMs: 5000, pushConcurrency: 8, attempts: 12, backoffMs: 500 }
connections:
  shop: { connector: shopify, baseUrl: "${s.url}", api: rest, credentials: { accessToken: shpat_chaos, webhookSecret: ${SECRET} } }
  crm:
    connector: hubspot
    baseUrl: "${h.url}"
    credentials: { accessToken: pat-chaos }
    http: { timeoutMs: 30000, retries: 2, retryBaseMs: 200, rateLimit: { max: 200, perMs: 1000 } }
    breaker: { threshold: 25, cooldownMs: 1000, maxCooldownMs: 8000 }
pipelines:
  orders:
    source: { connection: shop, entity: order }
    targets: [ { connection: crm, entity: order } ]
    webhooks: true
    batchSize: 100
`);
  const env = { ...process.env, SYNCHUB_KEYS: generateKeySpec('chaos'), LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' };
  const children = new Set<ChildProcess>();
  const run = (args: string[]) => {
    const c = spawn(process.execPath, [BIN, ...args, '--config', configFile], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    children.add(c);
    c.once('exit', () => children.delete(c));
    return c;
  };
  const hub = await Hub.open(loadConfig(configFile, { env }), createLogger({ level: 'silent' }), cluster ? { cluster: cluster.urls } : redis!.url);
  let failed = false;
  try {
    run(['serve']);
    let workerA = run(['worker']);
    run(['worker']);
    await until('the server answers', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.ok === true, 60_000);
    log(`${cluster ? 'Redis Cluster: 3 primaries, 3 replicas, waitReplicas 1' : 'one Redis'}; sandbox: ${ORDERS} orders; CRM faults: 5% 500, 5% 429 (Retry-After 1 s), 0.2% 10 s stalls`);
    const { runId } = await startRun(hub, 'orders', true);
    log(`run ${runId} started`);

    // Webhooks: new orders, posted with bounded concurrency; 10% posted twice.
    const webhookOrders = Array.from({ length: WEBHOOKS }, () => shop.addOrder());
    const posts = webhookOrders.flatMap((o, i) => (i % Math.round(1 / DUPLICATE_SHARE) === 0 ? [o, o] : [o]));
    const answers = { ok: 0, duplicate: 0, retried: 0 };
    const poster = (async () => {
      let next = 0;
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (next < posts.length) {
          const order = posts[next++];
          for (let attempt = 0; ; attempt++) {
            await sleep(100);
            const res = await shop.postOrderWebhookRaw(`http://127.0.0.1:${port}/webhooks/shop`, SECRET, order).catch(() => null);
            if (res && res.status === 200) {
              const body = (await res.json()) as { duplicates: number };
              if (body.duplicates) answers.duplicate++;
              else answers.ok++;
              break;
            }
            // As Shopify does: a non-2xx answer (503 while Redis restarts) is retried later.
            answers.retried++;
            if (attempt > 200) throw new Error('webhook never accepted');
            await sleep(400);
          }
        }
      }));
    })();

    await until('30% of orders in the CRM', () => crm.objects.deals.size >= ORDERS * 0.3);
    log(`SIGKILL worker ${workerA.pid} at ${crm.objects.deals.size} deals`);
    workerA.kill('SIGKILL');
    await sleep(1000);
    workerA = run(['worker']);
    log('worker restarted');

    await until('60% of orders in the CRM', () => crm.objects.deals.size >= ORDERS * 0.6);
    if (cluster) {
      const primary = await cluster.primaryOf('{chaos}');
      log(`SIGKILL the Redis primary :${primary.port} holding the hub's state at ${crm.objects.deals.size} deals`);
      cluster.kill(primary);
      const promoted = await cluster.waitPromoted(primary, '{chaos}', 60_000);
      log(`replica :${promoted.port} took over; restarting :${primary.port} as its replica`);
      await cluster.restart(primary);
      await cluster.waitHealthy({ timeoutMs: 60_000 });
      log('the cluster has a replica for every primary again');
    } else {
      log(`restarting Redis at ${crm.objects.deals.size} deals`);
      const redisPort = redis!.port;
      await redis!.stop();
      await sleep(2000);
      redis = await startRedisServer({ port: redisPort, dir: path.join(dir, 'redis'), persist: true });
      log('Redis is back');
    }

    await poster;
    log(`webhooks posted: ${answers.ok + answers.duplicate} answered 200, ${answers.retried} retried after a non-2xx answer`);
    const total = ORDERS + WEBHOOKS;
    await until(`all ${total} orders in the CRM and the run finished`, async () => {
      const r = await hub.store.getRun(runId).catch(() => null);
      return crm.objects.deals.size >= total && Boolean(r?.finishedAt);
    });
    // Jobs of the killed worker come back after their lock expires: wait until every queue is drained.
    await until('every queue drained', async () => {
      for (const q of hub.allQueues()) {
        const c = await q.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'paused').catch(() => null);
        if (!c || Object.values(c).some((n) => n > 0)) return false;
      }
      return true;
    });

    const deals = new Map([...crm.objects.deals.values()].map((d) => [d.properties.synchub_order_number!, d]));
    let lost = 0;
    let wrongAmount = 0;
    for (const o of shop.orders) {
      const d = deals.get(String(o.order_number));
      if (!d) lost++;
      else if (d.properties.amount !== o.total_price) wrongAmount++;
    }
    const duplicates = crm.objects.deals.size - deals.size;
    const rewrites = [...crm.writes.deals.values()].filter((n) => n > 1).length;
    const webhookNumbers = new Set(webhookOrders.map((o) => String(o.order_number)));
    const webhookRewrites = [...crm.writes.deals.entries()].filter(([n, c]) => webhookNumbers.has(n) && c > 1).length;
    const run_ = await hub.store.getRun(runId);
    const dead = await hub.store.listDeadLetters({ limit: 20 });
    const stats = await hub.store.pipelineStats('orders');
    // Outcomes beyond the run's own are the webhook events': each distinct event must be applied once.
    const runOutcomes = (run_?.pushed ?? 0) + (run_?.skipped ?? 0) + (run_?.dead ?? 0);
    const webhookApplications = stats.pushed + stats.skipped + stats.dead - runOutcomes;

    const rows: [string, string | number][] = [
      ['orders in the shop', shop.orders.length],
      ['deals in the CRM', crm.objects.deals.size],
      ['lost (no deal)', lost],
      ['wrong amount', wrongAmount],
      ['duplicate deals', duplicates],
      ['deals written more than once (re-sent after a fault; idempotent upsert)', rewrites],
      ['  of which webhook orders', webhookRewrites],
      ['webhook deliveries posted (distinct events + duplicates)', `${posts.length} (${WEBHOOKS} + ${posts.length - WEBHOOKS})`],
      ['webhook events applied', webhookApplications],
      ['duplicate deliveries answered "duplicate" (the rest raced their twin; the queue took each event once)', answers.duplicate],
      ['webhook posts retried after 503', answers.retried],
      ['run: pushed / skipped / dead-lettered', `${run_?.pushed} / ${run_?.skipped} / ${run_?.dead}`],
      ['all outcomes: pushed / skipped / dead-lettered', `${stats.pushed} / ${stats.skipped} / ${stats.dead}`],
      ['dead letters', dead.total],
      ['CRM faults injected: 500 / 429 / stalls', `${crm.injected.errors} / ${crm.injected.rateLimits} / ${crm.injected.stalls}`],
      ['wall time', `${((Date.now() - t0) / 1000).toFixed(1)} s`],
    ];
    console.log('\n| chaos figure | value |\n|---|---|');
    for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
    for (const d of dead.items) console.log(`dead letter ${d.id}: ${d.step} ${d.error.code}: ${d.error.message}`);
    failed = lost > 0 || wrongAmount > 0 || duplicates > 0 || dead.total > 0 || webhookApplications !== WEBHOOKS;
    console.log(failed ? '\nCHAOS FAILED: something was lost, duplicated or dead-lettered' : '\nchaos passed: nothing lost, nothing duplicated');
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await hub.close();
    s.server.close();
    h.server.close();
    await redis?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(`chaos aborted: ${(err as Error).message}`);
  process.exit(1);
});
