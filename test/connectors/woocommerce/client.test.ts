import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { woocommerce } from '../../../src/connectors/woocommerce/index.js';
import { AuthFailedError, RateLimitedError } from '../../../src/core/errors.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';

const STORE = 'https://shop.example.com';
const API = '/wp-json/wc/v3';
const BASIC = `Basic ${Buffer.from('ck_test:cs_test').toString('base64')}`;

function client(options: Record<string, unknown> = {}) {
  return woocommerce.create(testConnection({
    name: 'woo', connector: 'woocommerce', baseUrl: STORE, options,
    credentials: { consumerKey: 'ck_test', consumerSecret: 'cs_test' },
  }), { logger: quietLogger });
}
const order = (id: number, modified: string, extra: Record<string, unknown> = {}) => ({ ...fixture<Record<string, unknown>>('woocommerce/order.json'), id, number: String(id), date_modified_gmt: modified, ...extra });
const customer = (id: number) => ({ ...fixture('woocommerce/customer.json'), id, email: `c${id}@example.com` });

describe('woocommerce client', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('pages orders until X-WP-TotalPages with modified_after in GMT, and moves the cursor to the newest modification', async () => {
    const q = { per_page: '2', orderby: 'modified', order: 'asc', dates_are_gmt: 'true', modified_after: '2025-03-01T00:00:00' };
    nock(STORE, { reqheaders: { authorization: BASIC } })
      .get(`${API}/orders`).query({ ...q, page: '1' })
      .reply(200, [order(1, '2025-03-02T10:00:00'), order(2, '2025-03-03T10:00:00')], { 'x-wp-total': '3', 'x-wp-totalpages': '2' })
      .get(`${API}/orders`).query({ ...q, page: '2' })
      .reply(200, [order(3, '2025-03-04T10:00:00')], { 'x-wp-total': '3', 'x-wp-totalpages': '2' });
    const c = client();
    const p1 = await c.pull('order', { cursor: { since: '2025-03-01T00:00:00' }, pageSize: 2 });
    expect(p1).toMatchObject({ done: false, cursor: { since: '2025-03-01T00:00:00', page: 2, maxModified: '2025-03-03T10:00:00' } });
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 2 });
    expect(p2.done).toBe(true);
    expect(p2.records.map((r: any) => r.id)).toEqual([3]);
    // modified_after is exclusive and second-granular: the next run starts one second before the newest change.
    expect(p2.cursor).toEqual({ since: '2025-03-04T09:59:59' });
    expect(nock.isDone()).toBe(true);
  });

  it('caps per_page at 100 and starts a full sync without modified_after', async () => {
    nock(STORE).get(`${API}/orders`).query({ page: '1', per_page: '100', orderby: 'modified', order: 'asc', dates_are_gmt: 'true' })
      .reply(200, [], { 'x-wp-totalpages': '0' });
    expect(await client().pull('order', { cursor: null, pageSize: 500 })).toEqual({ records: [], cursor: { since: undefined }, done: true });
  });

  it('reads customers newest id first and stops at the first id a previous run saw', async () => {
    const q = { per_page: '2', orderby: 'id', order: 'desc' };
    nock(STORE)
      .get(`${API}/customers`).query({ ...q, page: '1' }).reply(200, [customer(9), customer(8)], { 'x-wp-totalpages': '5' })
      .get(`${API}/customers`).query({ ...q, page: '2' }).reply(200, [customer(7), customer(6)], { 'x-wp-totalpages': '5' });
    const c = client();
    const p1 = await c.pull('customer', { cursor: { maxId: 6 }, pageSize: 2 });
    expect(p1).toMatchObject({ done: false, cursor: { maxId: 6, runMaxId: 9, page: 2 } });
    const p2 = await c.pull('customer', { cursor: p1.cursor, pageSize: 2 });
    expect(p2.records.map((r: any) => r.id)).toEqual([7]);
    expect(p2.done).toBe(true);
    expect(p2.cursor).toMatchObject({ maxId: 9 });
    expect(nock.isDone()).toBe(true);
  });

  it('sends the credentials in the query string when authInQuery is set', async () => {
    nock(STORE, { badheaders: ['authorization'] })
      .get(`${API}/orders`).query((q) => q.consumer_key === 'ck_test' && q.consumer_secret === 'cs_test')
      .reply(200, [], { 'x-wp-totalpages': '0' });
    await client({ authInQuery: true }).pull('order', { cursor: null, pageSize: 10 });
    expect(nock.isDone()).toBe(true);
  });

  it('retries a 5xx and a 503 with Retry-After, and hands a long 429 to the job layer', async () => {
    nock(STORE).get(`${API}/orders`).query(true).reply(502, 'Bad Gateway')
      .get(`${API}/orders`).query(true).reply(503, { code: 'maintenance', message: 'Briefly unavailable' }, { 'retry-after': '0' })
      .get(`${API}/orders`).query(true).reply(200, [order(1, '2025-03-02T10:00:00')], { 'x-wp-totalpages': '1' });
    expect((await client().pull('order', { cursor: null, pageSize: 10 })).records).toHaveLength(1);
    nock(STORE).get(`${API}/orders`).query(true).reply(429, { code: 'too_many_requests', message: 'Slow down' }, { 'retry-after': '60' });
    const err = await client().pull('order', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBe(60_000);
  });

  it('stops on 401 with an auth error naming the connection', async () => {
    nock(STORE).get(`${API}/orders`).query(true).reply(401, { code: 'woocommerce_rest_cannot_view', message: 'Sorry, you cannot list resources.', data: { status: 401 } });
    const err = await client().pull('order', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err.message).toContain('connection woo');
  });

  it('pushes through /orders/batch: update by the linked id, create otherwise, and reads each result', async () => {
    let body: any;
    nock(STORE).post(`${API}/orders/batch`, (b) => { body = b; return true; }).reply(200, {
      create: [{ id: 801, status: 'processing' }, { id: 0, error: { code: 'woocommerce_rest_invalid_product_id', message: 'Product ID provided is invalid.', data: { status: 400 } } }],
      update: [{ id: 727, status: 'refunded' }],
    });
    const out = await client().push('order', [
      { key: 'a', payload: { status: 'processing' } },
      { key: 'b', externalId: '727', payload: { status: 'refunded' } },
      { key: 'c', payload: { status: 'pending' } },
    ]);
    expect(body).toEqual({ create: [{ status: 'processing' }, { status: 'pending' }], update: [{ status: 'refunded', id: 727 }] });
    expect(out.find((o) => o.key === 'a')).toEqual({ key: 'a', ok: true, externalId: '801' });
    expect(out.find((o) => o.key === 'b')).toEqual({ key: 'b', ok: true, externalId: '727' });
    const c = out.find((o) => o.key === 'c')!;
    expect(c.ok).toBe(false);
    expect(!c.ok && c.error.message).toContain('Product ID provided is invalid');
  });

  it('looks a customer up by email before creating, so a retried create updates instead', async () => {
    let body: any;
    nock(STORE).get(`${API}/customers`).query({ email: 'john.doe@example.com', role: 'all' }).reply(200, [customer(25)])
      .post(`${API}/customers/batch`, (b) => { body = b; return true; }).reply(200, { update: [{ id: 25 }] });
    const out = await client().push('customer', [{ key: 'k', payload: { email: 'john.doe@example.com', first_name: 'John' } }]);
    expect(body).toEqual({ update: [{ email: 'john.doe@example.com', first_name: 'John', id: 25 }] });
    expect(out).toEqual([{ key: 'k', ok: true, externalId: '25' }]);
  });

  it('refuses more than 100 objects a batch call', async () => {
    const items = Array.from({ length: 101 }, (_, i) => ({ key: `k${i}`, externalId: String(i + 1), payload: {} }));
    await expect(client().push('order', items)).rejects.toThrow(/at most 100/);
  });
});

