import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { startRedisServer, type LocalRedis } from '../../src/runtime/redis-server.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';

describe('Redis restarts under running workers', () => {
  let t: TestHub | undefined;
  let redis: LocalRedis | undefined;
  afterEach(async () => {
    await t?.close();
    await redis?.stop();
    nock.cleanAll();
  });

  it('workers reconnect on their own and finish the run with nothing lost or duplicated', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-aof-'));
    redis = await startRedisServer({ dir, persist: true });
    const port = redis.port;
    mockShopifyOrders(SHOP, shopifyOrders(600));
    const sent = new Map<string, number>();
    const crm = mockHubspotDeals();
    crm.scope.on('request', (_r: unknown, _i: unknown, body: string) => {
      for (const input of JSON.parse(body).inputs) sent.set(input.id, (sent.get(input.id) ?? 0) + 1);
    });
    const cfg = testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, http: { rateLimit: { max: 1, perMs: 50 } } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 100 } },
    });
    cfg.redis.url = redis.url;
    t = await openTestHub(cfg, redis.url);
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    await eventually(() => crm.deals.size >= 100);

    await redis.stop();
    await new Promise((r) => setTimeout(r, 1500));
    redis = await startRedisServer({ port, dir, persist: true });

    const run = await runFinished(t!.hub, runId, 60_000, 200);
    expect(run.dead).toBe(0);
    expect(run.pushed + run.skipped).toBe(600);
    expect(crm.deals.size).toBe(600);
    // A batch in flight when Redis went away may be sent again; its upsert by order number makes that harmless.
    const resent = [...sent.values()].filter((n) => n > 1).length;
    expect(resent).toBeLessThanOrEqual(100);
  });
});
