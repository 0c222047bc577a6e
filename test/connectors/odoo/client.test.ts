import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { odoo } from '../../../src/connectors/odoo/index.js';
import { AuthFailedError, RateLimitedError } from '../../../src/core/errors.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';

const ODOO = 'https://acme.odoo.com';
const CREDS = { database: 'acme', username: 'sync@acme.com', apiKey: 'key-123' };

function client(options: Record<string, unknown> = {}) {
  return odoo.create(testConnection({ name: 'erp', connector: 'odoo', baseUrl: ODOO, options, credentials: CREDS }), { logger: quietLogger });
}
type Call = { model: string; method: string; args: any[]; kwargs: any };

/** A JSON-RPC Odoo: answers common.login and execute_kw through `handle`, and records every call. */
function mockJsonRpc(handle: (c: Call) => unknown, calls: Call[] = []) {
  nock(ODOO).persist().post('/jsonrpc').reply((_uri, body: any) => {
    const { service, method, args } = body.params;
    if (service === 'common' && method === 'login') return [200, { jsonrpc: '2.0', id: body.id, result: args[2] === CREDS.apiKey ? 7 : false }];
    const [db, uid, key, model, m, a, kw] = args;
    expect([db, uid, key]).toEqual(['acme', 7, 'key-123']);
    const call = { model, method: m, args: a, kwargs: kw };
    calls.push(call);
    const result = handle(call);
    if (result instanceof Error) return [200, { jsonrpc: '2.0', id: body.id, error: { code: 200, message: 'Odoo Server Error', data: { name: result.name, message: result.message } } }];
    return [200, { jsonrpc: '2.0', id: body.id, result }];
  });
  return calls;
}

const order = (id: number, write: string) => ({ ...fixture<Record<string, unknown>>('odoo/sale-order.json'), id, name: `S${String(id).padStart(5, '0')}`, write_date: write, order_line: [], invoice_ids: [] });

