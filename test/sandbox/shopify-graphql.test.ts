import { describe, expect, it } from 'vitest';
import { ShopifySandbox } from '../../src/sandbox/shopify.js';
import { graphqlOf } from '../helpers/shopify-sandbox.js';
import { ORDERS_QUERY, CUSTOMERS_QUERY, CUSTOMER_PAGE, ORDER_PAGE, ORDER_REFUNDS_QUERY, nestedPageQuery, NESTED_PAGE_SIZE, type NestedField } from '../../src/connectors/shopify/graphql-queries.js';

const cents = (s: string) => Math.round(Number(s) * 100);

describe('Shopify sandbox: GraphQL Admin API', () => {
  it('pages the orders connection by updated_at with first/after and pageInfo, as the REST list holds them', async () => {
    const shop = new ShopifySandbox({ customers: 10, orders: 30, graphql: { plan: 'plus' } });
    const gql = graphqlOf(shop);
    const since = shop.orders[5].updated_at as string;
    const seen: any[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const { status, body } = await gql(ORDERS_QUERY, { first: ORDER_PAGE, after, query: `updated_at:>='${since}'` });
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      const conn = body.data.orders;
      seen.push(...conn.nodes);
      after = conn.pageInfo.hasNextPage ? conn.pageInfo.endCursor : null;
      pages++;
    } while (after);
    expect(pages).toBe(3); // 25 orders at 12 a page
    expect(seen.map((o) => o.legacyResourceId)).toEqual(shop.orders.slice(5).map((o) => String(o.id)));
    const rest = shop.orders[7] as any;
    const node = seen[2];
    expect(node).toMatchObject({
      id: `gid://shopify/Order/${rest.id}`, name: rest.name, number: rest.order_number, currencyCode: 'USD',
      displayFinancialStatus: rest.financial_status.toUpperCase(), updatedAt: rest.updated_at,
    });
    // MoneyBag amounts are Decimal strings as Shopify writes them ("24.99", "5.0"), equal to the REST amounts.
    expect(typeof node.totalPriceSet.shopMoney.amount).toBe('string');
    expect(cents(node.totalPriceSet.shopMoney.amount)).toBe(cents(rest.total_price));
    expect(node.totalShippingPriceSet.shopMoney).toEqual({ amount: rest.total_shipping_price_set.shop_money.amount.replace(/0$/, ''), currencyCode: 'USD' });
    expect(node.lineItems.nodes.map((l: any) => l.id)).toEqual(rest.line_items.map((l: any) => `gid://shopify/LineItem/${l.id}`));
    expect(node.customer.legacyResourceId).toBe(String(rest.customer.id));
  });

  it('reads a nested connection past its first page through node(id:)', async () => {
    const shop = new ShopifySandbox({ customers: 2, orders: 0 });
    const order = shop.addOrder(new Date(Date.UTC(2025, 0, 2)), { lineItems: 7 }) as any;
    const gql = graphqlOf(shop);
    const first = await gql(ORDERS_QUERY, { first: 1 });
    const lineItems = first.body.data.orders.nodes[0].lineItems;
    expect(lineItems.nodes).toHaveLength(5);
    expect(lineItems.pageInfo.hasNextPage).toBe(true);
    const rest = await gql(nestedPageQuery('lineItems'), { id: order.admin_graphql_api_id, first: 5, after: lineItems.pageInfo.endCursor });
    const page2 = rest.body.data.node.lineItems;
    expect(page2.pageInfo).toEqual({ hasNextPage: false, endCursor: expect.any(String) });
    expect([...lineItems.nodes, ...page2.nodes].map((l: any) => l.id)).toEqual(order.line_items.map((l: any) => `gid://shopify/LineItem/${l.id}`));
    // edges { cursor node } page the same list.
    const edges = await gql(`query($id: ID!) { node(id: $id) { ... on Order { lineItems(first: 3) { edges { cursor node { sku quantity } } } } } }`, { id: order.admin_graphql_api_id });
    expect(edges.body.data.node.lineItems.edges.map((e: any) => e.node.sku)).toEqual(order.line_items.slice(0, 3).map((l: any) => l.sku));
  });

  it('answers every document the connector sends within the 1,000-point limit, and refuses one over it', async () => {
    const shop = new ShopifySandbox({ customers: 3, orders: 3, graphql: { plan: 'plus' } });
    const gql = graphqlOf(shop);
    const id = (shop.orders[0] as any).admin_graphql_api_id;
    const cost = async (q: string, v: Record<string, unknown>) => {
      const { body } = await gql(q, v);
      expect(body.errors).toBeUndefined();
      return body.extensions.cost.requestedQueryCost as number;
    };
    expect(await cost(ORDERS_QUERY, { first: ORDER_PAGE })).toBe(974);
    expect(await cost(CUSTOMERS_QUERY, { first: CUSTOMER_PAGE })).toBe(962);
    expect(await cost(ORDER_REFUNDS_QUERY, { id })).toBeLessThanOrEqual(1000);
    for (const f of ['lineItems', 'shippingLines', 'transactions', 'addressesV2'] as NestedField[]) {
      expect(await cost(nestedPageQuery(f), { id, first: NESTED_PAGE_SIZE })).toBeLessThanOrEqual(1000);
    }
    // 2 + 25 × (order 1 + line items 2 + 20 × (line item 1 + MoneyBag 1 + MoneyV2 1)) = 1,577.
    const big = await gql(`{ orders(first: 25) { nodes { id lineItems(first: 20) { nodes { id originalUnitPriceSet { shopMoney { amount } } } } } } }`);
    expect(big.status).toBe(200);
    expect(big.body.data).toBeUndefined();
    expect(big.body.errors[0]).toMatchObject({ message: 'Query cost is 1577, which exceeds the single query max cost limit (1000).', extensions: { code: 'MAX_COST_EXCEEDED', cost: 1577, maxCost: 1000 } });
  });

  it('carries extensions.cost with requested and actual cost and the bucket, charged at the actual cost', async () => {
    const shop = new ShopifySandbox({ customers: 3, orders: 3 });
    const gql = graphqlOf(shop);
    const q = `{ orders(first: 10) { nodes { id totalPriceSet { shopMoney { amount } } } pageInfo { hasNextPage } } }`;
    const { body } = await gql(q);
    // Requested: connection 2 + 10 × (order 1 + MoneyBag 1 + MoneyV2 1); actual: 2 + 3 orders × 3.
    expect(body.extensions.cost).toMatchObject({ requestedQueryCost: 32, actualQueryCost: 11 });
    expect(body.extensions.cost.throttleStatus).toMatchObject({ maximumAvailable: 2000, restoreRate: 100 });
    expect(body.extensions.cost.throttleStatus.currentlyAvailable).toBeGreaterThanOrEqual(1989);
    expect(body.extensions.cost.throttleStatus.currentlyAvailable).toBeLessThan(2000);
  });

  it('answers THROTTLED with HTTP 200 and nothing run while the bucket cannot pay, and runs the query once it has refilled', async () => {
    const shop = new ShopifySandbox({ customers: 3, orders: 3, graphql: { restoreRate: 100, maximumAvailable: 2000 } });
    const gql = graphqlOf(shop);
    shop.graphql.bucket.drain();
    const throttled = await gql(ORDERS_QUERY, { first: ORDER_PAGE });
    expect(throttled.status).toBe(200);
    expect(throttled.body.data).toBeUndefined();
    expect(throttled.body.errors).toEqual([{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }]);
    expect(throttled.body.extensions.cost).toMatchObject({ requestedQueryCost: 974, actualQueryCost: null, throttleStatus: { maximumAvailable: 2000, restoreRate: 100 } });
    expect(throttled.body.extensions.cost.throttleStatus.currentlyAvailable).toBeLessThan(974);
    // 974 points at 100/s: about 9.7 s; a cheap query is paid for sooner.
    await new Promise((r) => setTimeout(r, 400));
    const cheap = await gql(`{ orders(first: 1) { nodes { id } } }`);
    expect(cheap.body.errors).toBeUndefined();
    expect(cheap.body.data.orders.nodes).toHaveLength(1);
  });

  it('answers an unknown field, a bad argument and a syntax error with GraphQL errors and no data, as Shopify does', async () => {
    const shop = new ShopifySandbox({ customers: 1, orders: 1 });
    const gql = graphqlOf(shop);
    const unknown = await gql(`{ orders(first: 1) { nodes { id totalPriceV3 } } }`);
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual({ errors: [{ message: "Field 'totalPriceV3' doesn't exist on type 'Order'", locations: [{ line: 1, column: 33 }], extensions: { code: 'undefinedField', typeName: 'Order', fieldName: 'totalPriceV3' } }] });
    const badArg = await gql(`{ orders(first: "ten") { nodes { id } } }`);
    expect(badArg.body.data).toBeUndefined();
    expect(badArg.body.errors[0].message).toMatch(/Int/);
    const syntax = await gql(`{ orders(first: 1) { nodes { id } }`);
    expect(syntax.body.errors[0].message).toMatch(/Syntax Error/);
    const noFirst = await gql(`{ orders { nodes { id } } }`);
    expect(noFirst.body.errors[0].message).toBe('you must provide one of first or last (orders)');
    const noToken = await shop.app().request('/admin/api/2026-10/graphql.json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ orders(first: 1) { nodes { id } } }"}' });
    expect(noToken.status).toBe(401);
    const huge = await shop.app().request('/admin/api/2026-10/graphql.json', {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-access-token': 'x' }, body: JSON.stringify({ query: `{ orders(first: 1) { nodes { id } } }`, pad: 'x'.repeat(2 << 20) }),
    });
    expect(huge.status).toBe(413);
  });

  it('filters customers and orders with Shopify search syntax, warning about fields it does not know', async () => {
    const shop = new ShopifySandbox({ customers: 20, orders: 0 });
    const gql = graphqlOf(shop);
    const since = shop.customers[15].updated_at;
    const { body } = await gql(CUSTOMERS_QUERY, { first: 50, query: `updated_at:>='${since}'` });
    expect(body.data.customers.nodes.map((c: any) => Number(c.legacyResourceId))).toEqual(shop.customers.slice(15).map((c) => c.id));
    expect(body.data.customers.nodes[0].defaultEmailAddress.emailAddress).toBe(shop.customers[15].email);
    const warned = await gql(`{ customers(first: 5, query: "shoe_size:42") { nodes { id } } }`);
    expect(warned.body.data.customers.nodes).toHaveLength(5);
    expect(warned.body.extensions.search).toEqual([{ path: ['customers'], query: 'shoe_size:42', warnings: [{ field: 'shoe_size', message: 'Invalid search field for this query.' }] }]);
  });
});
