import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptWebhook } from '../../src/jobs/webhooks.js';
import type { Job } from 'bullmq';
import { processPage, startRun } from '../../src/jobs/pull.js';
import { jobId, type PullJobData } from '../../src/jobs/queues.js';
import { replayDeadLetter } from '../../src/jobs/replay.js';
import { openSourcePage } from '../../src/jobs/source-pages.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';
import { mockHubspotDeals, shopifyOrders } from '../helpers/mock-apis.js';
import { mockShopifyGraphqlOrders, shopifyGraphqlOrders } from '../helpers/mock-shopify-graphql.js';
import { mockShopifyBulk, type BulkMockOptions } from '../helpers/mock-shopify-bulk.js';

const SHOP = 'https://acme.myshopify.com';

const SECRET = 'shpss_bulk_test';

function config(extra: Record<string, unknown> = {}) {
  return testConfig({
    connections: {
      // backfill: bulk is the default with api: graphql.
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'graphql', credentials: { accessToken: 'shpat_test', webhookSecret: SECRET } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat-test' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 250 } },
    ...extra,
  });
}

async function finished(t: TestHub, runId: string) {
  return eventually(async () => {
    const run = await t.hub.store.getRun(runId);
    return run?.finishedAt ? run : undefined;
  }, 420_000, 100);
}

async function runToEnd(t: TestHub, full = false) {
  return finished(t, (await startRun(t.hub, 'orders', full)).runId);
}

describe('Shopify bulk backfills → HubSpot deals on real Redis', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('5,000 orders through a bulk operation reach HubSpot exactly once with exact amounts; re-runs push nothing', async () => {
    const orders = shopifyOrders(5000);
    const nodes = shopifyGraphqlOrders(orders);
    // The bulk documents first: the paged mock answers every other query (the increments).
    const bulk = mockShopifyBulk(SHOP, nodes, { polls: 1 });
    const paged = mockShopifyGraphqlOrders(SHOP, nodes);
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();

    const run = await runToEnd(t);
    expect(run.error).toBeUndefined();
    expect(run).toMatchObject({ expected: 5000, pushed: 5000, skipped: 0, dead: 0 });
    expect(bulk.state.runs).toBe(1);
    // No order page was read page by page (the paged mock answers only the scopes question besides: the 60-day notice).
    expect(paged.requests.filter((v: any) => v && 'first' in v)).toEqual([]);
    // 20 pages of 250 orders, each read from its own byte offset (a page retried after a stall reads its offset again).
    expect(new Set(bulk.state.downloads).size).toBe(20);
    expect(crm.deals.size).toBe(5000);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.properties.amount).toBe(o.total_price);
    expect(await t.hub.store.getCursor('orders')).toEqual({ since: orders.at(-1)!.updated_at });

    const callsBefore = crm.calls.length;
    const pagedBefore = paged.requests.length;
    // The next run is an increment over GraphQL pages from the bulk run's cursor.
    expect(await runToEnd(t)).toMatchObject({ pushed: 0, dead: 0 });
    expect(paged.requests.slice(pagedBefore).find((v: any) => 'first' in v)?.query).toBe(`updated_at:>='${orders.at(-1)!.updated_at}'`);
    // `sync --full` runs a second bulk operation; every record is unchanged.
    expect(await runToEnd(t, true)).toMatchObject({ expected: 5000, pushed: 0, skipped: 5000, dead: 0 });
    expect(bulk.state.runs).toBe(2);
    expect(crm.calls.length).toBe(callsBefore);
  }, 900_000);

  it('a bulk page is kept as its JSONL lines: a push batch whose records are gone dead-letters each order with its source, which replays', async () => {
    const orders = shopifyOrders(3);
    const bulk = mockShopifyBulk(SHOP, shopifyGraphqlOrders(orders), { polls: 0 });
    mockShopifyGraphqlOrders(SHOP, shopifyGraphqlOrders(orders));
    const crm = mockHubspotDeals();
    t = await openTestHub(config({ jobs: { attempts: 1 } }));
    const { hub } = t;
    const { runId } = await hub.store.beginRun('orders', true);
    const page = (seq: number, cursor: unknown) => ({ data: { pipeline: 'orders', runId, seq, cursor } }) as Job<PullJobData>;
    // The start's page job, then the page job it queued, which reads the finished export.
    await processPage(hub, page(0, null));
    const next = await hub.pullQueue.getJob(jobId(runId, 'p', 1));
    expect(await processPage(hub, page(1, next!.data.cursor))).toEqual({ records: 3, done: true });
    const kept = await hub.store.pulledPage(runId, 1);
    // The page's own bytes of the export, sealed: no order's email in the clear, and it opens to the orders in the REST shape.
    expect(kept!.includes(Buffer.from(orders[0].email))).toBe(false);
    expect(openSourcePage(hub.config.keyring, kept!, `page:${runId}:1`).records.map((r: any) => [r.id, r.total_price])).toEqual(orders.map((o) => [String(o.id), o.total_price]));
    await hub.redis.del(await hub.redis.keys(hub.store.k('pushrec', '*')));

    t.startWorkers();
    expect(await finished(t, runId)).toMatchObject({ expected: 3, pushed: 0, dead: 3 });
    const { items } = await hub.store.listDeadLetters({ pipeline: 'orders' });
    expect(items).toHaveLength(3);
    for (const d of items) expect(d.source).toMatch(/^enc:v1:/);
    for (const d of items) await replayDeadLetter(hub, d);
    await eventually(() => crm.deals.size === 3);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.properties.amount).toBe(o.total_price);
    expect(bulk.state.runs).toBe(1);
  });

  it('an operation that fails mid-way fails the run with Shopify\'s code and leaves the cursor where it was', async () => {
    const orders = shopifyOrders(300);
    const bulk = mockShopifyBulk(SHOP, shopifyGraphqlOrders(orders), { polls: 1, final: { status: 'FAILED', errorCode: 'TIMEOUT', partial: true } });
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    await t.hub.store.setCursor('orders', { since: '2024-06-01T00:00:00Z' });
    t.startWorkers();

    const run = await runToEnd(t, true);
    expect(run.error).toContain('FAILED with TIMEOUT');
    expect(run).toMatchObject({ pushed: 0 });
    expect(await t.hub.store.getCursor('orders')).toEqual({ since: '2024-06-01T00:00:00Z' });
    expect(bulk.state.downloads).toEqual([]);
    expect(crm.calls).toEqual([]);
  }, 120_000);

  it('a hub restarted while the operation runs follows the same operation and pushes every order once', async () => {
    const orders = shopifyOrders(300);
    const opts: BulkMockOptions = { polls: 10_000 };
    const bulk = mockShopifyBulk(SHOP, shopifyGraphqlOrders(orders), opts);
    const crm = mockHubspotDeals();
    const cfg = config();
    t = await openTestHub(cfg);
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    // The page job waits delayed in Redis between polls, holding no worker.
    await eventually(async () => bulk.state.polls >= 1 && (await t!.hub.pullQueue.getDelayedCount()) === 1, 30_000);
    await t.close();

    opts.polls = 0; // Shopify finishes the operation while the hub is down.
    t = await openTestHub(cfg);
    t.startWorkers();
    const run = await finished(t, runId);
    expect(run).toMatchObject({ expected: 300, pushed: 300, dead: 0 });
    expect(bulk.state.runs).toBe(1);
    expect(crm.deals.size).toBe(300);
  }, 120_000);

  it('a signed bulk_operations/finish webhook wakes the page job waiting for that operation at once', async () => {
    const orders = shopifyOrders(100);
    // An operation 10 minutes old is polled 30 s apart.
    const opts: BulkMockOptions = { polls: 10_000, createdAt: new Date(Date.now() - 600_000).toISOString() };
    const bulk = mockShopifyBulk(SHOP, shopifyGraphqlOrders(orders), opts);
    mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    await eventually(async () => bulk.state.polls >= 1 && (await t!.hub.pullQueue.getDelayedCount()) === 1, 30_000);

    opts.polls = 0;
    const body = Buffer.from(JSON.stringify({ admin_graphql_api_id: bulk.id, completed_at: new Date().toISOString(), created_at: opts.createdAt, error_code: null, status: 'completed', type: 'query' }));
    const hmac = createHmac('sha256', SECRET).update(body).digest('base64');
    const headers = { 'x-shopify-hmac-sha256': hmac, 'x-shopify-topic': 'bulk_operations/finish', 'x-shopify-webhook-id': 'b54557e4-bdd4-4d2a-a1c0-1f4c3e0a9c11', 'content-type': 'application/json' };
    const forged = await acceptWebhook(t.hub, 'shop', { method: 'POST', url: 'https://hub.example/webhooks/shop', headers: { ...headers, 'x-shopify-hmac-sha256': 'AAAA' }, rawBody: body });
    expect(forged).toMatchObject({ kind: 'refused', status: 401 });
    expect(await t.hub.pullQueue.getDelayedCount()).toBe(1);

    const result = await acceptWebhook(t.hub, 'shop', { method: 'POST', url: 'https://hub.example/webhooks/shop', headers, rawBody: body });
    expect(result).toMatchObject({ kind: 'stored', stored: 0 });
    // Promoted by the notice, not left for its 30 s delay.
    expect(await t.hub.pullQueue.getDelayedCount()).toBe(0);
    expect(await finished(t, runId)).toMatchObject({ expected: 100, pushed: 100, dead: 0 });
  }, 120_000);
});
