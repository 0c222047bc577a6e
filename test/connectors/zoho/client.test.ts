import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { zoho } from '../../../src/connectors/zoho/index.js';
import { zohoWebhooks } from '../../../src/connectors/zoho/webhooks.js';
import { AuthFailedError } from '../../../src/core/errors.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';

const API = 'https://www.zohoapis.eu';
const ACCOUNTS = 'https://accounts.zoho.eu';
const CREDS = { clientId: '1000.ABC', clientSecret: 'zs', refreshToken: '1000.refresh' };

function client(options: Record<string, unknown> = {}) {
  return zoho.create(testConnection({ name: 'zc', connector: 'zoho', baseUrl: API, options: { accountsUrl: ACCOUNTS, ...options }, credentials: CREDS }), { logger: quietLogger });
}
function mockToken() {
  let n = 0;
  nock(ACCOUNTS).persist().post('/oauth/v2/token', (b) => b.grant_type === 'refresh_token' && b.refresh_token === '1000.refresh' && b.client_id === '1000.ABC')
    .reply(() => [200, { access_token: `1000.tok${++n}`, api_domain: API, token_type: 'Bearer', expires_in: 3600 }]);
  return () => n;
}
const contact = (id: number, modified: string) => ({ id: String(id), First_Name: 'Ada', Last_Name: 'Lovelace', Email: `a${id}@example.com`, Created_Time: '2025-03-01T09:00:00+05:30', Modified_Time: modified });

