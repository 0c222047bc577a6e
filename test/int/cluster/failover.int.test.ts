/**
 * A primary of the Redis Cluster fails during a sync: the hub carries on through the failover.
 * 20,000 Shopify orders are pulled into the HubSpot sandbox while new orders arrive as signed
 * webhooks; at 30% of the deals the primary holding the hub's state and the push queue is SIGKILLed and its replica
 * takes over (cluster-node-timeout 1.5 s). Afterwards every order is in the CRM exactly once with
 * its exact amount, and every webhook answered 2xx was applied once (redis.waitReplicas: 1 makes
 * the route answer only what a replica holds too; the killed node is started again and rejoins as
 * the new primary's replica, and until then the route answers 503 and the sender retries).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/server.js';
import { startRun } from '../../../src/jobs/pull.js';
import { listen } from '../../../src/sandbox/demo.js';
import { HubspotSandbox } from '../../../src/sandbox/hubspot.js';
import { ShopifySandbox } from '../../../src/sandbox/shopify.js';
import { eventually, type TestHub } from '../../helpers/hub.js';
import { clusterConfig, openClusterHub, useRedisCluster } from '../../helpers/redis-cluster.js';
import { ADMIN_TOKEN, adminClient } from '../../helpers/admin.js';
import { synchub } from '../../helpers/cli.js';
import { generateKeySpec } from '../../../src/core/crypto.js';

const ORDERS = Number(process.env.FAILOVER_ORDERS ?? 20_000);
const WEBHOOKS = Number(process.env.FAILOVER_WEBHOOKS ?? 1_000);
const SECRET = 'failover-webhook-secret';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cluster = useRedisCluster({ nodeTimeoutMs: 1500 });

describe('a Redis Cluster primary failing over mid-sync', () => {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('reports the cluster\'s nodes and slot coverage: synchub check and GET /api/redis', async () => {
    const crm = new HubspotSandbox();
    const shop = new ShopifySandbox({ customers: 1, orders: 1 });
    const s = await listen(shop.app());
    const h = await listen(crm.app());
    closers.push(() => s.server.close(), () => h.server.close());
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-cluster-check-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'hub.yaml');
    writeFileSync(file, `
redis: { cluster: [${cluster().urls.slice(0, 2).map((u) => `"${u}"`).join(', ')}], prefix: check }
encryption: { keys: "\${SYNCHUB_KEYS}" }
connections:
  shop: { connector: shopify, baseUrl: "${s.url}", api: rest, credentials: { accessToken: shpat_x } }
  crm: { connector: hubspot, baseUrl: "${h.url}", credentials: { accessToken: pat-x } }
pipelines:
  orders: { source: { connection: shop, entity: order }, targets: [ { connection: crm, entity: order } ] }
`);
    const out = await synchub(['check', '--config', file], { SYNCHUB_KEYS: generateKeySpec('check') });
    expect(out.stdout).toContain('Redis Cluster: ok, 16384 of 16384 slots served');
    // Two seed nodes named, all six found: three primaries with their slots, three replicas.
    expect(out.stdout.match(/primary, slots \d+-\d+/g)).toHaveLength(3);
    expect(out.stdout.match(/replica of 127\.0\.0\.1:\d+/g)).toHaveLength(3);
    // A hub new to the cluster gets 16 shards, 16/3 ± 1 on each of the three primaries (range-aligned tags).
    const layout = /state layout: 16 shard\(s\) \(the hub has not started on this cluster yet[^;]*; shards per primary: (.*)/.exec(out.stdout);
    expect(layout).not.toBeNull();
    const perPrimary = layout![1].split(', ').map((p) => Number(p.split(' ')[1]));
    expect(perPrimary).toHaveLength(3);
    expect(perPrimary.reduce((a, b) => a + b, 0)).toBe(16);
    for (const n of perPrimary) expect(n === 4 || n === 5 || n === 6).toBe(true);
    expect(out.stdout).not.toContain('problem:');
    expect(out.code).toBe(0);

    const t = await openClusterHub(cluster(), clusterConfig(cluster(), {
      server: { adminToken: ADMIN_TOKEN },
      connections: { shop: { connector: 'shopify', baseUrl: s.url, api: 'rest', credentials: { accessToken: 'shpat_x' } } },
      pipelines: {},
    }));
    closers.push(() => t.close());
    const health = (await adminClient(createApp(t.hub)).get('/api/redis')).body;
    expect(health).toMatchObject({ mode: 'cluster', ok: true, state: 'ok', slotsCovered: 16384, slotsTotal: 16384, problems: [] });
    expect(health.nodes.filter((n: { role: string }) => n.role === 'primary')).toHaveLength(3);
  });

  it(`loses and doubles nothing: ${ORDERS} pulled orders and ${WEBHOOKS} webhook orders each in the CRM once, every 2xx webhook applied once`, async () => {
    const shop = new ShopifySandbox({ customers: 500, orders: ORDERS });
    const crm = new HubspotSandbox();
    const s = await listen(shop.app());
    const h = await listen(crm.app());
    closers.push(() => s.server.close(), () => h.server.close());
    // The harshest primary to lose: the one holding the hub's state and the push queue's jobs, so
    // the state's writes and the push worker's blocking connection both fail over. A prefix whose
    // hash tag lands there is drawn (one in three does).
    const pushPrimary = await cluster().primaryOf('{push-crm}');
    let prefix = '';
    for (let i = 0; i < 100 && !prefix; i++) {
      const candidate = `fo${i}x${Date.now().toString(36)}`;
      if ((await cluster().primaryOf(`{${candidate}}`)).port === pushPrimary.port) prefix = candidate;
    }
    const config = clusterConfig(cluster(), {
      connections: {
        shop: { connector: 'shopify', baseUrl: s.url, api: 'rest', credentials: { accessToken: 'shpat_failover', webhookSecret: SECRET } },
        crm: { connector: 'hubspot', baseUrl: h.url, credentials: { accessToken: 'pat-failover' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true, batchSize: 100 } },
      jobs: { lockDurationMs: 15_000, stalledIntervalMs: 5_000, attempts: 20, backoffMs: 300, pushConcurrency: 8 },
      server: { adminToken: ADMIN_TOKEN },
    }, { waitReplicas: 1, waitTimeoutMs: 1000, prefix });
    const t: TestHub = await openClusterHub(cluster(), config);
    closers.push(() => t.close());
    t.startWorkers();
    const server = await listen(createApp(t.hub));
    closers.push(() => server.server.close());

    const { runId } = await startRun(t.hub, 'orders', true);

    // Webhooks: new orders posted 10 at a time; a non-2xx answer is retried, as Shopify does.
    const webhookOrders = Array.from({ length: WEBHOOKS }, () => shop.addOrder());
    const acknowledged = new Set<string>();
    let refused = 0;
    let next = 0;
    const poster = Promise.all(Array.from({ length: 10 }, async () => {
      while (next < webhookOrders.length) {
        const order = webhookOrders[next++];
        for (let attempt = 0; ; attempt++) {
          const res = await shop.postOrderWebhookRaw(`${server.url}/webhooks/shop`, SECRET, order).catch(() => null);
          if (res?.status === 200) {
            acknowledged.add(String(order.order_number));
            break;
          }
          refused++;
          if (attempt > 300) throw new Error(`webhook of order ${order.order_number} never accepted`);
          await sleep(200);
        }
        await sleep(20);
      }
    }));

    await eventually(() => crm.objects.deals.size >= ORDERS * 0.3, 300_000, 100);
    const statePrimary = await cluster().primaryOf(process.env.FAILOVER_KILL_TAG ?? `{${config.redis.prefix}}`);
    cluster().kill(statePrimary);
    const promoted = await cluster().waitPromoted(statePrimary, `{${config.redis.prefix}}`, 60_000);
    expect(promoted.port).not.toBe(statePrimary.port);
    // The nodes agree on the failure a moment apart; the admin API asks whichever answers.
    const admin = adminClient(createApp(t.hub));
    const during = await eventually(async () => {
      const body = (await admin.get('/api/redis')).body;
      const sees = body.problems.includes(`node 127.0.0.1:${statePrimary.port} is marked failed`)
        && body.problems.some((p: string) => /^primary 127\.0\.0\.1:\d+ has no live replica/.test(p));
      return sees ? body : undefined;
    }, 20_000, 200);
    expect(during).toMatchObject({ mode: 'cluster', ok: true, slotsCovered: 16384 });
    // Until the promoted primary has a replica again, the route answers 503 (waitReplicas: 1) and
    // the provider retries. The failed node comes back, as an operator's would, as its replica.
    await cluster().restart(statePrimary);
    await cluster().waitHealthy({ timeoutMs: 60_000 });

    await poster;
    const total = ORDERS + WEBHOOKS;
    await eventually(async () => {
      const run = await t.hub.store.getRun(runId).catch(() => null);
      return crm.objects.deals.size >= total && Boolean(run?.finishedAt);
    }, 300_000, 250);
    let waiting = '';
    await eventually(async () => {
      for (const q of t.hub.allQueues()) {
        const c = await q.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'paused');
        waiting = `${q.name}: ${JSON.stringify(c)}`;
        if (Object.values(c).some((n) => n > 0)) return false;
      }
      return true;
    }, 120_000, 250).catch((err) => {
      throw new Error(`${(err as Error).message}: ${waiting}`);
    });

    const deals = new Map([...crm.objects.deals.values()].map((d) => [d.properties.synchub_order_number!, d]));
    expect(crm.objects.deals.size).toBe(deals.size); // no order has two deals
    const lost: string[] = [];
    const wrong: string[] = [];
    for (const o of shop.orders) {
      const d = deals.get(String(o.order_number));
      if (!d) lost.push(String(o.order_number));
      else if (d.properties.amount !== o.total_price) wrong.push(String(o.order_number));
    }
    expect(lost).toEqual([]);
    expect(wrong).toEqual([]);
    expect(acknowledged.size).toBe(WEBHOOKS);
    expect((await t.hub.store.listDeadLetters({ limit: 5 })).total).toBe(0);
    // Each acknowledged webhook event applied once: the outcomes beyond the run's own are theirs
    // (the full run also reads the webhook orders created before its last page; those it skips).
    const run = (await t.hub.store.getRun(runId))!;
    const stats = await t.hub.store.pipelineStats('orders');
    expect(run.dead).toBe(0);
    expect(run.pushed + run.skipped).toBeGreaterThanOrEqual(ORDERS);
    expect(stats.pushed + stats.skipped + stats.dead - (run.pushed + run.skipped)).toBe(WEBHOOKS);
    console.log(`failover: primary :${statePrimary.port} killed at 30% of deals, replica :${promoted.port} promoted; ${refused} webhook posts refused and retried; ${[...crm.writes.deals.values()].filter((n) => n > 1).length} deals written more than once (idempotent upserts)`);
  }, 600_000);
});
