/**
 * A commit over shard groups stopped part-way, as a worker killed mid-commit would leave it
 * (src/state/sharded.ts, the test-only fault on StateStore.testFaults), and its job retried:
 * - the first ingest commit and then a push commit each stop after one record group;
 * - the ingest's push batches (`pushrec`, in their batches' groups) stop after one group, and a
 *   push's release of its batch stops once it is in, before the job completes;
 * - a pulled page's bytes (in the page's group) stop before they are written, after its pulled
 *   mark on the hub tag, and the release of a settled page's bytes stops before it is sent.
 * Every order still ends in the CRM once with its exact amount, and the run counts each delivery
 * once: pushed or skipped, nothing dead, nothing twice. Runs on the `cluster` project (16 shards).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../../src/jobs/pull.js';
import { openTestHub, runFinished, testCluster, testConfig, type TestHub } from '../../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../../helpers/mock-apis.js';
import { keysMatching } from '../../helpers/redis-scan.js';
import type { ShardFaults } from '../../../src/state/sharded.js';
import { loopbackOnly } from '../../helpers/webhook-crm.js';

const SHOP = 'https://acme.myshopify.com';

describe('a sharded commit stopped after one group, then retried', () => {
  let t: TestHub;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
  });

  /** 200 orders in one page (its ingest commits before any push) to HubSpot, under `faults`; the finished run, the CRM, the orders. */
  async function syncUnder(faults: ShardFaults) {
    expect(testCluster()).toBeDefined();
    const orders = shopifyOrders(200);
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat_test', webhookSecret: 'whsec' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat-test' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 250 } },
    }));
    expect(t.hub.layout.groups()).toHaveLength(16);
    t.hub.store.testFaults = faults;
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    const run = await runFinished(t.hub, runId, 60_000);
    expect(faults.times).toBe(0);
    expect(crm.deals.size).toBe(200);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.properties.amount).toBe(o.total_price);
    expect(run).toMatchObject({ expected: 200, dead: 0 });
    expect(run.pushed + run.skipped).toBe(200);
    return { run, crm, sent: crm.calls.reduce((a, b) => a + b, 0) };
  }

  /** A second full run finds every order unchanged and sends nothing. */
  async function rerunPushesNothing(crm: { calls: number[] }, sent: number) {
    const { runId } = await startRun(t.hub, 'orders', true);
    expect(await runFinished(t.hub, runId, 60_000)).toMatchObject({ expected: 200, pushed: 0, skipped: 200, dead: 0 });
    expect(crm.calls.reduce((a, b) => a + b, 0)).toBe(sent);
  }

  it('pushes every order once with its exact amount and counts each delivery once', async () => {
    // The page's ingest stops after one record group, its retry goes through, then the first push stops after one.
    const { run, crm, sent } = await syncUnder({ failAfterGroups: 1, times: 2, passBetween: 1, steps: ['ingest', 'push'] });
    // Each delivery counted once: the records whose group committed before the stop are skipped
    // by their fingerprints on the retry (not sent again), the others pushed.
    expect(run.skipped).toBeGreaterThan(0);
    // Sent again: only the stopped batch's records outside the group that committed.
    expect(sent - 200).toBeGreaterThan(0);
    expect(sent - 200).toBeLessThan(100);
    await rerunPushesNothing(crm, sent);
  });

  it('keeps the push batches in their own groups, written before their jobs and released after the push, through stops in both', async () => {
    // The ingest's batches stop after one group (or once their one group is in), its retry goes
    // through; then the first push stops once its batch's release is in, before the job completes.
    const { run, crm, sent } = await syncUnder({ failAfterGroups: 1, times: 2, passBetween: 1, steps: ['ingest batches', 'push release'] });
    // Nothing sent twice: the stopped push had committed every record, so its retry skips them all (counted once, as skipped).
    expect(sent).toBe(200);
    expect(run.skipped).toBeGreaterThan(0);
    // The batches are in their groups, none on the hub tag, each released to an hour.
    const kept = (await Promise.all(t.hub.layout.scanPatterns().map((p) => keysMatching(t.hub.redis, p)))).flat().filter((k) => k.includes(':pushrec:'));
    expect(kept.length).toBeGreaterThanOrEqual(2);
    for (const key of kept) {
      const id = key.slice(key.indexOf(':pushrec:') + ':pushrec:'.length);
      expect(key).toBe(t.hub.store.pushRecords.key(id));
      expect(key.startsWith(`${t.hub.layout.hub}:`)).toBe(false);
      const ttl = await t.hub.redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3600);
    }
    await rerunPushesNothing(crm, sent);
  });

  it('keeps a pulled page in its own group and releases it once settled, through a stop before its bytes and a stop before its release', async () => {
    // The page job stops with its pulled mark in and no bytes, its retry pulls the page again and
    // keeps it; then the page's release, by whichever job settled it last (the page job after the
    // run recorded it, or a push), stops before it is sent, and that job's retry releases it.
    const { run, crm, sent } = await syncUnder({ failAfterGroups: 0, times: 2, passBetween: 1, steps: ['pulled page', 'page release'] });
    expect(sent).toBe(200);
    expect(run.pushed + run.skipped).toBe(200);
    const pages = (await Promise.all(t.hub.layout.scanPatterns().map((p) => keysMatching(t.hub.redis, p)))).flat().filter((k) => k.includes(':srcpage:'));
    expect(pages).toEqual([]);
    await rerunPushesNothing(crm, sent);
  });
});