describe('zoho client', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('fetches the records a notification names with Get Records by ids, 100 a call; ids it lacks are left out', async () => {
    mockToken();
    const calls: string[][] = [];
    nock(API).persist().get('/crm/v8/Contacts').query((q) => typeof q.ids === 'string').reply((uri) => {
      const ids = new URL(uri, API).searchParams.get('ids')!.split(',');
      calls.push(ids);
      const data = ids.filter((id) => id !== '1007').map((id) => contact(Number(id), '2025-03-01T10:00:00+05:30'));
      return data.length ? [200, { data, info: { per_page: 100, count: data.length, page: 1, more_records: false } }] : [204, ''];
    });
    const ids = Array.from({ length: 150 }, (_, i) => String(1000 + i));
    const found = await client().fetchMany!('customer', ids);
    expect(calls.map((c) => c.length)).toEqual([100, 50]);
    expect(found.size).toBe(149);
    expect(found.has('1007')).toBe(false);
    expect((found.get('1000') as any).Email).toBe('a1000@example.com');
    expect((await client().fetchMany!('customer', ['1007'])).size).toBe(0);
  });

  it('pages 200 at a time with If-Modified-Since, switches to page_token past 2,000 records, and moves the cursor', async () => {
    mockToken();
    const seen: Record<string, string>[] = [];
    nock(API, { reqheaders: { authorization: 'Zoho-oauthtoken 1000.tok1', 'if-modified-since': '2025-03-01T00:00:00+00:00' } }).persist()
      .get('/crm/v8/Contacts').query((q) => { seen.push(q as Record<string, string>); return true; })
      .reply(function (uri) {
        const q = new URL(uri, API).searchParams;
        if (q.get('page_token') === 'tok-11') return [200, { data: [contact(11, '2025-03-05T10:00:00+00:00')], info: { more_records: false, per_page: 200 } }];
        return [200, { data: [contact(Number(q.get('page')), '2025-03-04T10:00:00+00:00')], info: { more_records: true, per_page: 200, page: Number(q.get('page')), next_page_token: `tok-${Number(q.get('page')) + 1}` } }];
      });
    nock(API, { reqheaders: { 'if-modified-since': '2025-03-01T00:00:00+00:00' } })
      .get('/crm/v8/Contacts/deleted').query({ type: 'all', per_page: '200', page: '1' })
      .reply(200, { data: [{ deleted_by: { name: 'Admin', id: '1' }, id: '5725767000000900001', display_name: 'Old Contact', type: 'recycle', created_by: { name: 'Admin', id: '1' }, deleted_time: '2025-03-03T08:00:00+00:00' }], info: { per_page: 200, count: 1, page: 1, more_records: false } });
    const c = client();
    let cursor: unknown = { since: '2025-03-01T00:00:00+00:00' };
    let pages = 0;
    const deletions: unknown[] = [];
    for (;;) {
      const p = await c.pull('customer', { cursor, pageSize: 200 });
      pages++;
      deletions.push(...(p.deletions ?? []));
      cursor = p.cursor;
      if (p.done) break;
    }
    expect(pages).toBe(12);
    // After the records, the deleted-records listing of the same period: recorded as deletions.
    expect(deletions).toEqual([{ id: '5725767000000900001', deletedAt: '2025-03-03T08:00:00+00:00' }]);
    expect(seen[0]).toMatchObject({ per_page: '200', page: '1', sort_by: 'Modified_Time', sort_order: 'asc' });
    expect(seen[0].fields).toContain('Email');
    expect(seen[9]).toMatchObject({ page: '10' });
    expect(seen[10]).toMatchObject({ page_token: 'tok-11' });
    expect(seen[10]).not.toHaveProperty('page');
    expect(cursor).toEqual({ since: '2025-03-05T09:59:59+00:00' });
  });

  it('reads 204 No Content as an empty, finished page', async () => {
    mockToken();
    nock(API).get('/crm/v8/Sales_Orders').query(true).reply(204)
      .get('/crm/v8/Sales_Orders/deleted').query(true).reply(204);
    const c = client();
    const p1 = await c.pull('order', { cursor: { since: '2025-03-01T00:00:00+00:00' }, pageSize: 200 });
    expect(p1).toMatchObject({ records: [], done: false, cursor: { deletedPage: 1 } });
    expect(await c.pull('order', { cursor: p1.cursor, pageSize: 200 })).toMatchObject({ records: [], deletions: [], done: true, cursor: { since: '2025-03-01T00:00:00+00:00' } });
  });

  it('refreshes the token once on INVALID_TOKEN; a refused refresh is an auth failure naming the connection', async () => {
    const tokens = mockToken();
    nock(API).get('/crm/v8/Contacts').query(true).reply(401, { code: 'INVALID_TOKEN', details: {}, message: 'invalid oauth token', status: 'error' })
      .get('/crm/v8/Contacts').query(true).matchHeader('authorization', 'Zoho-oauthtoken 1000.tok2').reply(200, { data: [], info: { more_records: false } });
    await client().pull('customer', { cursor: null, pageSize: 200 });
    expect(tokens()).toBe(2);
    nock.cleanAll();
    nock(ACCOUNTS).post('/oauth/v2/token').reply(200, { error: 'invalid_code' });
    const err = await client().pull('customer', { cursor: null, pageSize: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err.message).toMatch(/connection zc: .*invalid_code/);
  });

  it('upserts at most 100 records with duplicate_check_fields and reads each record status', async () => {
    mockToken();
    let body: any;
    nock(API).post('/crm/v8/Deals/upsert', (b) => { body = b; return true; }).reply(207, { data: [
      { code: 'SUCCESS', duplicate_field: 'Synchub_Order_Number', action: 'update', details: { id: '5725767000000524157' }, message: 'record updated', status: 'success' },
      { code: 'INVALID_DATA', details: { api_name: 'Closing_Date', expected_data_type: 'date' }, message: 'invalid data', status: 'error' },
    ] });
    const out = await client({ orderModule: 'Deals' }).push('order', [
      { key: 'a', externalId: '5725767000000524157', payload: { Deal_Name: 'Order 1', Synchub_Order_Number: '1' } },
      { key: 'b', payload: { Deal_Name: 'Order 2', Synchub_Order_Number: '2', Closing_Date: 'x' } },
    ]);
    expect(body.duplicate_check_fields).toEqual(['Synchub_Order_Number']);
    expect(body.data[0]).toEqual({ Deal_Name: 'Order 1', Synchub_Order_Number: '1', id: '5725767000000524157' });
    expect(out[0]).toEqual({ key: 'a', ok: true, externalId: '5725767000000524157' });
    expect(!out[1].ok && out[1].error.message).toContain('INVALID_DATA: invalid data (Closing_Date)');
    await expect(client().push('customer', Array.from({ length: 101 }, (_, i) => ({ key: `${i}`, payload: {} })))).rejects.toThrow(/at most 100/);
  });

  it('reads per-record errors from a 400 where every record failed', async () => {
    mockToken();
    nock(API).post('/crm/v8/Contacts/upsert').reply(400, { data: [{ code: 'MANDATORY_NOT_FOUND', details: { api_name: 'Last_Name' }, message: 'required field not found', status: 'error' }] });
    const out = await client().push('customer', [{ key: 'a', payload: { Email: 'a@example.com' } }]);
    expect(out[0].ok).toBe(false);
  });
});

