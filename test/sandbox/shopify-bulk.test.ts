import { describe, expect, it } from 'vitest';
import { ShopifySandbox } from '../../src/sandbox/shopify.js';
import { graphqlOf } from '../helpers/shopify-sandbox.js';

const RUN = `mutation run($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message code } }
}`;
const STATUS = `query status($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount fileSize url partialDataUrl }
}`;
const ORDERS_BULK = `{
  orders(query: "updated_at:>='2025-01-01T00:00:00Z'", sortKey: UPDATED_AT) {
    edges { node {
      id legacyResourceId name totalPriceSet { shopMoney { amount currencyCode } }
      lineItems { edges { node { id sku quantity } } }
      refunds { id transactions { edges { node { id kind amountSet { shopMoney { amount } } } } } }
    } }
  }
}`;

async function until(gql: ReturnType<typeof graphqlOf>, id: string, done: (op: any) => boolean) {
  for (let i = 0; i < 400; i++) {
    const op = (await gql(STATUS, { id })).body.data.bulkOperation;
    if (done(op)) return op;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`bulk operation ${id} did not finish`);
}

async function download(shop: ShopifySandbox, url: string): Promise<{ text: string; lines: any[] }> {
  const u = new URL(url);
  const res = await shop.app().request(u.pathname);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

describe('Shopify sandbox: bulk query operations', () => {
  it('runs a bulk query to COMPLETED and serves its JSONL, nested connection nodes on lines of their own with __parentId', async () => {
    const shop = new ShopifySandbox({ customers: 10, orders: 60, graphql: { bulk: { chunk: 7 } } });
    const gql = graphqlOf(shop);
    const run = await gql(RUN, { query: ORDERS_BULK });
    expect(run.body.data.bulkOperationRunQuery).toEqual({ bulkOperation: { id: 'gid://shopify/BulkOperation/1', status: 'CREATED' }, userErrors: [] });
    expect(run.body.extensions.cost.requestedQueryCost).toBe(10);
    const seen = new Set<string>();
    const op = await until(gql, 'gid://shopify/BulkOperation/1', (o) => (seen.add(o.status), o.status === 'COMPLETED'));
    expect(seen.has('RUNNING')).toBe(true);
    const current = await gql(`{ currentBulkOperation { id status objectCount } }`);
    expect(current.body.data.currentBulkOperation).toEqual({ id: op.id, status: 'COMPLETED', objectCount: op.objectCount });

    const { text, lines } = await download(shop, op.url);
    const orders = shop.orders as any[];
    const lineItems = orders.reduce((n, o) => n + o.line_items.length, 0);
    const transactions = orders.reduce((n, o) => n + o.refunds.reduce((m: number, r: any) => m + r.transactions.length, 0), 0);
    expect(op).toMatchObject({ rootObjectCount: '60', objectCount: String(60 + lineItems + transactions), fileSize: String(Buffer.byteLength(text)), errorCode: null, partialDataUrl: null });
    expect(lines).toHaveLength(Number(op.objectCount));
    // The storage URL serves ranges, as the connector reads a page from its byte offset.
    const at = text.indexOf('\n', Math.floor(text.length / 2)) + 1;
    const ranged = await shop.app().request(new URL(op.url).pathname, { headers: { range: `bytes=${at}-` } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes ${at}-${text.length - 1}/${text.length}`);
    expect(await ranged.text()).toBe(text.slice(at));
    expect((await shop.app().request(new URL(op.url).pathname, { headers: { range: `bytes=${text.length}-` } })).status).toBe(416);
    // Each order's line, then its children; connections are not nested, lists of objects (refunds) are.
    const byId = new Map(lines.map((l) => [l.id, l]));
    for (const o of orders) {
      const parent = byId.get(`gid://shopify/Order/${o.id}`);
      expect(parent).toMatchObject({ legacyResourceId: String(o.id), name: o.name });
      expect(parent.lineItems).toBeUndefined();
      expect(Math.round(Number(parent.totalPriceSet.shopMoney.amount) * 100)).toBe(Math.round(Number(o.total_price) * 100));
      expect(parent.refunds.map((r: any) => r.id)).toEqual(o.refunds.map((r: any) => `gid://shopify/Refund/${r.id}`));
      const children = lines.filter((l) => l.__parentId === parent.id);
      expect(children.map((l) => l.id)).toEqual(o.line_items.map((l: any) => `gid://shopify/LineItem/${l.id}`));
      expect(lines.indexOf(children[0])).toBeGreaterThan(lines.indexOf(parent));
      for (const r of o.refunds) {
        const txs = lines.filter((l) => l.__parentId === `gid://shopify/Refund/${r.id}`);
        expect(txs.map((t) => t.kind)).toEqual(r.transactions.map((t: any) => t.kind.toUpperCase()));
      }
    }
  });

  it('fails an operation with its errorCode on request, keeping what it fetched at partialDataUrl and no url', async () => {
    const finished: string[] = [];
    const shop = new ShopifySandbox({ customers: 5, orders: 40, graphql: { bulk: { chunk: 10, onFinished: (o) => finished.push(`${o.id} ${o.status}`) } } });
    const gql = graphqlOf(shop);
    shop.graphql.bulk.failNextOperation({ errorCode: 'INTERNAL_SERVER_ERROR', afterObjects: 20 });
    const run = await gql(RUN, { query: `{ orders { edges { node { id lineItems { edges { node { id } } } } } } }` });
    const id = run.body.data.bulkOperationRunQuery.bulkOperation.id;
    const op = await until(gql, id, (o) => o.status === 'FAILED');
    expect(op).toMatchObject({ errorCode: 'INTERNAL_SERVER_ERROR', url: null, rootObjectCount: '20', fileSize: null });
    // When Shopify would send bulk_operations/finish.
    expect(finished).toEqual([`${id} FAILED`]);
    const { lines } = await download(shop, op.partialDataUrl);
    expect(lines.filter((l) => !l.__parentId)).toHaveLength(20);
    expect(lines).toHaveLength(Number(op.objectCount));
    const res = await shop.app().request(new URL(op.partialDataUrl).pathname.replace('partial', 'result'));
    expect(res.status).toBe(404);
  });

  it('refuses an invalid bulk query and one over the concurrency limit with userErrors; cancels and expires', async () => {
    const shop = new ShopifySandbox({ customers: 5, orders: 50, graphql: { bulk: { chunk: 1, stepMs: 50 } } });
    const gql = graphqlOf(shop);
    const noConnection = await gql(RUN, { query: `{ order(id: "gid://shopify/Order/450789469") { id } }` });
    expect(noConnection.body.data.bulkOperationRunQuery).toEqual({ bulkOperation: null, userErrors: [{ field: ['query'], message: 'Bulk queries must contain at least one connection.', code: 'INVALID' }] });
    const twoRoots = await gql(RUN, { query: `{ customers { edges { node { id addressesV2 { edges { node { id } } } } } } orders { edges { node { id } } } }` });
    expect(twoRoots.body.data.bulkOperationRunQuery.userErrors[0]).toMatchObject({ code: 'INVALID', message: 'Bulk queries must contain exactly one top-level field.' });
    const six = await gql(RUN, { query: `{ orders { edges { node { id a: lineItems { edges { node { id } } } b: lineItems { edges { node { id } } } c: shippingLines { edges { node { id } } } d: shippingLines { edges { node { id } } } e: lineItems { edges { node { id } } } } } } }` });
    expect(six.body.data.bulkOperationRunQuery.userErrors[0]).toMatchObject({ code: 'INVALID', message: 'Bulk queries cannot contain more than 5 connections.' });
    const unknown = await gql(RUN, { query: `{ orders { edges { node { id shoeSize } } } }` });
    expect(unknown.body.data.bulkOperationRunQuery.userErrors[0]).toMatchObject({ code: 'INVALID', message: "Invalid bulk query: Field 'shoeSize' doesn't exist on type 'Order'" });

    // API 2026-01 and later: five bulk query operations at a time per shop.
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ok = await gql(RUN, { query: `{ orders { edges { node { id } } } }` });
      expect(ok.body.data.bulkOperationRunQuery.userErrors).toEqual([]);
      ids.push(ok.body.data.bulkOperationRunQuery.bulkOperation.id);
    }
    const sixth = await gql(RUN, { query: `{ orders { edges { node { id } } } }` });
    expect(sixth.body.data.bulkOperationRunQuery).toEqual({ bulkOperation: null, userErrors: [{ field: null, message: 'Bulk operations limit reached. Please try again later.', code: 'LIMIT_REACHED' }] });
    // Before 2026-01: one at a time.
    const old = await graphqlOf(shop, '2025-10')(RUN, { query: `{ orders { edges { node { id } } } }` });
    expect(old.body.data.bulkOperationRunQuery.userErrors[0]).toMatchObject({ code: 'OPERATION_IN_PROGRESS' });

    const cancel = await gql(`mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } } }`, { id: ids[0] });
    expect(cancel.body.data.bulkOperationCancel).toEqual({ bulkOperation: { id: ids[0], status: 'CANCELING' }, userErrors: [] });
    expect((await until(gql, ids[0], (o) => o.status === 'CANCELED')).url).toBeNull();
    const done = await until(gql, ids[1], (o) => o.status === 'COMPLETED');
    shop.graphql.bulk.expire(done.id);
    expect((await gql(STATUS, { id: done.id })).body.data.bulkOperation).toMatchObject({ status: 'EXPIRED', url: null });
    expect((await shop.app().request(new URL(done.url).pathname)).status).toBe(404);
  });
});
