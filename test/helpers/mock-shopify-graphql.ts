import nock from 'nock';
import { fixture } from './mock-apis.js';

/**
 * The GraphQL side of `shopifyOrders` (mock-apis.ts): the same orders as GraphQL
 * Admin API nodes (shaped like test/fixtures/shopify/graphql-order.json), with
 * `number` = REST `order_number` (the number in the name), and money as GraphQL sends it.
 */
export function shopifyGraphqlOrders(rest: Record<string, any>[]): Record<string, any>[] {
  const base = fixture('shopify/graphql-order.json');
  const lines = [...base.lineItems.nodes, ...fixture('shopify/graphql-order-line-items-page2.json').nodes];
  const bag = (amount: string) => ({ shopMoney: { amount, currencyCode: 'USD' } });
  return rest.map((o) => ({
    ...structuredClone(base),
    id: `gid://shopify/Order/${o.id}`,
    legacyResourceId: String(o.id),
    number: o.order_number,
    name: o.name,
    displayFinancialStatus: o.financial_status.toUpperCase(),
    refunds: [],
    totalPriceSet: bag(o.total_price),
    subtotalPriceSet: bag(o.subtotal_price),
    totalTaxSet: bag(o.total_tax),
    totalDiscountsSet: bag(o.total_discounts),
    updatedAt: o.updated_at,
    email: o.email,
    customer: { ...base.customer, legacyResourceId: String(o.customer.id), defaultEmailAddress: { emailAddress: o.customer.email } },
    lineItems: { nodes: structuredClone(lines), pageInfo: { hasNextPage: false, endCursor: 'li' } },
  }));
}

/**
 * POST /admin/api/{version}/graphql.json answering the `orders` connection:
 * `first`/`after` (opaque cursor) and `query: "updated_at:>='…'"`, with
 * extensions.cost on every answer. Keeps the variables of each request.
 */
export function mockShopifyGraphqlOrders(baseUrl: string, nodes: Record<string, any>[], opts: { version?: string } = {}) {
  const path = `/admin/api/${opts.version ?? '2026-10'}/graphql.json`;
  const requests: Record<string, any>[] = [];
  const scope = nock(baseUrl)
    .persist()
    .post(path)
    .reply(function (_uri, body: any) {
      const v = body.variables ?? {};
      requests.push(v);
      if (!/orders\(first: \$first/.test(body.query)) return [200, { errors: [{ message: 'unexpected query in this mock' }] }];
      const prefix = "updated_at:>='";
      const since = typeof v.query === 'string' && v.query.startsWith(prefix) ? v.query.slice(prefix.length, -1) : undefined;
      const offset = v.after ? Number(Buffer.from(v.after, 'base64url').toString()) : 0;
      const matching = nodes.filter((n) => !since || Date.parse(n.updatedAt) >= Date.parse(since));
      const page = matching.slice(offset, offset + v.first);
      const more = offset + v.first < matching.length;
      return [200, {
        data: { orders: { nodes: page, pageInfo: { hasNextPage: more, endCursor: more ? Buffer.from(String(offset + v.first)).toString('base64url') : null } } },
        extensions: { cost: { requestedQueryCost: 300, actualQueryCost: 180, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1820, restoreRate: 100 } } },
      }];
    });
  return { scope, requests };
}