describe('zoho notifications', () => {
  const handler = zohoWebhooks('channel-token-1', { Contacts: 'customer', Sales_Orders: 'order' });
  const req = (body: object) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/zc', headers: {}, rawBody: Buffer.from(JSON.stringify(body)) });
  const note = { server_time: 1741000000000, query_params: {}, module: 'Sales_Orders', resource_uri: 'https://www.zohoapis.com/crm/v8/Sales_Orders', ids: ['5725767000000524157', '5725767000000524158'], affected_fields: [], operation: 'update', channel_id: '1000000068001', token: 'channel-token-1' };

  it('accepts the channel token and names each record to fetch', async () => {
    const d = await handler.verify(req(note));
    expect(d.events.map((e) => [e.entity, e.ref])).toEqual([['order', '5725767000000524157'], ['order', '5725767000000524158']]);
  });

  it('operation delete names deleted records: deletions at server_time, nothing to fetch', async () => {
    const d = await handler.verify(req({ ...note, operation: 'delete', ids: ['5725767000000524157'] }));
    expect(d.events).toEqual([expect.objectContaining({ entity: 'order', ref: '5725767000000524157', topic: 'Sales_Orders.delete', deletion: 'always', occurredAt: new Date(1741000000000).toISOString() })]);
  });

  it('refuses a wrong or missing token', () => {
    expect(() => handler.verify(req({ ...note, token: 'channel-token-2' }))).toThrow(/token is missing or wrong/);
    expect(() => handler.verify(req({ ...note, token: undefined }))).toThrow(/token is missing or wrong/);
  });
});

describe('zoho default mappings', () => {
  it('maps Sales_Orders and Deals with configurable picklists and exact money, and contacts both ways', async () => {
    const m = loadMapping(defaultMappingFile('zoho', 'order', 'in'), { connector: 'zoho', options: {} });
    const so: any = await m.evaluate({ id: '57001', Subject: 'SO 1', Status: 'Approved', Sub_Total: 100, Tax: 7.25, Discount: 0, Grand_Total: 107.25, Currency: 'EUR', Synchub_Order_Number: '1001', Created_Time: '2025-03-01T09:00:00+05:30', Modified_Time: '2025-03-02T09:00:00+05:30' });
    expect(canonicalProblems('order', so)).toEqual([]);
    expect(so).toMatchObject({ orderNumber: '1001', status: 'paid', total: '107.25', currency: 'EUR', createdAt: '2025-03-01T03:30:00.000Z' });
    const deals = loadMapping(defaultMappingFile('zoho', 'order', 'in'), { connector: 'zoho', options: { orderModule: 'Deals', orderStatuses: { Shipped: 'shipped' } } });
    expect(await deals.evaluate({ id: '1', Deal_Name: 'Order 7', Stage: 'Shipped', Amount: 12.5, Created_Time: '2025-03-01T09:00:00+00:00', Modified_Time: '2025-03-01T09:00:00+00:00' })).toMatchObject({ status: 'shipped', total: '12.50', currency: 'USD', orderNumber: 'Order 7' });
    const cin = loadMapping(defaultMappingFile('zoho', 'customer', 'in'), { connector: 'zoho' });
    const c: any = await cin.evaluate(contact(3, '2025-03-02T09:00:00+00:00'));
    expect(canonicalProblems('customer', c)).toEqual([]);
    const cout = loadMapping(defaultMappingFile('zoho', 'customer', 'out'), { connector: 'zoho' });
    expect(await cout.evaluate(c)).toEqual({ First_Name: 'Ada', Last_Name: 'Lovelace', Email: 'a3@example.com' });
  });
});
