/**
 * GraphQL write-backs, versions and scopes through the whole hub on real Redis (issue 16,
 * items 5 and 6): a shop's orders reach a second shop on `api: graphql` as orderMarkAsPaid,
 * each once; one refused with userErrors is dead-lettered with the message (scrubbed) and
 * replays once fixed. The second shop answers with another API version than asked: one
 * notice per connection, across hub processes, shown by GET /api/connections. A full order
 * pull without read_all_orders says on the run (admin API) that it saw only 60 days.
 */
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { replayDeadLetter } from '../../src/jobs/replay.js';
import { Hub } from '../../src/jobs/hub.js';
import { createApp } from '../../src/server.js';
import { createLogger } from '../../src/core/logger.js';
import { SIXTY_DAYS } from '../../src/connectors/shopify/scopes.js';
import { noticesKey } from '../../src/connectors/notices.js';
import { startWorkers } from '../../src/jobs/workers.js';
import { eventually, openTestHub, testConfig, testRedisUrl, type TestHub } from '../helpers/hub.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { mockShopifyGraphqlOrders, shopifyGraphqlOrders } from '../helpers/mock-shopify-graphql.js';
import { mockShopifyGraphqlWrites, pendingOrder } from '../helpers/shopify-graphql-writes.js';

const SOURCE = 'https://alpha.myshopify.com';
const TARGET = 'https://beta.myshopify.com';

function config() {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN },
    connections: {
      source: { connector: 'shopify', baseUrl: SOURCE, api: 'rest', credentials: { accessToken: 'shpat_a' } },
      shop: { connector: 'shopify', baseUrl: TARGET, api: 'graphql', apiVersion: '2025-01', credentials: { accessToken: 'shpat_b' } },
    },
    pipelines: { orders: { source: { connection: 'source', entity: 'order' }, targets: [{ connection: 'shop', entity: 'order' }], batchSize: 50 } },
    jobs: { attempts: 2 },
  });
}

async function runToEnd(t: TestHub, pipeline: string, full = false) {
  const { runId } = await startRun(t.hub, pipeline, full);
  return eventually(async () => {
    const run = await t.hub.store.getRun(runId);
    return run?.finishedAt ? run : undefined;
  }, 60_000);
}

