/**
 * The pipeline benchmark's baselines: the same orders read from the Shopify sandbox and posted
 * to the HubSpot sandbox with no processing (no mapping, state, queue or encryption), on each
 * of the shop's paths, so a run's records/s can be read as a ratio to what the sandboxes and
 * the network alone allow on the machine of the day.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ORDERS_QUERY, ORDER_PAGE } from '../src/connectors/shopify/graphql-queries.js';
import { BULK_QUERIES, bulkPollDelayMs } from '../src/connectors/shopify/bulk.js';

async function postDeals(crmUrl: string, orders: { number: number; total: string }[]): Promise<void> {
  for (let i = 0; i < orders.length; i += 100) {
    const inputs = orders.slice(i, i + 100).map((o) => ({ id: String(o.number), idProperty: 'synchub_order_number', properties: { amount: o.total, synchub_order_number: String(o.number) } }));
    await fetch(`${crmUrl}/crm/v3/objects/deals/batch/upsert`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: JSON.stringify({ inputs }) });
  }
}

/** The GraphQL baseline: the connector's order pages (12 a page) fetched and posted with no processing. */
export async function graphqlBaseline(shopUrl: string, crmUrl: string, n: number): Promise<number> {
  const t0 = performance.now();
  let after: string | null = null;
  let seen = 0;
  do {
    const res: Response = await fetch(`${shopUrl}/admin/api/2026-10/graphql.json`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-access-token': 'x' },
      body: JSON.stringify({ query: ORDERS_QUERY, variables: { first: ORDER_PAGE, after, query: null } }),
    });
    const body = (await res.json()) as { data: { orders: { nodes: { number: number; totalPriceSet: { shopMoney: { amount: string } } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } };
    const { nodes, pageInfo } = body.data.orders;
    await postDeals(crmUrl, nodes.map((o) => ({ number: o.number, total: o.totalPriceSet.shopMoney.amount })));
    seen += nodes.length;
    after = pageInfo.hasNextPage ? pageInfo.endCursor : null;
  } while (after);
  if (seen !== n) throw new Error(`graphql baseline read ${seen} of ${n}`);
  return performance.now() - t0;
}

/**
 * The bulk baseline: what the hub's default full run does with no processing. One
 * bulkOperationRunQuery with the connector's query, polled on the connector's schedule
 * (bulkPollDelayMs), then the JSONL read in one stream and each page of 250 orders posted.
 */
export async function bulkBaseline(shopUrl: string, crmUrl: string, n: number): Promise<number> {
  const t0 = performance.now();
  const gql = async (query: string, variables: Record<string, unknown>) => {
    const res = await fetch(`${shopUrl}/admin/api/2026-10/graphql.json`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-access-token': 'x' }, body: JSON.stringify({ query, variables }) });
    return ((await res.json()) as { data: Record<string, any> }).data;
  };
  const run = await gql('mutation($q: String!) { bulkOperationRunQuery(query: $q, groupObjects: true) { bulkOperation { id createdAt } userErrors { message } } }', { q: BULK_QUERIES.order });
  const { id, createdAt } = run.bulkOperationRunQuery.bulkOperation;
  let url: string;
  for (;;) {
    const op = (await gql('query($id: ID!) { bulkOperation(id: $id) { status url } }', { id })).bulkOperation;
    if (op.status === 'COMPLETED') { url = op.url; break; }
    if (op.status !== 'CREATED' && op.status !== 'RUNNING') throw new Error(`bulk baseline: operation ${op.status}`);
    await new Promise((r) => setTimeout(r, bulkPollDelayMs(createdAt)));
  }
  const res = await fetch(url);
  let page: { number: number; total: string }[] = [];
  let seen = 0;
  for await (const line of createInterface({ input: Readable.fromWeb(res.body as any), crlfDelay: Infinity })) {
    const o = JSON.parse(line);
    if (o.__parentId) continue;
    page.push({ number: o.number, total: o.totalPriceSet.shopMoney.amount });
    if (page.length === 250) { await postDeals(crmUrl, page); seen += page.length; page = []; }
  }
  await postDeals(crmUrl, page);
  seen += page.length;
  if (seen !== n) throw new Error(`bulk baseline read ${seen} of ${n}`);
  return performance.now() - t0;
}

/** The REST baseline: the order pages of 250 fetched and posted. */
export async function baseline(shopUrl: string, crmUrl: string, n: number): Promise<number> {
  const t0 = performance.now();
  let next: string | undefined = `${shopUrl}/admin/api/2025-01/orders.json?limit=250&status=any`;
  let seen = 0;
  while (next) {
    const res: Response = await fetch(next, { headers: { 'x-shopify-access-token': 'x' } });
    const { orders } = (await res.json()) as { orders: { order_number: number; total_price: string }[] };
    const link = res.headers.get('link') ?? '';
    next = /<([^>]+)>;\s*rel="next"/.exec(link)?.[1];
    await postDeals(crmUrl, orders.map((o) => ({ number: o.order_number, total: o.total_price })));
    seen += orders.length;
  }
  if (seen !== n) throw new Error(`baseline read ${seen} of ${n}`);
  return performance.now() - t0;
}
