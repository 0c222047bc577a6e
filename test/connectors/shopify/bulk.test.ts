import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shopify } from '../../../src/connectors/shopify/index.js';
import { BULK_POLL_MIN_MS, BULK_QUERIES, attachBulkChild, bulkPollDelayMs, bulkWakeKey } from '../../../src/connectors/shopify/bulk.js';
import { shopifyWebhooks } from '../../../src/connectors/shopify/webhooks.js';
import { jsonlLines, readBulkPage } from '../../../src/connectors/shopify/bulk-jsonl.js';
import { ConfigError, RemoteUnavailableError, SourceFailedError, SourceNotReadyError, WebhookMalformedError, WebhookSignatureError } from '../../../src/core/errors.js';
import type { ConnectorClient, PullPage, RawPageOfFormat } from '../../../src/connectors/types.js';
import { openSourcePage, sealPulledPage } from '../../../src/jobs/source-pages.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';
import { buildConfig } from '../../../src/config/load.js';
import { createKeyring, generateKeySpec } from '../../../src/core/crypto.js';
import { bulkJsonl, mockShopifyBulk } from '../../helpers/mock-shopify-bulk.js';

const SHOP = 'https://acme.myshopify.com';
const GQL = '/admin/api/2026-10/graphql.json';
const cost = { cost: { requestedQueryCost: 300, actualQueryCost: 120, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1880, restoreRate: 100 } } };

function client(backfill: 'bulk' | 'pages', apiVersion = '2026-10'): ConnectorClient {
  return shopify.create(
    testConnection({ name: 'shop', connector: 'shopify', baseUrl: SHOP, credentials: { accessToken: 'shpat_test' }, options: { apiVersion, api: 'graphql', backfill } }),
    { logger: quietLogger },
  );
}

/** Orders as the paged query returns them, whole: three line items (more than one line per order in the JSONL), shipping, a refund with its transaction. */
function orders(n: number): Record<string, any>[] {
  const base = fixture('shopify/graphql-order.json');
  const lines = [...base.lineItems.nodes, ...fixture('shopify/graphql-order-line-items-page2.json').nodes];
  return Array.from({ length: n }, (_, i) => {
    const o = structuredClone(base);
    const id = 450789469 + i;
    o.id = `gid://shopify/Order/${id}`;
    o.legacyResourceId = String(id);
    o.number = 1001 + i;
    o.name = `#${1001 + i}`;
    o.updatedAt = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString();
    o.totalPriceSet.shopMoney.amount = `${598 + i}.94`;
    o.lineItems = { nodes: lines.map((l: any, k: number) => ({ ...structuredClone(l), id: `gid://shopify/LineItem/${id}${k}` })), pageInfo: { hasNextPage: false, endCursor: 'l' } };
    o.refunds[0].id = `gid://shopify/Refund/${id}`;
    o.refunds[0].transactions.nodes[0].id = `gid://shopify/OrderTransaction/${id}`;
    o.shippingLines.nodes[0].id = `gid://shopify/ShippingLine/${id}`;
    return o;
  });
}

function customers(n: number): Record<string, any>[] {
  const base = fixture('shopify/graphql-customer.json');
  return Array.from({ length: n }, (_, i) => {
    const c = structuredClone(base);
    const id = 207119551 + i;
    c.id = `gid://shopify/Customer/${id}`;
    c.legacyResourceId = String(id);
    c.updatedAt = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString();
    const address = c.addressesV2.nodes[0];
    c.addressesV2.nodes = [
      { ...address, id: `gid://shopify/MailingAddress/${id}1?model_name=CustomerAddress` },
      { ...address, id: `gid://shopify/MailingAddress/${id}2?model_name=CustomerAddress`, address1: 'Other Street 1' },
    ];
    return c;
  });
}

