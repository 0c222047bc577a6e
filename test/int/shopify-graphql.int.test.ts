import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { mockShopifyGraphqlOrders, shopifyGraphqlOrders } from '../helpers/mock-shopify-graphql.js';

const SHOP = 'https://acme.myshopify.com';

function config(api: 'graphql' | 'rest') {
  return testConfig({
    connections: {
      // Full runs page here too (backfill: pages); bulk backfills: shopify-bulk.int.test.ts.
      shop: { connector: 'shopify', baseUrl: SHOP, api, ...(api === 'graphql' ? { backfill: 'pages' } : {}), credentials: { accessToken: 'shpat_test' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat-test' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 250 } },
  });
}

async function runToEnd(t: TestHub, full = false) {
  const { runId } = await startRun(t.hub, 'orders', full);
  return eventually(async () => {
    const run = await t.hub.store.getRun(runId);
    return run?.finishedAt ? run : undefined;
  }, 120_000);
}

describe('Shopify orders over the GraphQL Admin API → HubSpot deals on real Redis', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('syncs 1,000 orders over GraphQL pages exactly once with exact amounts; a re-run pushes nothing', async () => {
    const orders = shopifyOrders(1000);
    const shop = mockShopifyGraphqlOrders(SHOP, shopifyGraphqlOrders(orders));
    const crm = mockHubspotDeals();
    t = await openTestHub(config('graphql'));
    t.startWorkers();

    const run = await runToEnd(t);
    expect(run).toMatchObject({ expected: 1000, pushed: 1000, skipped: 0, dead: 0 });
    expect(shop.requests[0]).toEqual({ first: 12, after: null, query: null });
    expect(crm.deals.size).toBe(1000);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.properties.amount).toBe(o.total_price);

    const callsBefore = crm.calls.length;
    const again = await runToEnd(t);
    expect(again).toMatchObject({ pushed: 0, dead: 0 });
    expect(crm.calls.length).toBe(callsBefore);
    expect(shop.requests.at(-1)?.query).toBe(`updated_at:>='${orders.at(-1)!.updated_at}'`);
  }, 180_000);

  it('switching a pipeline from api: rest to api: graphql pushes nothing', async () => {
    const orders = shopifyOrders(300);
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    const rest = config('rest');
    t = await openTestHub(rest);
    t.startWorkers();
    expect(await runToEnd(t)).toMatchObject({ expected: 300, pushed: 300, dead: 0 });
    await t.close();
    expect(crm.deals.size).toBe(300);

    nock.cleanAll();
    const crmAfter = mockHubspotDeals(); // any push of the GraphQL runs would reach this one
    const shop = mockShopifyGraphqlOrders(SHOP, shopifyGraphqlOrders(orders));
    const graphql = config('graphql');
    graphql.redis.prefix = rest.redis.prefix;
    t = await openTestHub(graphql);
    t.startWorkers();
    // The REST run's cursor (`since`) carries over; a full re-read over GraphQL finds every record unchanged.
    const incremental = await runToEnd(t);
    expect(incremental).toMatchObject({ pushed: 0, dead: 0 });
    expect(shop.requests[0].query).toBe(`updated_at:>='${orders.at(-1)!.updated_at}'`);
    const full = await runToEnd(t, true);
    expect(full).toMatchObject({ expected: 300, pushed: 0, skipped: 300, dead: 0 });
    expect(crmAfter.calls).toEqual([]);
  }, 180_000);
});
