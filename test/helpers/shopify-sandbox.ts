import type { ShopifySandbox } from '../../src/sandbox/shopify.js';

/** POSTs a GraphQL request to the Shopify sandbox as the connector does; the status and parsed body. */
export function graphqlOf(shop: ShopifySandbox, version = '2026-10') {
  const app = shop.app();
  return async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await app.request(`/admin/api/${version}/graphql.json`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-access-token': 'shpat_test' }, body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
}