/** Pulls a whole run as the page jobs would, counting the waits the job layer would delay. */
async function pullRun(c: ConnectorClient, entity: 'order' | 'customer', pageSize: number) {
  const pages: PullPage[] = [];
  const waits: SourceNotReadyError[] = [];
  let cursor: unknown = null;
  for (let guard = 0; guard < 100; guard++) {
    let page: PullPage;
    try {
      page = await c.pull(entity, { cursor, pageSize });
    } catch (err) {
      if (!(err instanceof SourceNotReadyError)) throw err;
      waits.push(err);
      continue;
    }
    pages.push(page);
    cursor = page.cursor;
    if (page.done) break;
  }
  return { pages, waits, records: pages.flatMap((p) => p.records), cursor };
}

/**
 * Each page with records is kept as its own lines of the JSONL (its bytes in the file, not its
 * records' JSON written again), and the kept page opens to the same records, as a page job
 * taken up again, a dead letter's source or an erasure opens it.
 */
function expectPagesKeptAsTheirLines(pages: PullPage[], file: Buffer, format: string): void {
  const ring = createKeyring(generateKeySpec('k1'));
  let at = 0;
  for (const [seq, page] of pages.entries()) {
    if (!page.records.length) continue;
    const raw = page.raw as RawPageOfFormat;
    expect(raw).toMatchObject({ connector: 'shopify', format });
    const bytes = Buffer.concat(raw.body);
    expect(bytes.equals(file.subarray(at, at + bytes.length))).toBe(true);
    at += bytes.length;
    const sealed = sealPulledPage(ring, page, `page:r:${seq}`);
    expect(sealed.includes(Buffer.from(String((page.records[0] as any).email)))).toBe(false);
    const opened = openSourcePage(ring, sealed, `page:r:${seq}`);
    expect(opened.records).toStrictEqual(page.records);
    const { raw: _raw, ...rest } = page;
    expect(opened).toEqual(rest);
  }
  expect(at).toBe(file.length);
}

const mapping = (entity: 'order' | 'customer') => loadMapping(defaultMappingFile('shopify', entity, 'in'), { connector: 'shopify', statusMap: shopify.statusMap });

