import type { ServerType } from '@hono/node-server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeySpec } from '../../src/core/crypto.js';
import { listen } from '../../src/sandbox/demo.js';
import { HubspotSandbox } from '../../src/sandbox/hubspot.js';
import { ShopifySandbox } from '../../src/sandbox/shopify.js';
import { testRedisUrl } from '../helpers/hub.js';
import { dumpPrefix } from '../helpers/redis-scan.js';
import { synchub as synchubCli, writeSandboxConfig } from '../helpers/cli.js';

const synchub = (args: string[], env: NodeJS.ProcessEnv) => synchubCli(args, env, 120_000);


describe('synchub sync PIPELINE --dry-run shows what a run would do and writes nothing', () => {
  const shop = new ShopifySandbox({ customers: 20, orders: 60 });
  const crm = new HubspotSandbox();
  const servers: ServerType[] = [];
  const prefix = `dry${Date.now()}`;
  let env: NodeJS.ProcessEnv;
  let redis: Redis;

  beforeAll(async () => {
    const s = await listen(shop.app());
    const h = await listen(crm.app());
    servers.push(s.server, h.server);
    const config = writeSandboxConfig({ shopUrl: s.url, crmUrl: h.url, redisUrl: testRedisUrl(), prefix: `${prefix}`, batchSize: 25 });
    env = { SYNCHUB_KEYS: generateKeySpec('dry'), SYNCHUB_CONFIG: config };
    redis = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    servers.forEach((s) => s.close());
    await redis.quit();
  });

  const crmState = () => JSON.stringify([...crm.objects.deals.values()]);

  it('before the first run: every record would be created; no key is written and the CRM gets no call', async () => {
    // The first process against a fresh Redis leaves only BullMQ's queue version markers (`…:q:{name}:meta`),
    // which any hub process writes when it opens its queues: no cursor, link, fingerprint, sample or job.
    const first = await synchub(['sync', 'orders', '--dry-run', '--limit', '5'], env);
    expect(first.code, first.stderr).toBe(0);
    expect([...(await dumpPrefix(redis, prefix)).keys()].filter((k) => !/:q:\{[a-z-]+\}:meta$/.test(k))).toEqual([]);

    const before = await dumpPrefix(redis, prefix);
    const out = await synchub(['sync', 'orders', '--dry-run', '--limit', '30'], env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/dry run of orders: 30 record\(s\) read \(more at the source; --limit N reads more\); nothing was pushed or recorded/);
    expect(out.stdout.match(/→ crm: create/g)).toHaveLength(30);
    expect(out.stdout).toMatch(/\n30 create\n?$/);
    expect(await dumpPrefix(redis, prefix)).toEqual(before);
    expect(crm.objects.deals.size).toBe(0);
    expect(crm.writes.deals.size).toBe(0);
  });

  it('after a run: a changed order shows the fields that would change, the others are unchanged, a bad one would be dead-lettered; still nothing written', async () => {
    const synced = await synchub(['sync', 'orders', '--wait'], env);
    expect(synced.code, synced.stdout + synced.stderr).toBe(0);
    expect(crm.objects.deals.size).toBe(60);

    // Order 5 is refunded at the shop after the run; a new order with an unknown currency arrives.
    const changed = shop.orders[4] as Record<string, any>;
    changed.total_price = '123.45';
    changed.updated_at = new Date(Date.UTC(2031, 0, 1)).toISOString();
    const bad = shop.addOrder(new Date(Date.UTC(2031, 0, 2))) as Record<string, any>;
    bad.currency = 'XX';

    // BullMQ's own short-lived markers of the run's workers (stalled-check, limiter) expire on their own meanwhile.
    const snapshot = async () => new Map([...(await dumpPrefix(redis, prefix))].filter(([k]) => !/:q:\{[a-z-]+\}:(stalled-check|limiter)$/.test(k)));
    const before = await snapshot();
    const stateBefore = crmState();
    const out = await synchub(['sync', 'orders', '--dry-run'], env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`#${changed.id}  → crm: update \\d+\\n {8}properties\\.amount: would send "123\\.45", has "[\\d.]+"\\n`));
    // A record its mapping refuses has no canonical id yet.
    expect(out.stdout).toMatch(/\(no id\) {2}would be dead-lettered at map_in: .*not an ISO-4217 currency code: XX/);
    expect(out.stdout).toMatch(/1 update, 1 unchanged, 1 dead-lettered/);
    const after = await snapshot();
    // The target's rolling call window (`calls:<connection>`) expires by itself 10 s after the run's
    // last call, which on a busy machine comes before the dry run ends: it may be gone, not changed.
    for (const [k, v] of before) if (/:calls:[^:]+$/.test(k) && !after.has(k)) after.set(k, v);
    expect(after).toEqual(before);
    expect(crmState()).toBe(stateBefore);
  });

  it('refuses a bad --limit and an unknown pipeline', async () => {
    expect((await synchub(['sync', 'orders', '--dry-run', '--limit', '0'], env)).code).toBe(1);
    const unknown = await synchub(['sync', 'nope', '--dry-run'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no pipeline named nope (have: orders)');
  });
});

describe('POST /api/pipelines/:name/dry-run', () => {
  it('answers the same for one pipeline, masked, and writes nothing', async () => {
    const { openTestHub, testConfig } = await import('../helpers/hub.js');
    const { createApp } = await import('../../src/server.js');
    const { adminClient } = await import('../helpers/admin.js');
    const shop = new ShopifySandbox({ customers: 5, orders: 8 });
    const crm = new HubspotSandbox();
    const s = await listen(shop.app());
    const h = await listen(crm.app());
    const t = await openTestHub(testConfig({
      server: { adminToken: 'dry-run-admin-token-0123456789' },
      connections: {
        shop: { connector: 'shopify', baseUrl: s.url, api: 'rest', credentials: { accessToken: 'shpat_x' } },
        crm: { connector: 'hubspot', baseUrl: h.url, credentials: { accessToken: 'pat-x' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    }));
    try {
      const api = adminClient(createApp(t.hub), 'dry-run-admin-token-0123456789');
      const redisKeys = async () => (await t.hub.redis.keys(`${t.hub.config.redis.prefix}:*`)).filter((k) => !/:q:\{[a-z-]+\}:meta$/.test(k)).sort();
      const before = await redisKeys();
      const res = await api.post('/api/pipelines/orders/dry-run?limit=3', {});
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ pipeline: 'orders', pulled: 3, moreAtSource: true });
      expect(res.body.records.map((r: any) => r.targets[0].action)).toEqual(['create', 'create', 'create']);
      expect(JSON.stringify(res.body)).not.toMatch(/@example\.com/);
      expect(await redisKeys()).toEqual(before);
      expect(crm.objects.deals.size).toBe(0);
      expect((await api.post('/api/pipelines/orders/dry-run?limit=0', {})).status).toBe(400);
      expect((await api.post('/api/pipelines/nope/dry-run', {})).status).toBe(404);
    } finally {
      await t.close();
      s.server.close();
      h.server.close();
    }
  });
});