describe('Shopify write-backs over GraphQL, versions and scopes, on real Redis', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('marks each order paid once; userErrors dead-letter that order with the message, scrubbed, and it replays once fixed', async () => {
    const orders = shopifyOrders(12);
    mockShopifyOrders(SOURCE, orders);
    // The target shop still asks 2025-01 and is answered by 2025-04 (fall-forward).
    const shop = mockShopifyGraphqlWrites(TARGET, { version: '2025-01', servedVersion: '2025-04', orders: orders.map((o) => pendingOrder(o.id + 1_000_000, o.name, o.total_price)) });
    const refusedId = String(orders[3].id + 1_000_000);
    shop.refuse.set(`SynchubOrderMarkAsPaid:${refusedId}`, [{ field: ['input', 'id'], message: `Order of ${orders[3].email} cannot be marked as paid: it has a pending payment.` }]);
    t = await openTestHub(config());
    t.startWorkers();

    const run = await runToEnd(t, 'orders');
    expect(run).toMatchObject({ expected: 12, pushed: 11, dead: 1 });
    const paid = (id: string) => shop.mutations.filter((m) => m.op === 'orderMarkAsPaid' && m.id === id).length;
    for (const o of orders) expect(paid(String(o.id + 1_000_000))).toBe(o === orders[3] ? 0 : 1);

    const { items } = await t.hub.store.listDeadLetters({ pipeline: 'orders' });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ step: 'push', target: 'shop', error: { code: 'remote_rejected' } });
    expect(items[0].error.message).toContain('orderMarkAsPaid refused: input.id: Order of [email] cannot be marked as paid');
    expect(items[0].error.message).not.toContain(orders[3].email);
    expect(items[0].errorSealed).toMatch(/^enc:v1:/);

    // Shopify accepts it now: the replay marks it paid, once; nothing else is written again.
    shop.refuse.clear();
    await replayDeadLetter(t.hub, items[0]);
    await eventually(() => paid(refusedId) === 1);
    await eventually(async () => (await t!.hub.store.listDeadLetters({ pipeline: 'orders' })).total === 0);
    expect(shop.mutations.filter((m) => m.op === 'orderMarkAsPaid')).toHaveLength(12);

    // The fall-forward: one notice for the connection, in Redis and the admin API.
    const admin = adminClient(createApp(t.hub));
    const { body } = await admin.get('/api/connections');
    const target = body.connections.find((c: any) => c.name === 'shop');
    expect(target.notices).toEqual([expect.objectContaining({ key: 'api-version:2025-01:2025-04', asked: '2025-01', served: '2025-04', message: expect.stringContaining('Shopify answered with API version 2025-04, not 2025-01') })]);
    expect(body.connections.find((c: any) => c.name === 'source').notices).toEqual([]);

    // A second hub process on the same Redis sees the same answers: it keeps the one notice and logs nothing.
    const lines: any[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (s: string) => { lines.push(JSON.parse(s)); } } });
    const second = await Hub.open(t.hub.config, logger, testRedisUrl());
    const workers = startWorkers(second);
    try {
      orders.push({ ...shopifyOrders(1, { startId: 6_000_000 })[0], order_number: 2001, name: '#2001', updated_at: '2026-01-01T00:00:00.000Z' });
      shop.orders.set('7000000', pendingOrder(7_000_000, '#2001', '10.00'));
      await t.workers!.close();
      await startRun(second, 'orders', false);
      await eventually(() => paid('7000000') === 1);
    } finally {
      await workers.close(true);
      await second.close();
    }
    expect(lines.filter((l) => l.notice?.startsWith('api-version'))).toEqual([]);
    expect(Object.keys(await t.hub.redis.hgetall(noticesKey(t.hub.config.redis.prefix, 'shop')))).toEqual(['api-version:2025-01:2025-04']);
  }, 120_000);

  it('a full order pull without read_all_orders says on the run and in the admin API that it saw only 60 days', async () => {
    const SHOP = 'https://gamma.myshopify.com';
    const orders = shopifyOrders(30);
    // currentAppInstallation first (its own interceptor), then the orders connection.
    nock(SHOP).persist().post('/admin/api/2026-10/graphql.json', (b) => /currentAppInstallation/.test(b.query))
      .reply(200, { data: { currentAppInstallation: { accessScopes: [{ handle: 'read_orders' }, { handle: 'read_customers' }] } }, extensions: { cost: { requestedQueryCost: 2, actualQueryCost: 2, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1998, restoreRate: 100 } } } });
    mockShopifyGraphqlOrders(SHOP, shopifyGraphqlOrders(orders));
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      server: { adminToken: ADMIN_TOKEN },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'graphql', backfill: 'pages', credentials: { accessToken: 'shpat_g' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { backfill: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 10 } },
    }));
    t.startWorkers();
    const run = await runToEnd(t, 'backfill', true);
    expect(run).toMatchObject({ pushed: 30, dead: 0, notices: [SIXTY_DAYS] });
    expect(crm.deals.size).toBe(30);

    const admin = adminClient(createApp(t.hub));
    expect((await admin.get(`/api/runs/${run.id}`)).body.notices).toEqual([SIXTY_DAYS]);
    expect((await admin.get('/api/connections')).body.connections.find((c: any) => c.name === 'shop').notices)
      .toEqual([expect.objectContaining({ key: 'read_all_orders', message: SIXTY_DAYS })]);
    // An increment starts from its cursor: nothing to say.
    expect((await runToEnd(t, 'backfill')).notices).toBeUndefined();
  }, 120_000);
});