describe('shopify bulk backfills (api: graphql)', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('orders with line items across JSONL lines give the same canonical records as the paged pull, page by page with Range requests', async () => {
    const nodes = orders(5);
    nock(SHOP).post(GQL).reply(200, { data: { orders: { nodes, pageInfo: { hasNextPage: false, endCursor: 'o' } } }, extensions: cost });
    const paged = (await client('pages').pull('order', { cursor: null, pageSize: 25 })).records;

    const bulk = mockShopifyBulk(SHOP, nodes, { polls: 1 });
    const run = await pullRun(client('bulk'), 'order', 2);
    // start (empty page) → one wait while RUNNING → 3 pages of 2, 2, 1 orders.
    expect(run.pages.map((p) => p.records.length)).toEqual([0, 2, 2, 1]);
    expect(run.waits).toHaveLength(1);
    expect(run.waits[0].retryAfterMs).toBe(BULK_POLL_MIN_MS);
    expect(bulk.state.queries).toEqual(['SynchubBulkRunning', 'SynchubBulkRun', 'SynchubBulkOperation', 'SynchubBulkOperation', 'SynchubBulkOperation', 'SynchubBulkOperation']);
    expect(bulk.state.runs).toBe(1);
    // Each page reads from where the last one stopped: the line of the next order.
    const offsets = bulk.state.downloads.map((r) => (r ? Number(r.slice('bytes='.length, -1)) : 0));
    expect(offsets[0]).toBe(0);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(3);
    expect(bulk.file.subarray(offsets[1]).toString().startsWith(`{"id":"gid:\\/\\/shopify\\/Order\\/${450789469 + 2}"`)).toBe(true);
    expect(run.cursor).toEqual({ since: nodes[4].updatedAt });

    expect(run.records).toHaveLength(5);
    const m = mapping('order');
    for (let i = 0; i < 5; i++) {
      const fromBulk = (await m.evaluate(run.records[i])) as any;
      expect(fromBulk).toStrictEqual(await m.evaluate(paged[i]));
      expect(fromBulk.lineItems).toHaveLength(3);
      expect(fromBulk.refundedAmount).toBe('209.00');
    }
    expect(((await m.evaluate(run.records[3])) as any).total).toBe('601.94');
    expectPagesKeptAsTheirLines(run.pages, bulk.file, 'bulk-order');
  });

  it('sends the bulk query without page arguments, grouped by parent (groupObjects: true)', async () => {
    const bodies: any[] = [];
    nock(SHOP).post(GQL, (b) => (bodies.push(b), true)).reply(200, { data: { bulkOperations: { nodes: [] } }, extensions: cost })
      .post(GQL, (b) => (bodies.push(b), true)).reply(200, { data: { bulkOperationRunQuery: { bulkOperation: { id: 'gid://shopify/BulkOperation/1', status: 'CREATED' }, userErrors: [] } }, extensions: cost });
    const page = await client('bulk').pull('order', { cursor: null, pageSize: 250 });
    expect(page).toMatchObject({ records: [], cursor: { bulk: { id: 'gid://shopify/BulkOperation/1' } }, done: false });
    expect(bodies[1].query).toContain('groupObjects: true');
    expect(bodies[1].variables.query).toBe(BULK_QUERIES.order);
    expect(bodies[1].variables.query).not.toMatch(/first:|after:|pageInfo/);
  });

  it('customers with their addresses as child lines give the same canonical records as the paged pull', async () => {
    const nodes = customers(3);
    nock(SHOP).post(GQL).reply(200, { data: { customers: { nodes, pageInfo: { hasNextPage: false, endCursor: 'c' } } }, extensions: cost });
    const paged = (await client('pages').pull('customer', { cursor: null, pageSize: 25 })).records;
    const bulk = mockShopifyBulk(SHOP, nodes);
    const run = await pullRun(client('bulk'), 'customer', 250);
    expectPagesKeptAsTheirLines(run.pages, bulk.file, 'bulk-customer');
    expect(run.pages.map((p) => p.records.length)).toEqual([0, 3]);
    const m = mapping('customer');
    for (let i = 0; i < 3; i++) expect(await m.evaluate(run.records[i])).toStrictEqual(await m.evaluate(paged[i]));
    expect((run.records[0] as any).addresses.map((a: any) => a.address1)).toEqual(['Chestnut Street 92', 'Other Street 1']);
  });

  it('an operation that fails mid-way fails the pull with Shopify\'s error code, and its partial data is never read', async () => {
    const bulk = mockShopifyBulk(SHOP, orders(4), { polls: 2, final: { status: 'FAILED', errorCode: 'TIMEOUT', partial: true } });
    const err = await pullRun(client('bulk'), 'order', 2).catch((e) => e);
    expect(err).toBeInstanceOf(SourceFailedError);
    expect(err).toMatchObject({ code: 'source_failed', sourceCode: 'TIMEOUT', retryable: false });
    expect(err.message).toContain('FAILED with TIMEOUT');
    expect(err.message).toContain('partial result, which is not used');
    expect(bulk.state.downloads).toEqual([]);
  });

  it.each([
    [{ status: 'CANCELED' as const }, 'CANCELED'],
    [{ status: 'EXPIRED' as const }, 'EXPIRED'],
    [{ status: 'FAILED' as const, errorCode: 'ACCESS_DENIED' as const }, 'ACCESS_DENIED'],
  ])('an operation %j fails the pull with code %s', async (final, code) => {
    mockShopifyBulk(SHOP, orders(2), { final });
    const err = await pullRun(client('bulk'), 'order', 2).catch((e) => e);
    expect(err).toMatchObject({ code: 'source_failed', sourceCode: code });
  });

  it('waits when the shop already runs five bulk queries, or Shopify says LIMIT_REACHED; refuses an INVALID query for good', async () => {
    const five = Array.from({ length: 5 }, (_, i) => ({ id: `gid://shopify/BulkOperation/${i}`, query: `{ products { edges { node { id } } } } # ${i}` }));
    const busy = mockShopifyBulk(SHOP, orders(1), { running: five });
    const waited = await client('bulk').pull('order', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(waited).toBeInstanceOf(SourceNotReadyError);
    expect(waited.message).toContain('already runs 5 bulk queries');
    expect(busy.state.runs).toBe(0);
    nock.cleanAll();

    mockShopifyBulk(SHOP, orders(1), { userErrors: [{ field: null, message: 'Bulk operations limit reached. Please try again later.', code: 'LIMIT_REACHED' }] });
    expect(await client('bulk').pull('order', { cursor: null, pageSize: 10 }).catch((e) => e)).toBeInstanceOf(SourceNotReadyError);
    nock.cleanAll();

    mockShopifyBulk(SHOP, orders(1), { userErrors: [{ field: ['query'], message: 'Invalid bulk query: Field \'foo\' doesn\'t exist on type \'Order\'', code: 'INVALID' }] });
    const refused = await client('bulk').pull('order', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(refused).toMatchObject({ code: 'source_failed', sourceCode: 'INVALID' });
    expect(refused.message).toContain("Field 'foo' doesn't exist");
  });

  it('a start whose answer was lost finds its operation still running and follows it instead of starting a second one', async () => {
    const bulk = mockShopifyBulk(SHOP, orders(3), { polls: 3 });
    const c = client('bulk');
    const first = await c.pull('order', { cursor: null, pageSize: 10 });
    // The worker died before it recorded that page: the same page job starts again.
    const again = await c.pull('order', { cursor: null, pageSize: 10 });
    expect(again.cursor).toEqual(first.cursor);
    expect(bulk.state.runs).toBe(1);
  });

  it('reads a server that ignores Range from the start and skips to the page; a short file is a retryable error, an ungrouped one a failure', async () => {
    const nodes = orders(3);
    const bulk = mockShopifyBulk(SHOP, nodes, { noRange: true });
    const run = await pullRun(client('bulk'), 'order', 1);
    expect(run.records.map((r: any) => r.id)).toEqual(nodes.map((n) => n.legacyResourceId));
    expect(bulk.state.downloads.filter(Boolean)).toHaveLength(2);
    expectPagesKeptAsTheirLines(run.pages, bulk.file, 'bulk-order');
    nock.cleanAll();

    // fileSize says more than the server sent: the download broke off.
    const file = bulkJsonl(nodes);
    nock(SHOP).persist().post(GQL).reply(200, { data: { bulkOperation: { id: 'gid://shopify/BulkOperation/9', status: 'COMPLETED', errorCode: null, createdAt: '2026-12-06T10:00:00Z', objectCount: '21', rootObjectCount: '3', fileSize: String(file.length + 500), url: 'https://storage.googleapis.com/out/9', partialDataUrl: null } }, extensions: cost });
    nock('https://storage.googleapis.com').get('/out/9').reply(200, file);
    const short = await client('bulk').pull('order', { cursor: { bulk: { id: 'gid://shopify/BulkOperation/9' } }, pageSize: 10 }).catch((e) => e);
    expect(short).toBeInstanceOf(RemoteUnavailableError);
    expect(short.message).toContain(`ended at byte ${file.length} of ${file.length + 500}`);

    // A line item whose order is not the object above it.
    const lines = file.trim().split('\n');
    const ungrouped = [lines[0], lines[8], ...lines.slice(1, 8), ...lines.slice(9)].join('\n');
    nock.cleanAll();
    nock(SHOP).post(GQL).reply(200, { data: { bulkOperation: { id: 'gid://shopify/BulkOperation/9', status: 'COMPLETED', errorCode: null, createdAt: '2026-12-06T10:00:00Z', objectCount: '21', rootObjectCount: '3', fileSize: String(Buffer.byteLength(ungrouped)), url: 'https://storage.googleapis.com/out/9', partialDataUrl: null } }, extensions: cost });
    nock('https://storage.googleapis.com').get('/out/9').reply(200, ungrouped);
    const bad = await client('bulk').pull('order', { cursor: { bulk: { id: 'gid://shopify/BulkOperation/9' } }, pageSize: 10 }).catch((e) => e);
    expect(bad).toMatchObject({ code: 'source_failed', sourceCode: 'UNGROUPED_RESULT' });

    // The signed URL may redirect within https (followed), never off it.
    nock.cleanAll();
    const completed = { data: { bulkOperation: { id: 'gid://shopify/BulkOperation/9', status: 'COMPLETED', errorCode: null, createdAt: '2026-12-06T10:00:00Z', objectCount: '21', rootObjectCount: '3', fileSize: String(file.length), url: 'https://storage.googleapis.com/out/9', partialDataUrl: null } }, extensions: cost };
    nock(SHOP).persist().post(GQL).reply(200, completed);
    nock('https://storage.googleapis.com').get('/out/9').reply(302, '', { location: 'https://storage.googleapis.com/out/9b' });
    nock('https://storage.googleapis.com').get('/out/9b').reply(200, file);
    const moved = await client('bulk').pull('order', { cursor: { bulk: { id: 'gid://shopify/BulkOperation/9' } }, pageSize: 10 });
    expect(moved.records.map((r: any) => r.id)).toEqual(nodes.map((n) => n.legacyResourceId));
    nock('https://storage.googleapis.com').get('/out/9').reply(302, '', { location: 'http://storage.googleapis.com/out/9b' });
    const plain = await client('bulk').pull('order', { cursor: { bulk: { id: 'gid://shopify/BulkOperation/9' } }, pageSize: 10 }).catch((e) => e);
    expect(plain).toMatchObject({ code: 'remote_rejected' });
    expect(plain.message).toContain('redirected off https');
  });

  it('an operation that found nothing completes with no url and ends the run; API versions before 2026-01 page instead', async () => {
    mockShopifyBulk(SHOP, []);
    const run = await pullRun(client('bulk'), 'order', 10);
    expect(run.pages.map((p) => p.done)).toEqual([false, true]);
    expect(run.cursor).toEqual({ since: undefined });
    nock.cleanAll();

    nock(SHOP).post('/admin/api/2025-10/graphql.json', (b) => /orders\(first: \$first/.test(b.query)).reply(200, { data: { orders: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } }, extensions: cost });
    expect((await client('bulk', '2025-10').pull('order', { cursor: null, pageSize: 10 })).done).toBe(true);
  });

  it('takes `backfill: bulk | pages` on the connection (bulk when unset) and names the path of a bad value', () => {
    const raw = (backfill?: string) => ({
      encryption: { keys: generateKeySpec('k1') },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'graphql', credentials: { accessToken: 'shpat_x' }, ...(backfill === undefined ? {} : { backfill }) },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat-x' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    });
    expect(buildConfig(raw(), '/tmp/hub.yaml', { env: {} }).connections.get('shop')!.options.backfill).toBe('bulk');
    expect(buildConfig(raw('pages'), '/tmp/hub.yaml', { env: {} }).connections.get('shop')!.options.backfill).toBe('pages');
    const err = (() => { try { buildConfig(raw('fast'), '/tmp/hub.yaml', { env: {} }); } catch (e) { return e as ConfigError; } })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems.join('\n')).toMatch(/connections\.shop\.backfill: /);
  });

  it('polls an operation a tenth of its age apart, from 300 ms to 30 s', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    expect(bulkPollDelayMs('2026-12-06T12:00:00Z', now)).toBe(300);
    expect(bulkPollDelayMs('2026-12-06T11:59:59Z', now)).toBe(300);
    expect(bulkPollDelayMs('2026-12-06T11:59:55Z', now)).toBe(500);
    expect(bulkPollDelayMs(undefined, now)).toBe(300);
    expect(bulkPollDelayMs('2026-12-06T11:59:00Z', now)).toBe(6000);
    expect(bulkPollDelayMs('2026-12-06T10:00:00Z', now)).toBe(30_000);
  });
});

