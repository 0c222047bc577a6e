/**
 * A commit over shard groups stopped part-way, as a worker killed mid-commit would leave it
 * (src/state/sharded.ts, the test-only fault on StateStore.testFaults): the first ingest commit
 * and then a push commit each stop after one group has committed, and their jobs are retried.
 * Every order still ends in the CRM once with its exact amount, and the run counts each delivery
 * once: pushed or skipped, nothing dead, nothing twice. Runs on the `cluster` project (16 shards).
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startRun } from '../../../src/jobs/pull.js';
import { eventually, openTestHub, testCluster, testConfig, type TestHub } from '../../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';

describe('a sharded commit stopped after one group, then retried', () => {
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

  it('pushes every order once with its exact amount and counts each delivery once', async () => {
    expect(testCluster()).toBeDefined();
    const orders = shopifyOrders(200);
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat_test', webhookSecret: 'whsec' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat-test' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
      },
      // One page: its ingest commits before any push, so the first fault stops the ingest's commit.
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 250 } },
    }));
    expect(t.hub.layout.groups()).toHaveLength(16);
    // The commits over several groups, in order: the page's ingest (stopped), its retry (let
    // through), the first push (stopped); nothing else commits over several groups before a push.
    const faults = { failAfterGroups: 1, times: 2, passBetween: 1 };
    t.hub.store.testFaults = faults;
    t.startWorkers();

    const { runId } = await startRun(t.hub, 'orders', false);
    const run = await eventually(async () => {
      const r = await t.hub.store.getRun(runId);
      return r?.finishedAt ? r : undefined;
    }, 60_000);
    expect(faults.times).toBe(0);

    expect(crm.deals.size).toBe(200);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.properties.amount).toBe(o.total_price);
    // Each delivery counted once: the records whose group committed before the stop are skipped
    // by their fingerprints on the retry (not sent again), the others pushed.
    expect(run).toMatchObject({ expected: 200, dead: 0 });
    expect(run.pushed + run.skipped).toBe(200);
    expect(run.skipped).toBeGreaterThan(0);
    const sent = crm.calls.reduce((a, b) => a + b, 0);
    // Sent again: only the stopped batch's records outside the group that committed.
    expect(sent - 200).toBeGreaterThan(0);
    expect(sent - 200).toBeLessThan(100);

    // A second full run finds every order unchanged.
    const { runId: again } = await startRun(t.hub, 'orders', true);
    const second = await eventually(async () => {
      const r = await t.hub.store.getRun(again);
      return r?.finishedAt ? r : undefined;
    }, 60_000);
    expect(second).toMatchObject({ expected: 200, pushed: 0, skipped: 200, dead: 0 });
    expect(crm.calls.reduce((a, b) => a + b, 0)).toBe(sent);
  });
});
