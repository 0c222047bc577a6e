import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shopify } from '../../../src/connectors/shopify/index.js';
import { nextLink, shopifyThrottle } from '../../../src/connectors/shopify/client.js';
import { AuthFailedError, NotSupportedError, RateLimitedError, RemoteRejectedError, RemoteUnavailableError } from '../../../src/core/errors.js';
import { quietLogger } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';

const SHOP = 'https://acme.myshopify.com';
const PATH = '/admin/api/2025-01/orders.json';

function client(http = {}) {
  return shopify.create(testConnection({ name: 'shop', connector: 'shopify', baseUrl: SHOP, credentials: { accessToken: 'shpat_test' }, options: { api: 'rest', apiVersion: '2025-01' }, http: http as any }), { logger: quietLogger });
}
const order = (id: number, updated: string) => ({ ...fixture('shopify/order.json'), id, updated_at: updated });

describe('shopify client', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('pages with Link page_info, sends only limit beside it, and moves the cursor to the newest updated_at', async () => {
    const next = `${SHOP}${PATH}?limit=2&page_info=abc`;
    nock(SHOP, { reqheaders: { 'x-shopify-access-token': 'shpat_test' } })
      .get(PATH).query({ limit: '2', status: 'any', updated_at_min: '2025-01-01T00:00:00Z' })
      .reply(200, { orders: [order(1, '2025-01-02T00:00:00Z'), order(2, '2025-01-04T00:00:00Z')] }, { link: `<${next}>; rel="next"`, 'x-shopify-shop-api-call-limit': '3/40' })
      .get(PATH).query({ limit: '2', page_info: 'abc' })
      .reply(200, { orders: [order(3, '2025-01-03T00:00:00Z')] }, { link: `<${SHOP}${PATH}?limit=2&page_info=prev>; rel="previous"` });
    const c = client();
    const p1 = await c.pull('order', { cursor: { since: '2025-01-01T00:00:00Z' }, pageSize: 2 });
    expect(p1.done).toBe(false);
    expect(p1.records.map((r: any) => r.id)).toEqual([1, 2]);
    expect(p1.cursor).toEqual({ since: '2025-01-01T00:00:00Z', next, maxSeen: '2025-01-04T00:00:00Z' });
    // The body as received comes with the page: its `orders` are the page's records.
    const raw = p1.raw as { body: Buffer; recordsAt: string };
    expect(raw.recordsAt).toBe('orders');
    expect(JSON.parse(raw.body.toString('utf8')).orders).toEqual(p1.records);
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 2 });
    expect(p2).toEqual({ records: [expect.objectContaining({ id: 3 })], cursor: { since: '2025-01-04T00:00:00Z' }, done: true, raw: { body: expect.any(Buffer), recordsAt: 'orders' } });
    expect(nock.isDone()).toBe(true);
  });

  it('caps a page at 250 and starts a full sync without updated_at_min', async () => {
    nock(SHOP).get(PATH).query({ limit: '250', status: 'any' }).reply(200, { orders: [] });
    const p = await client().pull('order', { cursor: null, pageSize: 1000 });
    expect(p).toEqual({ records: [], cursor: { since: undefined }, done: true, raw: { body: expect.any(Buffer), recordsAt: 'orders' } });
  });

  it('waits out a 429 with Retry-After, then succeeds', async () => {
    nock(SHOP).get(PATH).query(true).reply(429, { errors: 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' }, { 'retry-after': '0.05' })
      .get(PATH).query(true).reply(200, { orders: [order(1, '2025-01-02T00:00:00Z')] });
    const p = await client().pull('order', { cursor: null, pageSize: 10 });
    expect(p.records).toHaveLength(1);
  });

  it('hands a long Retry-After to the job layer as RateLimitedError instead of blocking', async () => {
    nock(SHOP).get(PATH).query(true).reply(429, { errors: 'Exceeded' }, { 'retry-after': '30' });
    const err = await client().pull('order', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBe(30_000);
  });

  it('retries a 5xx, then succeeds; gives up after its retries with a retryable error', async () => {
    nock(SHOP).get(PATH).query(true).reply(502, 'Bad Gateway').get(PATH).query(true).reply(200, { orders: [] });
    expect((await client().pull('order', { cursor: null, pageSize: 10 })).done).toBe(true);
    nock(SHOP).get(PATH).query(true).times(3).reply(503, { errors: 'Unavailable' });
    const err = await client().pull('order', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(RemoteUnavailableError);
    expect(err.retryable).toBe(true);
  });

  it('refuses a malformed page and stops on bad credentials without retrying', async () => {
    nock(SHOP).get(PATH).query(true).reply(200, '<html>maintenance</html>', { 'content-type': 'text/html' });
    await expect(client().pull('order', { cursor: null, pageSize: 10 })).rejects.toThrow(RemoteRejectedError);
    const scope = nock(SHOP).get(PATH).query(true).once().reply(401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
    const err = await client().pull('order', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err.message).toMatch(/^connection shop: .*401.*Invalid API key/);
    expect(scope.isDone()).toBe(true);
  });

  it('reads single records, and says what it cannot do', async () => {
    nock(SHOP).get('/admin/api/2025-01/orders/450789469.json').reply(200, { order: fixture('shopify/order.json') })
      .get('/admin/api/2025-01/orders/1.json').reply(404, { errors: 'Not Found' });
    const c = client();
    expect(await c.fetch('order', '450789469')).toMatchObject({ id: 450789469 });
    expect(await c.fetch('order', '1')).toBeNull();
    await expect(c.pull('payment', { cursor: null, pageSize: 1 })).rejects.toThrow(NotSupportedError);
    await expect(c.push('payment', [])).rejects.toMatchObject({ code: 'not_supported' });
  });

  it('finds a customer by email before creating one, so a retried push makes no second customer', async () => {
    nock(SHOP)
      .get('/admin/api/2025-01/customers/search.json').query({ query: 'email:bob.norman@mail.example.com', limit: '1' }).reply(200, { customers: [{ id: 207119551 }] })
      .put('/admin/api/2025-01/customers/207119551.json', (b) => b.customer.id === 207119551 && b.customer.first_name === 'Bob').reply(200, { customer: { id: 207119551 } })
      .get('/admin/api/2025-01/customers/search.json').query(true).reply(200, { customers: [] })
      .post('/admin/api/2025-01/customers.json').reply(201, { customer: { id: 5 } });
    const out = await client().push('customer', [
      { key: 'a', payload: { email: 'bob.norman@mail.example.com', first_name: 'Bob' } },
      { key: 'b', payload: { email: 'new@example.com' } },
    ]);
    expect(out).toEqual([{ key: 'a', ok: true, externalId: '207119551' }, { key: 'b', ok: true, externalId: '5' }]);
  });

  it('parses Link headers and the leaky-bucket call limit', () => {
    expect(nextLink('<https://x/a?page_info=p>; rel="previous", <https://x/a?page_info=n>; rel="next"')).toBe('https://x/a?page_info=n');
    expect(nextLink('<https://x/a?page_info=p>; rel="previous"')).toBeUndefined();
    expect(shopifyThrottle('10/40')).toBe(0);
    expect(shopifyThrottle('39/40')).toBe(3500);
    expect(shopifyThrottle(undefined)).toBe(0);
  });
});

describe('shopify Link header', () => {
  it('reads a Link of many "<" in linear time (unanchored, the pattern was quadratic)', () => {
    expect(nextLink('<'.repeat(100_000))).toBeUndefined();
    expect(nextLink(' <https://x/a?page_info=n>; rel=next')).toBe('https://x/a?page_info=n');
  }, 2000);
});