describe('shopify bulk JSONL pages', () => {
  it('ends a page early at a root line once it passes maxPageBytes, so a page of large orders stays bounded', async () => {
    const text = Buffer.from(bulkJsonl(orders(4)));
    const read = { end: 0 };
    const chunks = (async function* () { yield new Uint8Array(text); })();
    const page = await readBulkPage(jsonlLines(chunks, 0, 0, read), { limit: 250, attach: attachBulkChild, maxPageBytes: 1, read });
    // One whole order (its six lines) and no more; the next page starts at the second order's line.
    expect(page.roots).toHaveLength(1);
    expect(page.roots[0].lineItems.nodes).toHaveLength(3);
    expect(text.subarray(page.nextOffset).toString().startsWith('{"id":"gid:\\/\\/shopify\\/Order\\/450789470"')).toBe(true);
  });

  it('reads names in any script whole when the download splits a line, or a character, between chunks, and starts the next page at its byte', async () => {
    const lines = [
      { id: 'gid://shopify/Order/1', name: '#1001', note: 'Zoë Müller, 東京' },
      { id: 'gid://shopify/LineItem/11', name: 'Crème brûlée ☕', __parentId: 'gid://shopify/Order/1' },
      { id: 'gid://shopify/Order/2', name: '#1002', note: 'Ægir' },
    ];
    const text = Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n'));
    const secondRoot = text.indexOf('{"id":"gid://shopify/Order/2"');
    // Cut inside the multi-byte 'ü' of the first line, and again inside '☕'.
    const cuts = [text.indexOf('Müller') + 2, text.indexOf('☕') + 1, text.length];
    const chunks = (async function* () {
      let at = 0;
      for (const cut of cuts) { yield new Uint8Array(text.subarray(at, cut)); at = cut; }
    })();
    const read = { end: 0 };
    const page = await readBulkPage(jsonlLines(chunks, 0, 0, read), { limit: 1, attach: attachBulkChild, read });
    expect(page.roots).toEqual([{ id: 'gid://shopify/Order/1', name: '#1001', note: 'Zoë Müller, 東京', lineItems: { nodes: [{ id: 'gid://shopify/LineItem/11', name: 'Crème brûlée ☕' }] } }]);
    expect(page.nextOffset).toBe(secondRoot);
    expect(page.eof).toBe(false);
  });
});

