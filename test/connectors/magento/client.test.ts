import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { magento } from '../../../src/connectors/magento/index.js';
import { AuthFailedError } from '../../../src/core/errors.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { buildConfig } from '../../../src/config/load.js';
import { generateKeySpec } from '../../../src/core/crypto.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';

const STORE = 'https://magento.example.com';

function client(options: Record<string, unknown> = {}) {
  return magento.create(testConnection({ name: 'mage', connector: 'magento', baseUrl: STORE, options, credentials: { accessToken: 'tok' } }), { logger: quietLogger });
}
const order = (id: number, updated: string) => ({ ...fixture<Record<string, unknown>>('magento/order.json'), entity_id: id, increment_id: String(100000000 + id), updated_at: updated });

/** The searchCriteria of a captured request, flattened back to `filter_groups[g][filters][i][field]=…` pairs. */
function criteria(uri: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URL(uri, STORE).searchParams) out[k.replace(/^searchCriteria/, '')] = v;
  return out;
}

describe('magento client', () => {
  let seen: string[] = [];
  beforeEach(() => {
    nock.disableNetConnect();
    seen = [];
  });
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });
  const route = (path: string) => (uri: string) => {
    if (!uri.startsWith(path)) return false;
    if (uri.includes('?') && !seen.includes(uri)) seen.push(uri);
    return true;
  };

  it('pages orders by (updated_at, entity_id) keyset with updated_at gteq, and never repeats a record at a page boundary', async () => {
    nock(STORE, { reqheaders: { authorization: 'Bearer tok' } })
      .get(route('/rest/V1/orders')).reply(200, { items: [order(1, '2025-03-02 10:00:00'), order(2, '2025-03-02 11:00:00')], total_count: 5 })
      // the next page starts at the last record's timestamp; the record already read comes back and is dropped
      .get(route('/rest/V1/orders')).reply(200, { items: [order(2, '2025-03-02 11:00:00'), order(3, '2025-03-02 12:00:00')], total_count: 4 })
      .get(route('/rest/V1/orders')).reply(200, { items: [order(3, '2025-03-02 12:00:00'), order(4, '2025-03-03 09:00:00')], total_count: 2 });
    const c = client();
    const p1 = await c.pull('order', { cursor: { since: '2025-03-01 00:00:00', afterId: 0 }, pageSize: 2 });
    expect(criteria(seen[0])).toMatchObject({
      '[filter_groups][0][filters][0][field]': 'updated_at', '[filter_groups][0][filters][0][value]': '2025-03-01 00:00:00',
      '[filter_groups][0][filters][0][condition_type]': 'gteq',
      '[sortOrders][0][field]': 'updated_at', '[sortOrders][0][direction]': 'ASC', '[sortOrders][1][field]': 'entity_id',
      '[pageSize]': '2', '[currentPage]': '1',
    });
    expect(p1).toMatchObject({ done: false, cursor: { since: '2025-03-02 11:00:00', afterId: 2 } });
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 2 });
    expect(p2.records.map((r: any) => r.entity_id)).toEqual([3]);
    expect(p2.done).toBe(false);
    const p3 = await c.pull('order', { cursor: p2.cursor, pageSize: 2 });
    expect(p3.records.map((r: any) => r.entity_id)).toEqual([4]);
    expect(p3).toMatchObject({ done: true, cursor: { since: '2025-03-03 09:00:00', afterId: 4 } });
  });

  it('walks a timestamp shared by more than a page by entity_id, then carries on after it', async () => {
    const T = '2025-03-02 11:00:00';
    nock(STORE)
      .get(route('/rest/V1/orders')).reply(200, { items: [order(1, T), order(2, T)], total_count: 5 })
      .get(route('/rest/V1/orders')).reply(200, { items: [order(3, T), order(4, T)], total_count: 3 })
      .get(route('/rest/V1/orders')).reply(200, { items: [order(5, T)], total_count: 1 })
      .get(route('/rest/V1/orders')).reply(200, { items: [order(6, '2025-03-04 00:00:00')], total_count: 1 });
    const c = client();
    const ids: number[] = [];
    let cursor: unknown = { since: '2025-03-01 00:00:00' };
    for (let i = 0; i < 10; i++) {
      const p = await c.pull('order', { cursor, pageSize: 2 });
      ids.push(...p.records.map((r: any) => r.entity_id));
      cursor = p.cursor;
      if (p.done) break;
    }
    expect(ids).toEqual([1, 2, 3, 4, 5, 6]);
    expect(criteria(seen[1])).toMatchObject({
      '[filter_groups][0][filters][0][condition_type]': 'eq', '[filter_groups][1][filters][0][field]': 'entity_id',
      '[filter_groups][1][filters][0][value]': '2', '[filter_groups][1][filters][0][condition_type]': 'gt',
    });
    expect(criteria(seen[3])).toMatchObject({ '[filter_groups][0][filters][0][value]': T, '[filter_groups][0][filters][0][condition_type]': 'gt' });
    expect(cursor).toEqual({ since: '2025-03-04 00:00:00', afterId: 6 });
  });

  it('uses the store code path and reads customers through /customers/search', async () => {
    nock(STORE).get(route('/rest/us_en/V1/customers/search')).reply(200, { items: [fixture('magento/customer.json')], total_count: 1, search_criteria: {} });
    const p = await client({ storeCode: 'us_en' }).pull('customer', { cursor: null, pageSize: 50 });
    expect(p.records).toHaveLength(1);
    expect(p.done).toBe(true);
  });

  it('refuses a page without items and total_count, and stops on 401 naming the connection', async () => {
    nock(STORE).get(route('/rest/V1/orders')).reply(200, { message: 'oops' });
    await expect(client().pull('order', { cursor: null, pageSize: 10 })).rejects.toThrow(/without items and total_count/);
    nock(STORE).get(route('/rest/V1/orders')).reply(401, { message: 'The consumer isn\'t authorized to access %resources.', parameters: { resources: 'Magento_Sales::actions_view' } });
    const err = await client().pull('order', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err.message).toContain('connection mage');
  });

  it('retries a 5xx, then succeeds', async () => {
    nock(STORE).get(route('/rest/V1/orders')).reply(500, { message: 'Internal Error' })
      .get(route('/rest/V1/orders')).reply(200, { items: [], total_count: 0 });
    expect(await client().pull('order', { cursor: null, pageSize: 10 })).toMatchObject({ records: [], done: true });
  });

  it('writes an order status change as an order comment, and refuses an order it has no link for', async () => {
    let body: any;
    nock(STORE).post('/rest/V1/orders/3/comments', (b) => { body = b; return true; }).reply(200, 'true');
    const out = await client().push('order', [
      { key: 'a', externalId: '3', payload: { statusHistory: { status: 'closed', comment: 'synchub: refunded' } } },
      { key: 'b', payload: { statusHistory: { status: 'processing' } } },
    ]);
    expect(body).toEqual({ statusHistory: { is_customer_notified: 0, is_visible_on_front: 0, status: 'closed', comment: 'synchub: refunded', parent_id: 3 } });
    expect(out[0]).toEqual({ key: 'a', ok: true, externalId: '3' });
    expect(out[1].ok).toBe(false);
    expect(!out[1].ok && out[1].error.message).toMatch(/no linked Magento order/);
  });

  it('looks a customer up by email before creating one', async () => {
    nock(STORE).get(route('/rest/V1/customers/search')).reply(200, { items: [fixture('magento/customer.json')], total_count: 1 })
      .put('/rest/V1/customers/1').reply(200, { id: 1 });
    const out = await client().push('customer', [{ key: 'k', payload: { customer: { email: 'roni_cost@example.com', firstname: 'V', lastname: 'C' } } }]);
    expect(out).toEqual([{ key: 'k', ok: true, externalId: '1' }]);
    expect(criteria(seen[0])).toMatchObject({ '[filter_groups][0][filters][0][field]': 'email', '[filter_groups][0][filters][0][value]': 'roni_cost@example.com' });
  });

  it('refuses a webhook public key that is not PEM at config load, naming the path', () => {
    expect(() => buildConfig({
      encryption: { keys: generateKeySpec('k') },
      connections: { mage: { connector: 'magento', baseUrl: STORE, credentials: { accessToken: 't', webhookPublicKey: 'not a key' } } },
      pipelines: {},
    }, '/tmp/hub.yaml', { env: {} })).toThrow(/connections\.mage\.credentials\.webhookPublicKey: not a PEM public key/);
  });
});

