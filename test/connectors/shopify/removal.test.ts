/**
 * Shopify as a target of propagated deletions and erasures (removal.ts): one GraphQL mutation a
 * record, answers shaped like shopify.dev's examples (CustomerDeletePayload, OrderDeletePayload,
 * OrderClosePayload, TagsAddPayload).
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shopify } from '../../../src/connectors/shopify/index.js';
import { SHOPIFY_API_VERSION } from '../../../src/connectors/shopify/client.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';

const SHOP = 'https://acme.myshopify.com';
const client = (api: 'graphql' | 'rest' = 'graphql') => shopify.create(testConnection({ name: 'shop', connector: 'shopify', baseUrl: SHOP, options: { api }, credentials: { accessToken: 'shpat' } }), { logger: quietLogger });

function mockGraphql(answer: (operation: string, variables: Record<string, any>) => unknown) {
  const calls: { operation: string; variables: Record<string, any> }[] = [];
  nock(SHOP).persist().post(`/admin/api/${SHOPIFY_API_VERSION}/graphql.json`).reply((_u, body: any) => {
    const operation = /(?:mutation|query) (\w+)/.exec(body.query)![1];
    calls.push({ operation, variables: body.variables });
    return [200, { data: answer(operation, body.variables), extensions: { cost: { requestedQueryCost: 10, actualQueryCost: 10, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1990, restoreRate: 100 } } } }];
  });
  return calls;
}

describe('shopify removal (GraphQL, whatever api the connection pulls with)', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('customerDelete per customer: a customer with orders is refused alone, one Shopify no longer has counts as removed', async () => {
    const calls = mockGraphql((_op, v) => {
      const id = v.input.id as string;
      if (id.endsWith('/2')) return { customerDelete: { deletedCustomerId: null, shop: { id: 'gid://shopify/Shop/1' }, userErrors: [{ field: ['id'], message: "Customer can't be deleted because they have associated orders" }] } };
      if (id.endsWith('/3')) return { customerDelete: { deletedCustomerId: null, shop: { id: 'gid://shopify/Shop/1' }, userErrors: [{ field: ['id'], message: "Customer can't be found" }] } };
      return { customerDelete: { deletedCustomerId: id, shop: { id: 'gid://shopify/Shop/1' }, userErrors: [] } };
    });
    const out = await client('rest').remove!('customer', ['1', '2', '3', 'x']);
    expect(calls.map((c) => c.variables.input.id)).toEqual(['gid://shopify/Customer/1', 'gid://shopify/Customer/2', 'gid://shopify/Customer/3']);
    expect(out.map((o) => o.ok)).toEqual([true, false, true, false]);
    expect(out[1].ok === false && out[1].error.message).toContain('associated orders');
  });

  it('orders: orderDelete by default, orderClose for archive, tagsAdd for mark', async () => {
    const calls = mockGraphql((op, v) => {
      if (op === 'SynchubOrderDelete') return { orderDelete: v.orderId.endsWith('/8') ? { deletedId: null, userErrors: [{ field: ['orderId'], message: 'Order does not exist', code: 'NOT_FOUND' }] } : { deletedId: v.orderId, userErrors: [] } };
      if (op === 'SynchubOrderClose') return { orderClose: { order: { id: v.input.id, closed: true }, userErrors: [] } };
      return { tagsAdd: { node: { id: v.id }, userErrors: [] } };
    });
    const c = client();
    expect((await c.remove!('order', ['7', '8'])).map((o) => o.ok)).toEqual([true, true]);
    expect((await c.remove!('order', ['9'], undefined, 'archive')).map((o) => o.ok)).toEqual([true]);
    expect((await c.mark!('order', ['10'], { field: 'synchub-deleted', value: true })).map((o) => o.ok)).toEqual([true]);
    expect((await c.mark!('customer', ['11'], { field: 'synchub', value: 'deleted' })).map((o) => o.ok)).toEqual([true]);
    expect(calls.map((x) => [x.operation, x.variables])).toEqual([
      ['SynchubOrderDelete', { orderId: 'gid://shopify/Order/7' }],
      ['SynchubOrderDelete', { orderId: 'gid://shopify/Order/8' }],
      ['SynchubOrderClose', { input: { id: 'gid://shopify/Order/9' } }],
      ['SynchubTagsAdd', { id: 'gid://shopify/Order/10', tags: ['synchub-deleted'] }],
      ['SynchubTagsAdd', { id: 'gid://shopify/Customer/11', tags: ['synchub:deleted'] }],
    ]);
  });
});
