import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { keysMatching } from '../helpers/redis-scan.js';
import { keySlot } from '../../src/state/key-slot.js';
import { asCluster } from '../../src/state/redis-client.js';
import type { Hub } from '../../src/jobs/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';

function config(extra: Record<string, unknown> = {}) {
  return testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat_test', webhookSecret: 'whsec' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat-test' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
    },
    pipelines: {
      orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 250 },
    },
    ...extra,
  });
}

async function runToEnd(t: TestHub, full = false) {
  const { runId } = await startRun(t.hub, 'orders', full);
  return eventually(async () => {
    const run = await t.hub.store.getRun(runId);
    return run?.finishedAt ? run : undefined;
  }, 60_000);
}

describe('Shopify orders → HubSpot deals on real Redis', () => {
  let t: TestHub;
  beforeEach(() => {
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith('127.0.0.1') || host.startsWith('localhost'));
  });
  afterEach(async () => {
    await t?.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('syncs 1,000 orders over 4 pages into exactly 1,000 deals with exact amounts, and a second run pushes nothing', async () => {
    const orders = shopifyOrders(1000);
    const shop = mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();

    const run = await runToEnd(t);
    expect(run).toMatchObject({ expected: 1000, pushed: 1000, skipped: 0, dead: 0, pages: 4 });
    expect(shop.requests).toHaveLength(4);
    expect(shop.requests[0]).toMatchObject({ limit: '250', status: 'any' });
    expect(shop.requests[1]).not.toHaveProperty('status'); // page_info pages carry only limit
    expect(crm.deals.size).toBe(1000);
    // Sealed sources are kept beside the push jobs only until each record is settled.
    expect(await keysMatching(t.hub.redis, t.hub.store.k('srcpage', '*'))).toEqual([]);
    expect(Math.max(...crm.calls)).toBeLessThanOrEqual(100);
    for (const o of orders) {
      const deal = crm.deals.get(String(o.order_number));
      expect(deal?.properties.amount).toBe(o.total_price);
      expect(deal?.properties.deal_currency_code).toBe('USD');
    }

    await expectStateSpread(t.hub);

    // Incremental run from the committed cursor: nothing changed, nothing pushed.
    const callsBefore = crm.calls.length;
    const again = await runToEnd(t);
    expect(again.pushed).toBe(0);
    expect(again.dead).toBe(0);
    expect(crm.calls.length).toBe(callsBefore);
    expect(shop.requests.at(-1)?.updated_at_min).toBe(orders.at(-1)!.updated_at);

    // Even a full re-read pushes nothing: every record is unchanged.
    const full = await runToEnd(t, true);
    expect(full).toMatchObject({ expected: 1000, pushed: 0, skipped: 1000, dead: 0 });
    expect(crm.calls.length).toBe(callsBefore);
  });
});

/**
 * On a Redis Cluster (the `cluster` project) a hub's state is spread: its keys lie on at least
 * half as many slots as it has shards, every primary holds some, the per-record state (every
 * shard group's keys but the push batches) is spread so that no primary holds more than half of
 * its bytes (MEMORY USAGE), and each push batch's records sit in their batch's group, not on the
 * hub tag (src/state/key-layout.ts). The push batches are left out of the bytes: a run of 1,000
 * orders has ten of them, ~130 KB each, placed by their random batch ids, so their share of one
 * primary is chance; where each one is, is not.
 * On one Redis the names are as they always were: one group, the plain prefix.
 */
async function expectStateSpread(hub: Hub) {
  const cluster = asCluster(hub.redis);
  if (!cluster) {
    expect(hub.layout.groups()).toEqual([hub.config.redis.prefix]);
    expect(hub.store.linkKey('order:shop:1')).toBe(`${hub.config.redis.prefix}:link:order:shop:1`);
    return;
  }
  const shards = hub.layout.groups().length;
  expect(shards).toBe(16);
  const perPrimary = new Map<string, number>();
  const bytesPerPrimary = new Map<string, number>();
  const slots = new Set<number>();
  const batches: string[] = [];
  for (const node of cluster.nodes('master')) {
    let n = 0;
    let bytes = 0;
    for (const pattern of hub.layout.scanPatterns()) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        n += keys.length;
        for (const key of keys) slots.add(keySlot(key));
        for (const key of keys) if (key.includes(':pushrec:')) batches.push(key);
        const records = keys.filter((key) => !key.startsWith(`${hub.layout.hub}:`) && !key.includes(':pushrec:'));
        const sizes = records.length ? await records.reduce((p, key) => p.memory('USAGE', key), node.pipeline()).exec() : [];
        for (const [, size] of sizes ?? []) bytes += Number(size ?? 0);
      } while (cursor !== '0');
    }
    perPrimary.set(`${node.options.host}:${node.options.port}`, n);
    bytesPerPrimary.set(`${node.options.host}:${node.options.port}`, bytes);
  }
  expect(slots.size).toBeGreaterThanOrEqual(shards / 2);
  expect(perPrimary.size).toBe(3);
  for (const n of perPrimary.values()) expect(n).toBeGreaterThan(0);
  // The per-record state's bytes spread over the primaries (range-aligned shard tags: each of
  // three primaries serves 5-6 of the 16 groups, so about a third each).
  const total = [...bytesPerPrimary.values()].reduce((a, b) => a + b, 0);
  if (process.env.SPREAD_VERBOSE) console.log('state keys per primary', Object.fromEntries(perPrimary), 'per-record bytes', Object.fromEntries(bytesPerPrimary), 'slots', slots.size, 'batches', batches.length);
  expect(total).toBeGreaterThan(0);
  expect(Math.max(...bytesPerPrimary.values()) / total).toBeLessThanOrEqual(0.5);
  // The push batches (the largest family, kept an hour after their push) each in their batch's group.
  expect(batches.length).toBeGreaterThan(0);
  for (const key of batches) {
    const id = key.slice(key.indexOf(':pushrec:') + ':pushrec:'.length);
    expect(key).toBe(hub.store.pushRecords.key(id));
    expect(key.startsWith(`${hub.layout.hub}:`)).toBe(false);
  }
}
