import type { ServerType } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { listen } from '../../src/sandbox/demo.js';
import { HubspotSandbox } from '../../src/sandbox/hubspot.js';
import { ShopifySandbox } from '../../src/sandbox/shopify.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';

/**
 * The connector's GraphQL pull against the Shopify sandbox's GraphQL Admin API (not a mock):
 * cost-priced pages of 12 orders, nested line items past their first page, THROTTLED
 * answers while the bucket refills, into the HubSpot sandbox.
 */
function config(shopUrl: string, crmUrl: string, api: 'graphql' | 'rest', backfill: 'pages' | 'bulk' = 'pages') {
  return testConfig({
    connections: {
      // Paged reads are what this test is about: a full pull would otherwise be a bulk operation.
      shop: { connector: 'shopify', baseUrl: shopUrl, api, ...(api === 'graphql' ? { backfill } : {}), credentials: { accessToken: 'shpat_test' } },
      crm: { connector: 'hubspot', baseUrl: crmUrl, credentials: { accessToken: 'pat-test' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 100 } },
  });
}

async function runToEnd(t: TestHub, full = false) {
  const { runId } = await startRun(t.hub, 'orders', full);
  return eventually(async () => {
    const run = await t.hub.store.getRun(runId);
    return run?.finishedAt ? run : undefined;
  }, 150_000, 100);
}

describe('Shopify sandbox over GraphQL → HubSpot sandbox on real Redis', () => {
  let t: TestHub | undefined;
  const servers: ServerType[] = [];
  afterEach(async () => {
    await t?.close();
    t = undefined;
    for (const s of servers.splice(0)) s.close();
  });

  it('syncs every order exactly once with its exact amount, pages nested line items, waits out THROTTLED; a re-run pushes nothing', async () => {
    // Shopify Plus's restore rate (1,000 points/s); an order page costs 974 requested, about 500 actual.
    const shop = new ShopifySandbox({ customers: 100, orders: 400, graphql: { maximumAvailable: 2000, restoreRate: 1000 } });
    const big = shop.addOrder(new Date(Date.UTC(2025, 0, 2)), { lineItems: 12 }) as any;
    const crm = new HubspotSandbox();
    const s = await listen(shop.app());
    const h = await listen(crm.app());
    servers.push(s.server, h.server);
    t = await openTestHub(config(s.url, h.url, 'graphql'));
    t.startWorkers();
    // Another app's burst empties the bucket mid-run: the connector, which last saw it nearly full, sends its
    // next page (974 points) and gets THROTTLED, then waits for the bucket to refill.
    // (The first answer is the scopes question of a full order pull: the 60-day check.)
    const burst = eventually(() => shop.graphql.answers.total >= 4 && (shop.graphql.bucket.drain(), true), 60_000, 5);
    const run = await runToEnd(t);
    await burst;
    expect(run).toMatchObject({ expected: 401, pushed: 401, dead: 0 });
    expect(shop.graphql.answers.throttled).toBeGreaterThan(0);
    expect(crm.objects.deals.size).toBe(401);
    const amounts = new Map([...crm.objects.deals.values()].map((d: any) => [d.properties.synchub_order_number, d.properties.amount]));
    for (const o of shop.orders as any[]) {
      expect(amounts.get(String(o.order_number))).toBe(o.total_price);
      expect(crm.writes.deals.get(String(o.order_number))).toBe(1);
    }
    // The order with 12 line items came whole: 5 in its page, 7 through node(id:).
    const fetched = (await t.hub.client('shop').fetch!('order', String(big.id))) as any;
    expect(fetched.line_items.map((l: any) => Number(l.id))).toEqual(big.line_items.map((l: any) => l.id));

    const calls = crm.upsertCalls;
    expect(await runToEnd(t)).toMatchObject({ pushed: 0, dead: 0 });
    expect(crm.upsertCalls).toBe(calls);
  }, 200_000);

  it('a first run with backfill: bulk reads the JSONL of a bulk operation from the sandbox: every order once, exact amounts; a re-run pushes nothing', async () => {
    const shop = new ShopifySandbox({ customers: 50, orders: 600, graphql: { plan: 'plus' } });
    shop.addOrder(new Date(Date.UTC(2025, 0, 2)), { lineItems: 12 });
    const crm = new HubspotSandbox();
    const s = await listen(shop.app());
    const h = await listen(crm.app());
    servers.push(s.server, h.server);
    t = await openTestHub(config(s.url, h.url, 'graphql', 'bulk'));
    t.startWorkers();
    const run = await runToEnd(t);
    expect(run).toMatchObject({ expected: 601, pushed: 601, dead: 0 });
    // The sandbox's app holds read_all_orders: no 60-day notice on the run.
    expect(run.notices).toBeUndefined();
    const amounts = new Map([...crm.objects.deals.values()].map((d: any) => [d.properties.synchub_order_number, d.properties.amount]));
    for (const o of shop.orders as any[]) {
      expect(amounts.get(String(o.order_number))).toBe(o.total_price);
      expect(crm.writes.deals.get(String(o.order_number))).toBe(1);
    }
    const calls = crm.upsertCalls;
    expect(await runToEnd(t)).toMatchObject({ pushed: 0, dead: 0 });
    expect(crm.upsertCalls).toBe(calls);
  }, 200_000);

  it('the same shop read over REST and then over GraphQL gives the same records: switching pushes nothing', async () => {
    const shop = new ShopifySandbox({ customers: 50, orders: 300, graphql: { plan: 'plus' } });
    const crm = new HubspotSandbox();
    const s = await listen(shop.app());
    const h = await listen(crm.app());
    servers.push(s.server, h.server);
    const rest = config(s.url, h.url, 'rest');
    t = await openTestHub(rest);
    t.startWorkers();
    expect(await runToEnd(t)).toMatchObject({ expected: 300, pushed: 300, dead: 0 });
    await t.close();

    const graphql = config(s.url, h.url, 'graphql');
    graphql.redis.prefix = rest.redis.prefix;
    t = await openTestHub(graphql);
    t.startWorkers();
    const calls = crm.upsertCalls;
    expect(await runToEnd(t, true)).toMatchObject({ expected: 300, pushed: 0, skipped: 300, dead: 0 });
    expect(crm.upsertCalls).toBe(calls);
  }, 200_000);
});