describe('shopify bulk_operations/finish webhook', () => {
  const secret = 'shpss_bulk';
  const deliver = (body: unknown, sign = secret) => {
    const rawBody = Buffer.from(JSON.stringify(body));
    const hmac = createHmac('sha256', sign).update(rawBody).digest('base64');
    return shopifyWebhooks(secret).verify({
      method: 'POST', url: 'https://hub.example/webhooks/shop', rawBody,
      headers: { 'x-shopify-hmac-sha256': hmac, 'x-shopify-topic': 'bulk_operations/finish', 'x-shopify-webhook-id': 'b54557e4-bdd4-4d2a-a1c0-1f4c3e0a9c11' },
    });
  };
  const finish = { admin_graphql_api_id: 'gid://shopify/BulkOperation/720918', completed_at: '2026-12-06T10:23:25-05:00', created_at: '2026-12-06T10:16:35-05:00', error_code: null, status: 'completed', type: 'query' };

  it('stores no event and names the operation whose waiting page job should poll now', () => {
    expect(deliver(finish)).toEqual({ events: [], wake: [bulkWakeKey('gid://shopify/BulkOperation/720918')] });
  });

  it('refuses a body signed with another secret, and one that names no bulk operation', () => {
    expect(() => deliver(finish, 'other')).toThrow(WebhookSignatureError);
    expect(() => deliver({ ...finish, admin_graphql_api_id: 'gid://shopify/Order/1' })).toThrow(WebhookMalformedError);
  });
});
