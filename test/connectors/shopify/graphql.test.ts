import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shopify } from '../../../src/connectors/shopify/index.js';
import { costWaitMs, updatedSinceQuery } from '../../../src/connectors/shopify/graphql.js';
import { RateLimitedError, RemoteRejectedError } from '../../../src/core/errors.js';
import { quietLogger } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';
import { buildConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import { generateKeySpec } from '../../../src/core/crypto.js';

const SHOP = 'https://acme.myshopify.com';
const GQL = '/admin/api/2026-10/graphql.json';

function client(http = {}) {
  return shopify.create(
    testConnection({ name: 'shop', connector: 'shopify', baseUrl: SHOP, credentials: { accessToken: 'shpat_test' }, options: { apiVersion: '2026-10', api: 'graphql', backfill: 'pages' }, http: http as any }),
    { logger: quietLogger },
  );
}

/** extensions.cost as shopify.dev documents it. */
const cost = (requested: number, available: number, restoreRate = 100, maximum = 2000) => ({
  cost: { requestedQueryCost: requested, actualQueryCost: requested, throttleStatus: { maximumAvailable: maximum, currentlyAvailable: available, restoreRate } },
});
const order = (id: number, updatedAt: string) => ({
  ...fixture('shopify/graphql-order.json'),
  id: `gid://shopify/Order/${id}`, legacyResourceId: String(id), updatedAt,
  lineItems: { ...fixture('shopify/graphql-order.json').lineItems, pageInfo: { hasNextPage: false, endCursor: 'x' } },
});
/** An increment: a full order pull would also read the granted scopes (the 60-day notice, scopes.ts). */
const SINCE = { since: '2025-01-01T00:00:00Z' };
const page = (field: string, nodes: unknown[], next?: string) => ({
  data: { [field]: { nodes, pageInfo: { hasNextPage: Boolean(next), endCursor: next ?? null } } },
  extensions: cost(52, 1948),
});

describe('shopify GraphQL pulls', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('pages orders by UPDATED_AT with first/after and an updated_at query, and moves the cursor to the newest updatedAt', async () => {
    const bodies: any[] = [];
    nock(SHOP, { reqheaders: { 'x-shopify-access-token': 'shpat_test' } })
      .post(GQL, (b) => (bodies.push(b), true)).reply(200, page('orders', [order(1, '2025-01-02T00:00:00Z'), order(2, '2025-01-04T00:00:00Z')], 'c2'))
      .post(GQL, (b) => (bodies.push(b), true)).reply(200, page('orders', [order(3, '2025-01-05T00:00:00Z')]));
    const c = client();
    const p1 = await c.pull('order', { cursor: { since: '2025-01-01T00:00:00Z' }, pageSize: 2 });
    expect(p1.done).toBe(false);
    expect(p1.records.map((r: any) => r.id)).toEqual(['1', '2']);
    expect(p1.cursor).toEqual({ since: '2025-01-01T00:00:00Z', after: 'c2', maxSeen: '2025-01-04T00:00:00Z' });
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 2 });
    expect(p2.done).toBe(true);
    expect(p2.cursor).toEqual({ since: '2025-01-05T00:00:00Z' });
    expect(bodies[0].query).toMatch(/orders\(first: \$first, after: \$after, query: \$query, sortKey: UPDATED_AT\)/);
    expect(bodies[0].variables).toEqual({ first: 2, after: null, query: "updated_at:>='2025-01-01T00:00:00Z'" });
    expect(bodies[1].variables).toEqual({ first: 2, after: 'c2', query: "updated_at:>='2025-01-01T00:00:00Z'" });
    expect(nock.isDone()).toBe(true);
  });

  it('starts a full pull without a query, caps the page, and restarts from `since` when the cursor came from the REST path', async () => {
    const bodies: any[] = [];
    nock(SHOP).post(GQL, (b) => (bodies.push(b), true)).times(2).reply(200, page('customers', []));
    const c = client();
    expect(await c.pull('customer', { cursor: null, pageSize: 1000 })).toEqual({ records: [], cursor: { since: undefined }, done: true });
    expect(bodies[0].variables).toEqual({ first: 80, after: null, query: null });
    await c.pull('customer', { cursor: { since: '2025-01-01T00:00:00Z', next: `${SHOP}/admin/api/2026-10/customers.json?page_info=abc` }, pageSize: 50 });
    expect(bodies[1].variables).toEqual({ first: 50, after: null, query: "updated_at:>='2025-01-01T00:00:00Z'" });
  });

  it('pages nested line items past their first page and refunds of a full first list', async () => {
    const bodies: any[] = [];
    nock(SHOP)
      .post(GQL, (b) => (bodies.push(b), true)).reply(200, { data: { orders: { nodes: [fixture('shopify/graphql-order.json')], pageInfo: { hasNextPage: false, endCursor: 'o1' } } }, extensions: cost(300, 1700) })
      .post(GQL, (b) => (bodies.push(b), true)).reply(200, { data: { node: { lineItems: fixture('shopify/graphql-order-line-items-page2.json') } }, extensions: cost(102, 1650) });
    const p = await client().pull('order', { cursor: null, pageSize: 10 });
    const o = p.records[0] as any;
    expect(o.line_items.map((l: any) => l.id)).toEqual(['466157049', '518995019', '703073504']);
    expect(o.line_items[2].total_discount).toBe('10.0');
    expect(bodies[1].query).toMatch(/node\(id: \$id\) \{ \.\.\. on Order \{ lineItems\(first: \$first, after: \$after\)/);
    expect(bodies[1].variables).toEqual({ id: 'gid://shopify/Order/450789469', first: 100, after: 'eyJsYXN0X2lkIjo1MTg5OTUwMTl9' });

    // Order.refunds is a list: one that filled its first request is read again with a larger one.
    const refund = (n: number) => ({ id: `gid://shopify/Refund/${n}`, transactions: { nodes: [{ id: `gid://shopify/OrderTransaction/${n}`, kind: 'REFUND', status: 'SUCCESS', amountSet: { shopMoney: { amount: '1.0', currencyCode: 'USD' } } }], pageInfo: { hasNextPage: false, endCursor: null } } });
    const many = { ...order(9, '2025-01-02T00:00:00Z'), refunds: Array.from({ length: 2 }, (_, i) => refund(i)) };
    nock(SHOP)
      .post(GQL).reply(200, page('orders', [many]))
      .post(GQL, (b) => /refunds\(first: 100\)/.test(b.query)).reply(200, { data: { node: { refunds: Array.from({ length: 12 }, (_, i) => refund(i)) } }, extensions: cost(60, 1900) });
    const q = await client().pull('order', { cursor: null, pageSize: 10 });
    expect((q.records[0] as any).refunds).toHaveLength(12);
    expect(nock.isDone()).toBe(true);
  });

  it('pages a customer\'s addresses past their first page', async () => {
    const customer = fixture('shopify/graphql-customer.json');
    customer.addressesV2.pageInfo = { hasNextPage: true, endCursor: 'a1' };
    const second = { ...customer.addressesV2.nodes[0], address1: 'Second Street 1', zip: '40203' };
    let sent: any;
    nock(SHOP)
      .post(GQL).reply(200, page('customers', [customer]))
      .post(GQL, (b) => ((sent = b), true)).reply(200, { data: { node: { addressesV2: { nodes: [second], pageInfo: { hasNextPage: false, endCursor: 'a2' } } } }, extensions: cost(12, 1900) });
    const p = await client().pull('customer', { cursor: null, pageSize: 50 });
    expect((p.records[0] as any).addresses.map((a: any) => a.address1)).toEqual(['Chestnut Street 92', 'Second Street 1']);
    expect(sent.query).toMatch(/\.\.\. on Customer \{ addressesV2\(first: \$first, after: \$after\)/);
    expect(sent.variables).toEqual({ id: 'gid://shopify/Customer/207119551', first: 100, after: 'a1' });
  });

  it('waits before a query the bucket cannot pay for, by requestedQueryCost and restoreRate', async () => {
    const at: number[] = [];
    nock(SHOP)
      // The first answer leaves 10 points; the query costs 60 and the bucket restores 100/s: wait ~500 ms.
      .post(GQL).reply(200, () => (at.push(Date.now()), { ...page('orders', [order(1, '2025-01-02T00:00:00Z')], 'c1'), extensions: cost(60, 10) }))
      .post(GQL).reply(200, () => (at.push(Date.now()), page('orders', [])));
    const c = client();
    const p1 = await c.pull('order', { cursor: SINCE, pageSize: 5 });
    await c.pull('order', { cursor: p1.cursor, pageSize: 5 });
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(450);
    expect(costWaitMs(60, 10, 100)).toBe(500);
    expect(costWaitMs(60, 60, 100)).toBe(0);
  });

  it('hands a wait longer than maxInlineWaitMs to the job layer before sending the query', async () => {
    nock(SHOP).post(GQL).reply(200, { ...page('orders', [order(1, '2025-01-02T00:00:00Z')], 'c1'), extensions: cost(900, 0, 50) });
    const c = client({ maxInlineWaitMs: 1000 });
    const p1 = await c.pull('order', { cursor: SINCE, pageSize: 5 });
    const err = await c.pull('order', { cursor: p1.cursor, pageSize: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBeGreaterThan(17_000);
    expect(nock.isDone()).toBe(true);
  });

  it('never waits for more points than the bucket can hold', async () => {
    // A full bucket of 100 and a query that asked 1,000: waiting for 1,000 would never end; it is sent at once.
    nock(SHOP).post(GQL).reply(200, { ...page('orders', [order(1, '2025-01-02T00:00:00Z')], 'c1'), extensions: cost(1000, 100, 50, 100) })
      .post(GQL).reply(200, page('orders', []));
    // The page of 5 is filled by queries in a row: the second goes at once.
    const p = await client().pull('order', { cursor: SINCE, pageSize: 5 });
    expect(p).toMatchObject({ done: true, records: [expect.objectContaining({ id: '1' })] });
    expect(nock.isDone()).toBe(true);
  });

  it('fills a page of the pipeline\'s batch size with several queries of the cost-limited size', async () => {
    const bodies: any[] = [];
    const orders = Array.from({ length: 30 }, (_, i) => order(i + 1, `2025-01-02T00:00:${String(i).padStart(2, '0')}Z`));
    nock(SHOP)
      .post(GQL, (b) => (bodies.push(b.variables), true)).reply(200, page('orders', orders.slice(0, 12), 'c12'))
      .post(GQL, (b) => (bodies.push(b.variables), true)).reply(200, page('orders', orders.slice(12, 20), 'c20'))
      .post(GQL, (b) => (bodies.push(b.variables), true)).reply(200, page('orders', orders.slice(20, 30)));
    const c = client();
    const p1 = await c.pull('order', { cursor: SINCE, pageSize: 20 });
    expect(p1.records).toHaveLength(20);
    expect(p1.done).toBe(false);
    expect(bodies.map((v) => [v.first, v.after])).toEqual([[12, null], [8, 'c12']]);
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 20 });
    expect(p2).toMatchObject({ done: true, cursor: { since: '2025-01-02T00:00:29Z' } });
    expect(p2.records).toHaveLength(10);
    expect(bodies[2]).toMatchObject({ first: 12, after: 'c20' });
  });

  it('treats a THROTTLED answer (HTTP 200) as a wait and retries, not as a failure', async () => {
    const throttled = {
      errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
      extensions: { cost: { requestedQueryCost: 72, actualQueryCost: null, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 42, restoreRate: 100 } } },
    };
    const at: number[] = [];
    nock(SHOP)
      .post(GQL).reply(200, () => (at.push(Date.now()), throttled))
      .post(GQL).reply(200, () => (at.push(Date.now()), page('customers', [fixture('shopify/graphql-customer.json')])));
    const p = await client().pull('customer', { cursor: null, pageSize: 5 });
    expect(p.records.map((r: any) => r.id)).toEqual(['207119551']);
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(250);

    // Throttled past the in-call retries: a RateLimitedError for the job layer, never a failed run.
    nock(SHOP).post(GQL).times(3).reply(200, throttled);
    const err = await client().pull('customer', { cursor: null, pageSize: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.code).toBe('rate_limited');
  });

  it('refuses other GraphQL errors with their code and message, and a cursor `since` that is not a date', async () => {
    nock(SHOP).post(GQL).reply(200, { errors: [{ message: 'Query cost is 1500, which exceeds the single query max cost limit (1000).', extensions: { code: 'MAX_COST_EXCEEDED', cost: 1500, maxCost: 1000 } }] });
    const err = await client().pull('order', { cursor: null, pageSize: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(RemoteRejectedError);
    expect(err.message).toMatch(/MAX_COST_EXCEEDED: Query cost is 1500/);
    expect(() => updatedSinceQuery("2025-01-01' OR status:any")).toThrow(RemoteRejectedError);
  });

  it('looks a record up by its REST id through the GID', async () => {
    let sent: any;
    nock(SHOP).post(GQL, (b) => ((sent = b), true)).reply(200, { data: { customer: fixture('shopify/graphql-customer.json') }, extensions: cost(10, 1990) })
      .post(GQL).reply(200, { data: { order: null }, extensions: cost(10, 1990) });
    const c = client();
    expect(await c.fetch!('customer', '207119551')).toMatchObject({ id: '207119551', email: 'bob.norman@mail.example.com' });
    expect(sent.variables).toEqual({ id: 'gid://shopify/Customer/207119551' });
    expect(await c.fetch!('order', '1')).toBeNull();
  });

  it('takes `api: graphql | rest` on the connection (graphql when unset) and names the path of a bad value', () => {
    const raw = (api?: string) => ({
      encryption: { keys: generateKeySpec('k1') },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, credentials: { accessToken: 'shpat_x' }, ...(api === undefined ? {} : { api }) },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat-x' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], schedule: '*/5 * * * *' } },
    });
    expect(buildConfig(raw('graphql'), '/tmp/hub.yaml', { env: {} }).connections.get('shop')!.options.api).toBe('graphql');
    expect(buildConfig(raw('rest'), '/tmp/hub.yaml', { env: {} }).connections.get('shop')!.options.api).toBe('rest');
    expect(buildConfig(raw(), '/tmp/hub.yaml', { env: {} }).connections.get('shop')!.options.api).toBe('graphql');
    const err = (() => { try { buildConfig(raw('soap'), '/tmp/hub.yaml', { env: {} }); } catch (e) { return e as ConfigError; } })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems.join('\n')).toMatch(/connections\.shop\.api: .*(graphql|allowed)/);
  });
});