describe('odoo client (JSON-RPC)', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('pages sale orders by (write_date, id) with search_read, limit and order, attaching lines and invoices', async () => {
    const pages = [[order(1, '2025-03-02 10:00:00'), order(2, '2025-03-02 10:00:00')], [order(3, '2025-03-03 08:00:00')]];
    const calls = mockJsonRpc((c) => {
      if (c.model === 'sale.order') return pages.shift();
      if (c.model === 'sale.order.line') return [];
      return [];
    });
    const c = client();
    const p1 = await c.pull('order', { cursor: { since: '2025-03-01 00:00:00', afterId: 0 }, pageSize: 2 });
    expect(calls[0]).toMatchObject({
      model: 'sale.order', method: 'search_read',
      args: [['|', ['write_date', '>', '2025-03-01 00:00:00'], '&', ['write_date', '=', '2025-03-01 00:00:00'], ['id', '>', 0]]],
      kwargs: { limit: 2, order: 'write_date asc, id asc' },
    });
    expect(calls[1]).toMatchObject({ model: 'sale.order.line', args: [[['order_id', 'in', [1, 2]]]] });
    expect(p1).toMatchObject({ done: false, cursor: { since: '2025-03-02 10:00:00', afterId: 2 } });
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 2 });
    expect(calls[2].args[0]).toEqual(['|', ['write_date', '>', '2025-03-02 10:00:00'], '&', ['write_date', '=', '2025-03-02 10:00:00'], ['id', '>', 2]]);
    expect(p2).toMatchObject({ done: true, cursor: { since: '2025-03-03 08:00:00', afterId: 3 } });
  });

  it('stops with an auth error naming the connection when the login is refused', async () => {
    nock(ODOO).post('/jsonrpc').reply(200, { jsonrpc: '2.0', id: 1, result: false });
    const err = await client().pull('customer', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err.message).toContain('connection erp');
  });

  it('waits on 429 and retries a 502', async () => {
    nock(ODOO).post('/jsonrpc').reply(429, 'Too Many Requests', { 'retry-after': '120' });
    expect(await client().pull('customer', { cursor: null, pageSize: 10 }).catch((e) => e)).toBeInstanceOf(RateLimitedError);
    nock(ODOO).post('/jsonrpc').reply(502, 'Bad Gateway');
    mockJsonRpc(() => [fixture('odoo/partner.json')]);
    expect((await client().pull('customer', { cursor: null, pageSize: 10 })).records).toHaveLength(1);
  });

  it('finds a partner by ref, then email, before creating one; a validation error fails that record only', async () => {
    const calls = mockJsonRpc((c) => {
      if (c.method === 'search_read' && c.args[0][0][0] === 'email' && c.args[0][0][2] === 'known@example.com') return [{ id: 14 }];
      if (c.method === 'search_read') return [];
      if (c.method === 'write') return true;
      if (c.method === 'create' && c.args[0].email === 'bad@example.com') return Object.assign(new Error('The email is invalid'), { name: 'odoo.exceptions.ValidationError' });
      if (c.method === 'create') return 99;
      return null;
    });
    const out = await client().push('customer', [
      { key: 'a', payload: { name: 'Known', email: 'known@example.com', ref: 'synchub:1' } },
      { key: 'b', payload: { name: 'New', email: 'new@example.com', ref: 'synchub:2' } },
      { key: 'c', payload: { name: 'Bad', email: 'bad@example.com', ref: 'synchub:3' } },
    ]);
    expect(out.slice(0, 2)).toEqual([{ key: 'a', ok: true, externalId: '14' }, { key: 'b', ok: true, externalId: '99' }]);
    expect(out[2].ok).toBe(false);
    expect(!out[2].ok && out[2].error.message).toContain('ValidationError: The email is invalid');
    expect(calls.filter((c) => c.method === 'write')).toEqual([expect.objectContaining({ model: 'res.partner', args: [[14], expect.objectContaining({ name: 'Known' })] })]);
  });

  it('creates a sale order once: looks it up by client_order_ref, resolves partner and products, then confirms it', async () => {
    const calls = mockJsonRpc((c) => {
      if (c.model === 'sale.order' && c.method === 'search_read') return [];
      if (c.model === 'res.partner' && c.method === 'search_read') return [];
      if (c.model === 'res.partner' && c.method === 'create') return 14;
      if (c.model === 'product.product') return c.args[0][0][2] === 'FURN_8220' ? [{ id: 12 }] : [];
      if (c.model === 'sale.order' && c.method === 'create') return 50;
      if (c.method === 'action_confirm') return true;
      return null;
    });
    const out = await client().push('order', [
      { key: 'o1', payload: { client_order_ref: '1001', state: 'sale', partner: { name: 'B F', email: 'b@example.com' }, lines: [{ default_code: 'FURN_8220', name: 'Desk', product_uom_qty: 1, price_unit: '2350.00' }] } },
      { key: 'o2', payload: { client_order_ref: '1002', partner: { name: 'B F', email: 'b@example.com' }, lines: [{ default_code: 'NOPE', name: 'Ghost', product_uom_qty: 1, price_unit: '1.00' }] } },
    ]);
    expect(out[0]).toEqual({ key: 'o1', ok: true, externalId: '50' });
    expect(calls.find((c) => c.model === 'sale.order' && c.method === 'search_read')!.args).toEqual([[['client_order_ref', '=', '1001']]]);
    expect(calls.find((c) => c.model === 'sale.order' && c.method === 'create')!.args[0]).toEqual({
      client_order_ref: '1001', partner_id: 14, order_line: [[0, 0, { name: 'Desk', product_uom_qty: 1, price_unit: '2350.00', product_id: 12 }]],
    });
    expect(calls.filter((c) => c.method === 'action_confirm')).toEqual([expect.objectContaining({ args: [[50]] })]);
    expect(out[1].ok).toBe(false);
    expect(!out[1].ok && out[1].error.message).toContain('no product with internal reference (default_code) "NOPE"');
  });

  it('refuses to push payments: account.payment is pull only', async () => {
    await expect(client().push('payment', [{ key: 'p', payload: {} }])).rejects.toMatchObject({ code: 'not_supported' });
  });
});