describe('magento default mappings', () => {
  const orderIn = loadMapping(defaultMappingFile('magento', 'order', 'in'), { connector: 'magento', statusMap: magento.statusMap });

  it('maps an order on its state with exact money, skipping child items of configurables', async () => {
    const out: any = await orderIn.evaluate(fixture('magento/order.json'));
    expect(canonicalProblems('order', out)).toEqual([]);
    expect(out).toMatchObject({
      externalId: '3', orderNumber: '000000003', status: 'paid', sourceStatus: 'processing/processing', currency: 'USD',
      subtotal: '124.00', taxTotal: '10.23', shippingTotal: '15.00', discountTotal: '7.03', total: '141.20',
      createdAt: '2025-03-22T19:28:02.000Z', customer: { email: 'roni_cost@example.com' },
    });
    expect(out.lineItems.map((l: any) => [l.sku, l.quantity, l.unitPrice, l.total])).toEqual([['WS12-XS-Orange', 2, '22.00', '44.00'], ['24-MB01', 1, '80.00', '72.97']]);
  });

  it.each([
    ['new', 'pending_payment'], ['pending_payment', 'pending_payment'], ['processing', 'paid'], ['complete', 'completed'],
    ['canceled', 'cancelled'], ['closed', 'refunded'],
  ])('maps state %s to %s', async (state, canonical) => {
    expect(((await orderIn.evaluate({ ...fixture<Record<string, unknown>>('magento/order.json'), state })) as any).status).toBe(canonical);
  });

  it('holded and payment_review keep the order where it was (paid when paid in full) and are recorded', async () => {
    const held: any = await orderIn.evaluate({ ...fixture<Record<string, unknown>>('magento/order.json'), state: 'holded', status: 'holded' });
    expect(held).toMatchObject({ status: 'paid', sourceStatus: 'holded/holded' });
    const review: any = await orderIn.evaluate({ ...fixture<Record<string, unknown>>('magento/order.json'), state: 'payment_review', status: 'payment_review', total_paid: 0 });
    expect(review).toMatchObject({ status: 'pending_payment', sourceStatus: 'payment_review/payment_review' });
  });

  it('maps a customer both ways', async () => {
    const cin = loadMapping(defaultMappingFile('magento', 'customer', 'in'), { connector: 'magento' });
    const canon: any = await cin.evaluate(fixture('magento/customer.json'));
    expect(canonicalProblems('customer', canon)).toEqual([]);
    const cout = loadMapping(defaultMappingFile('magento', 'customer', 'out'), { connector: 'magento' });
    expect(await cout.evaluate(canon)).toEqual({ customer: {
      email: 'roni_cost@example.com', firstname: 'Veronica', lastname: 'Costello',
      addresses: [{ firstname: 'Veronica', lastname: 'Costello', street: ['6146 Honey Bluff Parkway'], city: 'Calder', postcode: '49628-7978', country_id: 'US', telephone: '(555) 229-3326' }],
    } });
  });
});
