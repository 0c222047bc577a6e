import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startRun } from '../../../src/jobs/pull.js';
import { scanKeys } from '../../../src/state/redis-client.js';
import { eventually, type TestHub } from '../../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../../helpers/mock-apis.js';
import { clusterConfig, openClusterHub, useRedisCluster } from '../../helpers/redis-cluster.js';

const SHOP = 'https://acme.myshopify.com';
const cluster = useRedisCluster();

const connections = {
  shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat_test', webhookSecret: 'whsec' } },
  crm: { connector: 'hubspot', credentials: { accessToken: 'pat-test' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
};

async function runToEnd(t: TestHub, pipeline: string, full = false) {
  const { runId } = await startRun(t.hub, pipeline, full);
  return eventually(async () => {
    const run = await t.hub.store.getRun(runId);
    return run?.finishedAt ? run : undefined;
  }, 60_000);
}

async function keysLike(t: TestHub, pattern: string): Promise<string[]> {
  const out: string[] = [];
  for await (const keys of scanKeys(t.hub.redis, pattern)) out.push(...keys);
  return out;
}

describe('on a Redis Cluster (3 primaries, 3 replicas)', () => {
  let t: TestHub | undefined;
  beforeEach(() => {
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith('127.0.0.1') || host.startsWith('localhost'));
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('syncs 1,000 Shopify orders into exactly 1,000 HubSpot deals with exact amounts; the queues spread over the primaries', async () => {
    const orders = shopifyOrders(1000);
    const shop = mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openClusterHub(cluster(), clusterConfig(cluster(), {
      connections,
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 250 } },
    }));
    t.startWorkers();

    const run = await runToEnd(t, 'orders');
    expect(run).toMatchObject({ expected: 1000, pushed: 1000, skipped: 0, dead: 0, pages: 4 });
    expect(shop.requests).toHaveLength(4);
    expect(crm.deals.size).toBe(1000);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.properties.amount).toBe(o.total_price);
    expect(await keysLike(t, t.hub.store.k('srcpage', '*'))).toEqual([]);

    // The hub's state under its own hash tag; its queues each on their own slot, not all on one primary.
    expect(t.hub.store.k('run', run.id)).toBe(`{${t.hub.config.redis.prefix}}:run:${run.id}`);
    const primaries = new Set(await Promise.all(['{pull}', '{ingest}', '{push-crm}', '{push-flush}', `{${t.hub.config.redis.prefix}}`].map(async (tag) => (await cluster().primaryOf(tag)).port)));
    expect(primaries.size).toBeGreaterThan(1);

    // A full re-read pushes nothing: every record is unchanged.
    const callsBefore = crm.calls.length;
    const full = await runToEnd(t, 'orders', true);
    expect(full).toMatchObject({ expected: 1000, pushed: 0, skipped: 1000, dead: 0 });
    expect(crm.calls.length).toBe(callsBefore);
  });
});