describe('odoo client (JSON-2)', () => {
  afterEach(() => nock.cleanAll());

  it('posts named arguments to /json/2/<model>/<method> with the bearer API key and database header', async () => {
    let body: any;
    nock(ODOO, { reqheaders: { authorization: 'bearer key-123', 'x-odoo-database': 'acme' } })
      .post('/json/2/res.partner/search_read', (b) => { body = b; return true; }).reply(200, [fixture('odoo/partner.json')]);
    const p = await client({ api: 'json2' }).pull('customer', { cursor: null, pageSize: 10 });
    expect(p.records).toHaveLength(1);
    expect(body).toMatchObject({ domain: [], limit: 10, order: 'write_date asc, id asc' });
    nock(ODOO).post('/json/2/res.partner/search_read').reply(401, { name: 'werkzeug.exceptions.Unauthorized', message: 'Invalid apikey' });
    expect(await client({ api: 'json2' }).pull('customer', { cursor: null, pageSize: 10 }).catch((e) => e)).toBeInstanceOf(AuthFailedError);
  });
});

describe('odoo default mappings', () => {
  const orderIn = loadMapping(defaultMappingFile('odoo', 'order', 'in'), { connector: 'odoo', statusMap: odoo.statusMap });
  const withDetails = (state: string, paymentState?: string) => ({
    ...fixture<Record<string, unknown>>('odoo/sale-order.json'), state,
    lines: fixture<any[]>('odoo/sale-order-lines.json').filter((l) => !l.display_type),
    invoices: paymentState ? [{ id: 77, payment_state: paymentState }] : [],
  });

  it('maps a confirmed, paid sale order with exact money and SKUs from the product name', async () => {
    const out: any = await orderIn.evaluate(withDetails('sale', 'paid'));
    expect(canonicalProblems('order', out)).toEqual([]);
    expect(out).toMatchObject({
      externalId: '42', orderNumber: 'S00042', status: 'paid', currency: 'USD', subtotal: '1750.00', taxTotal: '262.50', total: '2012.50',
      createdAt: '2025-03-20T09:15:00.000Z', updatedAt: '2025-03-21T10:00:00.000Z',
    });
    expect(out.lineItems[0]).toMatchObject({ sku: 'FURN_8220', quantity: 1, unitPrice: '2350.00', discount: '940.00', total: '1410.00', tax: '211.50' });
  });

  it.each([
    ['draft', undefined, 'pending_payment'], ['sent', undefined, 'pending_payment'], ['sale', 'not_paid', 'pending_payment'],
    ['sale', 'in_payment', 'paid'], ['sale', 'paid', 'paid'], ['cancel', undefined, 'cancelled'],
  ])('maps state %s with invoice %s to %s', async (state, paymentState, canonical) => {
    expect(((await orderIn.evaluate(withDetails(state, paymentState))) as any).status).toBe(canonical);
  });

  it('maps partners both ways and payments in', async () => {
    const cin = loadMapping(defaultMappingFile('odoo', 'customer', 'in'), { connector: 'odoo' });
    const canon: any = await cin.evaluate(fixture('odoo/partner.json'));
    expect(canonicalProblems('customer', canon)).toEqual([]);
    expect(canon).toMatchObject({ externalId: '14', firstName: 'Brandon', lastName: 'Freeman', email: 'brandon.freeman55@example.com' });
    const cout = loadMapping(defaultMappingFile('odoo', 'customer', 'out'), { connector: 'odoo' });
    expect(await cout.evaluate(canon)).toMatchObject({ name: 'Brandon Freeman', email: 'brandon.freeman55@example.com', ref: 'synchub:14', city: 'Fremont' });
    const pin = loadMapping(defaultMappingFile('odoo', 'payment', 'in'), { connector: 'odoo', statusMap: odoo.statusMap });
    const pay: any = await pin.evaluate({ id: 5, name: 'PBNK1/2025/00005', amount: 2012.5, currency_id: [1, 'USD'], state: 'posted', payment_type: 'inbound', memo: 'S00042', write_date: '2025-03-22 08:00:00' });
    expect(canonicalProblems('payment', pay)).toEqual([]);
    expect(pay).toMatchObject({ provider: 'odoo', orderNumber: 'S00042', status: 'succeeded', amount: '2012.50', currency: 'USD' });
  });
});
