import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { orderReport } from '../../src/admin/reports.js';
import { factKey, orderFactKey } from '../../src/jobs/order-events.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { keysMatching } from '../helpers/redis-scan.js';
import { keySlot } from '../../src/state/key-slot.js';
import { assignCustomerTypes, customerIndex, paidOrdersKey } from '../../src/operations/order-types.js';
import type { CanonicalOrder } from '../../src/core/canonical/schemas.js';
import { asCluster } from '../../src/state/redis-client.js';
import type { Hub } from '../../src/jobs/hub.js';
import { ShardLayout } from '../../src/state/key-layout.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';

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
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
  });

  it('syncs 1,000 orders over 4 pages into exactly 1,000 deals with exact amounts, and a second run pushes nothing', async () => {
    const orders = shopifyOrders(1000);
    const shop = mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    // Where each pulled page's bytes are while its deliveries are pending: its own group, on a
    // cluster with shards (StateStore.sourcePageKey), not the hub tag; the plain name on one Redis.
    const store = t.hub.store;
    const keepPulledPage = store.keepPulledPage.bind(store);
    const pagesKept: { key: string; expected: string; there: number; onHubTag: number }[] = [];
    store.keepPulledPage = async (runId, seq, sealed) => {
      const kept = await keepPulledPage(runId, seq, sealed);
      const id = `${runId}.${seq}`;
      const key = store.sourcePageKey(id);
      pagesKept.push({ key, expected: `${t.hub.layout.groupOf(id)}:srcpage:${id}`, there: await t.hub.redis.exists(key), onHubTag: t.hub.layout.spread ? await t.hub.redis.exists(store.k('srcpage', id)) : 0 });
      return kept;
    };
    t.startWorkers();

    const run = await runToEnd(t);
    expect(run).toMatchObject({ expected: 1000, pushed: 1000, skipped: 0, dead: 0, pages: 4 });
    expect(shop.requests).toHaveLength(4);
    expect(shop.requests[0]).toMatchObject({ limit: '250', status: 'any' });
    expect(shop.requests[1]).not.toHaveProperty('status'); // page_info pages carry only limit
    expect(crm.deals.size).toBe(1000);
    // Sealed sources are kept beside the push jobs only until each record is settled, in any group.
    expect(pagesKept).toHaveLength(4);
    for (const p of pagesKept) expect(p).toMatchObject({ key: p.expected, there: 1, onHubTag: 0 });
    if (t.hub.layout.spread) expect(new Set(pagesKept.map((p) => p.key.slice(0, p.key.indexOf('}:') + 1))).has(t.hub.layout.hub)).toBe(false);
    for (const g of new Set([t.hub.layout.hub, ...t.hub.layout.groups()])) expect(await keysMatching(t.hub.redis, `${g}:srcpage:*`)).toEqual([]);
    expect(Math.max(...crm.calls)).toBeLessThanOrEqual(100);
    for (const o of orders) {
      const deal = crm.deals.get(String(o.order_number));
      expect(deal?.properties.amount).toBe(o.total_price);
      expect(deal?.properties.deal_currency_code).toBe('USD');
    }

    await expectStateSpread(t.hub);
    // The order report reads the day's facts from every group (on one Redis, the one hash): each order once, exact total.
    const report = await orderReport(t.hub, { from: '2008-01-10', to: '2008-01-10' });
    const cents = orders.reduce((sum, o) => sum + BigInt(String(o.total_price).replace('.', '')), 0n);
    const usd = (c: bigint) => `${c / 100n}.${String(c % 100n).padStart(2, '0')}`;
    expect(report.pipelines[0].totals.orders).toMatchObject({ count: 1000, byCurrency: { USD: { count: 1000, total: usd(cents) } } });
    if (t.hub.layout.spread) {
      // A cluster hub from before the facts were sharded keeps them on the hub tag: read too, and
      // an order whose fact was written again since (in its group) counts once, as it now stands.
      const first = `order:shop:${orders[0].id}`;
      const fact = JSON.parse((await t.hub.redis.hget(orderFactKey(t.hub.layout.groupOf(first), 'orders', '2008-01-10'), first))!);
      await t.hub.redis.hset(factKey(t.hub, 'order', 'orders', '2008-01-10'), first, JSON.stringify({ ...fact, total: '999.99' }), 'order:shop:old', JSON.stringify({ ...fact, orderNumber: '1', total: '1.00' }));
      const merged = await orderReport(t.hub, { from: '2008-01-10', to: '2008-01-10' });
      expect(merged.pipelines[0].totals.orders).toMatchObject({ count: 1001, byCurrency: { USD: { count: 1001, total: usd(cents + 100n) } } });
      await t.hub.redis.hdel(factKey(t.hub, 'order', 'orders', '2008-01-10'), first, 'order:shop:old');

      // A customer's paid orders kept on the hub tag by an earlier version still count on a hub
      // whose layout marker that version wrote (v 2): their next paid order is returning, while a
      // new customer's first is new (operations/order-types.ts). A hub new to this version (v 3,
      // as this one) has none there and does not look.
      const paidAt = '2026-01-02T00:00:00Z';
      const order = (email: string) => ({ customer: { email }, paidAt, createdAt: paidAt }) as unknown as CanonicalOrder;
      const known = order('known@example.com');
      const fresh = order('fresh@example.com');
      await t.hub.redis.zadd(t.hub.store.k('custorders', customerIndex(t.hub, 'shop', known)!), Date.parse('2025-01-01T00:00:00Z'), 'order:shop:old');
      expect(t.hub.layout.paidOrdersOnHubTag).toBe(false);
      const markedBefore = Object.create(t.hub, { layout: { value: ShardLayout.cluster(t.hub.config.redis.prefix, t.hub.layout.groups().length, true) } }) as Hub;
      await assignCustomerTypes(markedBefore, [{ key: 'order:shop:k1', connection: 'shop', order: known, status: 'paid' }, { key: 'order:shop:f1', connection: 'shop', order: fresh, status: 'paid' }]);
      expect([known.customerType, fresh.customerType]).toEqual(['returning', 'new']);
      expect(await t.hub.redis.exists(paidOrdersKey(t.hub, customerIndex(t.hub, 'shop', fresh)!))).toBe(1);
      const onlyThere = order('hub-tag-only@example.com');
      await t.hub.redis.zadd(t.hub.store.k('custorders', customerIndex(t.hub, 'shop', onlyThere)!), Date.parse('2025-01-01T00:00:00Z'), 'order:shop:old2');
      await assignCustomerTypes(t.hub, [{ key: 'order:shop:h1', connection: 'shop', order: onlyThere, status: 'paid' }]);
      expect(onlyThere.customerType).toBe('new');
    }

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
  const perOrder: string[] = [];
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
        for (const key of keys) if (/:(person|facts|custorders):/.test(key)) perOrder.push(key);
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
  // The person index (by person), the order facts with their homes (by order key) and the
  // customers' paid orders (by customer index), once the largest families left on the hub tag,
  // are in the groups: the hub tag holds none of them.
  const groups = new Set(hub.layout.groups());
  const inGroups = (family: RegExp) => perOrder.filter((key) => family.test(key));
  expect(inGroups(/:person:customer:/).length).toBeGreaterThan(0);
  for (const key of inGroups(/:person:customer:/)) {
    const person = key.slice(key.indexOf(':person:') + ':person:'.length).replace(/:(keys|refs)$/, '');
    expect(key.startsWith(`${hub.layout.groupOf(person)}:`)).toBe(true);
  }
  expect(inGroups(/:facts:order:/).length).toBeGreaterThan(1);
  // Each customer's paid-order set (order types) in the group of its customer index.
  expect(inGroups(/:custorders:/).length).toBeGreaterThan(1);
  for (const key of inGroups(/:custorders:/)) expect(key).toBe(paidOrdersKey(hub, key.slice(key.indexOf(':custorders:') + ':custorders:'.length)));
  expect(inGroups(/:facts:home$/).length).toBeGreaterThan(1);
  for (const key of perOrder) {
    expect(key.startsWith(`${hub.layout.hub}:`)).toBe(false);
    expect(groups.has(key.slice(0, key.indexOf('}:') + 1))).toBe(true);
  }
}