describe('woocommerce default mappings', () => {
  const orderIn = loadMapping(defaultMappingFile('woocommerce', 'order', 'in'), { connector: 'woocommerce', statusMap: woocommerce.statusMap });

  it('maps an order with exact money, GMT times and the canonical status', async () => {
    const out: any = await orderIn.evaluate(fixture('woocommerce/order.json'));
    expect(canonicalProblems('order', out)).toEqual([]);
    expect(out).toMatchObject({
      externalId: '727', orderNumber: '727', status: 'paid', sourceStatus: 'processing', currency: 'USD',
      subtotal: '18.00', taxTotal: '1.35', shippingTotal: '10.00', discountTotal: '0.00', total: '29.35',
      createdAt: '2025-03-22T19:28:02.000Z', paidAt: '2025-03-22T19:28:08.000Z',
      customer: { externalId: '26', email: 'john.doe@example.com' },
    });
    expect(out.lineItems[0]).toMatchObject({ quantity: 2, unitPrice: '3.00', total: '6.00', tax: '0.45', discount: '0.00' });
  });

  it('maps orders whose line price WooCommerce sends unrounded (line total / quantity), in USD, EUR and JPY, with exact totals', async () => {
    // line_items[].price is a JSON number, the line's total divided by its quantity and not rounded
    // (117.925, 198.23333333333335, 26908.5); total and subtotal are exact decimal strings.
    const [usd, eur, jpy] = fixture<Record<string, any>[]>('woocommerce/orders-unrounded-price.json');
    const out: any[] = [];
    for (const o of [usd, eur, jpy]) out.push(await orderIn.evaluate(o));
    for (const o of out) expect(canonicalProblems('order', o)).toEqual([]);
    expect(out.map((o) => [o.currency, o.total, o.subtotal])).toEqual([['USD', '245.85', '235.85'], ['EUR', '614.60', '614.60'], ['JPY', '54617', '53817']]);
    expect(out[0].lineItems).toEqual([expect.objectContaining({ quantity: 2, total: '235.85' })]);
    expect(out[0].lineItems[0]).not.toHaveProperty('unitPrice');
    expect(out[1].lineItems.map((l: any) => [l.total, l.unitPrice])).toEqual([['594.70', undefined], ['19.90', '9.95']]);
    expect(out[2].lineItems[0]).toMatchObject({ quantity: 2, total: '53817' });
    expect(out[2].lineItems[0].unitPrice).toBeUndefined();
  });

  it.each([
    ['pending', 'pending_payment'], ['on-hold', 'pending_payment'], ['processing', 'paid'], ['completed', 'completed'],
    ['cancelled', 'cancelled'], ['failed', 'cancelled'], ['refunded', 'refunded'],
  ])('maps status %s to %s', async (status, canonical) => {
    const out: any = await orderIn.evaluate({ ...fixture<Record<string, unknown>>('woocommerce/order.json'), status });
    expect(out.status).toBe(canonical);
  });

  it('keeps the reason of a failed payment', async () => {
    const out: any = await orderIn.evaluate({ ...fixture<Record<string, unknown>>('woocommerce/order.json'), status: 'failed' });
    expect(out).toMatchObject({ status: 'cancelled', sourceStatus: 'failed', cancelReason: 'payment failed', paymentFailure: { code: 'failed' } });
    expect(out.paymentFailure.reason).toContain('Direct Bank Transfer');
  });

  it('reads refunds into refundedAmount and a partial refund into partially_refunded', async () => {
    const out: any = await orderIn.evaluate({ ...fixture<Record<string, unknown>>('woocommerce/order.json'), refunds: [{ id: 1, reason: 'damaged', total: '-5.10' }] });
    expect(out).toMatchObject({ status: 'partially_refunded', refundedAmount: '5.10' });
  });

  it('maps a customer both ways', async () => {
    const cin = loadMapping(defaultMappingFile('woocommerce', 'customer', 'in'), { connector: 'woocommerce' });
    const canon: any = await cin.evaluate(fixture('woocommerce/customer.json'));
    expect(canonicalProblems('customer', canon)).toEqual([]);
    expect(canon).toMatchObject({ externalId: '25', email: 'john.doe@example.com', firstName: 'John', updatedAt: '2025-03-21T19:09:30.000Z' });
    const cout = loadMapping(defaultMappingFile('woocommerce', 'customer', 'out'), { connector: 'woocommerce' });
    expect(await cout.evaluate(canon)).toMatchObject({ email: 'john.doe@example.com', billing: { city: 'San Francisco', phone: '(555) 555-5555' } });
  });
});
