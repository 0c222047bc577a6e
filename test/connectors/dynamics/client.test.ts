import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dynamics } from '../../../src/connectors/dynamics/index.js';
import { dynamicsWebhooks } from '../../../src/connectors/dynamics/webhooks.js';
import { RateLimitedError } from '../../../src/core/errors.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';

const ORG = 'https://acme.crm.dynamics.com';
const API = '/api/data/v9.2';
const CREDS = { tenantId: 'tenant-1', clientId: 'app-1', clientSecret: 'secret-1' };

function client(options: Record<string, unknown> = {}) {
  return dynamics.create(testConnection({ name: 'd365', connector: 'dynamics', baseUrl: ORG, options, credentials: CREDS }), { logger: quietLogger });
}
function mockToken() {
  let form: Record<string, string> = {};
  nock('https://login.microsoftonline.com').persist().post('/tenant-1/oauth2/v2.0/token', (b) => { form = b; return true; })
    .reply(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'eyJ0eXAi.d365' });
  return () => form;
}
const contact = (id: string, modified: string) => ({ '@odata.etag': 'W/"1"', contactid: id, firstname: 'Ada', lastname: 'Lovelace', emailaddress1: 'ada@example.com', createdon: '2025-03-01T09:00:00Z', modifiedon: modified });
const guid = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

describe('dynamics client', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('gets a client-credentials token for {baseUrl}/.default, filters on modifiedon, pages by odata.maxpagesize and follows @odata.nextLink untouched', async () => {
    const form = mockToken();
    const nextLink = `${ORG}${API}/contacts?$select=contactid&$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%22%20/%3E`;
    let firstQuery: Record<string, string> = {};
    nock(ORG, { reqheaders: { authorization: 'Bearer eyJ0eXAi.d365', prefer: /odata\.maxpagesize=2/ } })
      .get(`${API}/contacts`).query((q) => { if (!q.$skiptoken) firstQuery = q as Record<string, string>; return !q.$skiptoken; })
      .reply(200, { value: [contact(guid(1), '2025-03-02T10:00:00Z'), contact(guid(2), '2025-03-02T11:00:00Z')], '@odata.nextLink': nextLink })
      .get(`${API}/contacts`).query((q) => q.$skiptoken === '<cookie pagenumber="2" pagingcookie="%3ccookie" />')
      .reply(200, { value: [contact(guid(3), '2025-03-02T11:00:00Z')] });
    const c = client();
    const p1 = await c.pull('customer', { cursor: { since: '2025-03-01T00:00:00Z' }, pageSize: 2 });
    expect(form()).toMatchObject({ grant_type: 'client_credentials', client_id: 'app-1', client_secret: 'secret-1', scope: `${ORG}/.default` });
    expect(firstQuery).toMatchObject({ $filter: 'modifiedon ge 2025-03-01T00:00:00Z', $orderby: 'modifiedon asc,contactid asc' });
    expect(p1).toMatchObject({ done: false, cursor: { next: nextLink } });
    const p2 = await c.pull('customer', { cursor: p1.cursor, pageSize: 2 });
    expect(p2).toMatchObject({ done: true, cursor: { since: '2025-03-02T11:00:00Z', seenAtSince: [guid(2), guid(3)] } });
  });

  it('changeTracking: a run ends with the tracked id query; its first pass lists ids (no deletions), the delta link then answers $deletedEntity rows as deletions', async () => {
    mockToken();
    const c = client({ changeTracking: ['customer'] });
    const selects: string[] = [];
    const deltaLink = `${ORG}${API}/contacts?$select=contactid&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44`;
    const deltaLink2 = `${ORG}${API}/contacts?$select=contactid&$deltatoken=919058%2108%2f22%2f2017%2008%3a21%3a20`;
    nock(ORG)
      .get(`${API}/contacts`).query((q) => !!q.$filter).times(2).reply(200, { value: [] })
      // Shaped like "Use change tracking to synchronize data with external systems": the first answer, then the delta.
      .get(`${API}/contacts`).query((q) => { if (!q.$filter && !q.$deltatoken) selects.push(String(q.$select)); return !q.$filter && !q.$deltatoken; })
      .matchHeader('prefer', /odata\.track-changes/)
      .reply(200, { '@odata.context': `${ORG}${API}/$metadata#contacts(contactid)`, '@odata.deltaLink': deltaLink, value: [{ '@odata.etag': 'W/"915244"', contactid: guid(1) }] })
      .get(`${API}/contacts`).query((q) => q.$deltatoken === '919042!08/22/2017 08:10:44')
      .reply(200, {
        '@odata.context': `${ORG}/data/v9.2/$metadata#contacts(contactid)/$delta`, '@odata.deltaLink': deltaLink2,
        value: [
          { '@odata.etag': 'W/"915244"', contactid: guid(1) },
          { '@odata.context': `${ORG}${API}/$metadata#contacts/$deletedEntity`, id: guid(2), reason: 'deleted' },
          { '@odata.context': `${ORG}${API}/$metadata#contacts/$deletedEntity`, id: guid(3), reason: 'changed' },
        ],
      });
    const r1 = await c.pull('customer', { cursor: { since: '2025-03-01T00:00:00Z' }, pageSize: 100 });
    expect(r1).toMatchObject({ done: false, cursor: { readDeleted: true } });
    const r2 = await c.pull('customer', { cursor: r1.cursor, pageSize: 100 });
    expect(selects).toEqual(['contactid']);
    expect(r2).toMatchObject({ records: [], deletions: [], done: true, cursor: { since: '2025-03-01T00:00:00Z', tracking: { deltaLink } } });
    const r3 = await c.pull('customer', { cursor: r2.cursor, pageSize: 100 });
    const r4 = await c.pull('customer', { cursor: r3.cursor, pageSize: 100 });
    expect(r4).toMatchObject({ deletions: [{ id: guid(2) }], done: true, cursor: { tracking: { deltaLink: deltaLink2 } } });
    // Without changeTracking the run ends after the records, as before.
    nock(ORG).get(`${API}/salesorders`).query(true).reply(200, { value: [] });
    expect(await c.pull('order', { cursor: { since: '2025-03-01T00:00:00Z' }, pageSize: 100 })).toMatchObject({ done: true });
  });

  it('changeTracking: a delta link Dataverse refuses starts tracking again, and the run says deletions in between are not seen', async () => {
    mockToken();
    const c = client({ changeTracking: ['customer'] });
    const old = `${ORG}${API}/contacts?$select=contactid&$deltatoken=1%2101%2f01%2f2025`;
    nock(ORG)
      .get(`${API}/contacts`).query((q) => q.$deltatoken === '1!01/01/2025').reply(400, { error: { code: '0x80044352', message: 'The delta token is expired' } })
      .get(`${API}/contacts`).query((q) => !q.$deltatoken).reply(200, { '@odata.deltaLink': `${ORG}${API}/contacts?$select=contactid&$deltatoken=2`, value: [{ contactid: guid(1) }] });
    const r = await c.pull('customer', { cursor: { since: '2025-03-01T00:00:00Z', tracking: { deltaLink: old }, readDeleted: true }, pageSize: 100 });
    expect(r).toMatchObject({ deletions: [], done: true, cursor: { tracking: { deltaLink: `${ORG}${API}/contacts?$select=contactid&$deltatoken=2` } } });
    expect(r.notices?.[0]).toMatch(/refused the contacts delta link \(400\)/);
  });

  it('upserts by alternate key in a $batch and reads each operation result', async () => {
    mockToken();
    let sent = '';
    let type = '';
    nock(ORG).post(`${API}/$batch`, (b) => { sent = typeof b === 'string' ? b : JSON.stringify(b); return true; })
      .reply(function () {
        type = String(this.req.headers['content-type']);
        const body = [
          '--batchresponse_1', 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '',
          'HTTP/1.1 204 No Content', 'OData-Version: 4.0', `OData-EntityId: ${ORG}${API}/salesorders(${guid(7)})`, '', '',
          '--batchresponse_1', 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '',
          'HTTP/1.1 400 Bad Request', 'Content-Type: application/json; odata.metadata=minimal', 'OData-Version: 4.0', '',
          '{"error":{"code":"0x80040203","message":"Invalid statecode/statuscode combination"}}',
          '--batchresponse_1--', '',
        ].join('\r\n');
        return [200, body, { 'content-type': 'multipart/mixed; boundary=batchresponse_1' }];
      });
    const out = await client().push('order', [
      { key: 'k1', payload: { name: 'Order 1001', synchub_id: '1001', statecode: 4, statuscode: 100003 } },
      { key: 'k2', payload: { name: "Order O'Brien", statecode: 9 } },
    ]);
    expect(type).toMatch(/^multipart\/mixed; boundary=batch_/);
    expect(sent).toContain(`PATCH ${ORG}${API}/salesorders(synchub_id='1001') HTTP/1.1`);
    expect(sent).toContain(`PATCH ${ORG}${API}/salesorders(synchub_id='k2') HTTP/1.1`);
    expect(out[0]).toEqual({ key: 'k1', ok: true, externalId: guid(7) });
    expect(!out[1].ok && out[1].error.message).toContain('Invalid statecode/statuscode combination');
  });

  it('splits pushes into $batch requests of batchSize operations', async () => {
    mockToken();
    const sizes: number[] = [];
    nock(ORG).persist().post(`${API}/$batch`).reply(function (_uri, b) {
      const n = (String(b).match(/^PATCH /gm) ?? []).length;
      sizes.push(n);
      const parts = Array.from({ length: n }, (_, i) => ['--r', 'Content-Type: application/http', '', 'HTTP/1.1 204 No Content', `OData-EntityId: ${ORG}${API}/contacts(${guid(i + 1)})`, '', ''].join('\r\n'));
      return [200, `${parts.join('\r\n')}\r\n--r--\r\n`, { 'content-type': 'multipart/mixed; boundary=r' }];
    });
    const out = await client({ batchSize: 3 }).push('customer', Array.from({ length: 7 }, (_, i) => ({ key: `c${i}`, payload: { lastname: `L${i}` } })));
    expect(sizes).toEqual([3, 3, 1]);
    expect(out.every((o) => o.ok)).toBe(true);
  });

  it('a 429 honours Retry-After in seconds', async () => {
    mockToken();
    nock(ORG).get(`${API}/contacts`).query(true).reply(429, { error: { code: '0x80072322', message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.' } }, { 'retry-after': '37' });
    const err = await client().pull('customer', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBe(37_000);
  });

  it('reads every operation of a throttled $batch (change set or not): the 204s are pushed, each 429 waits its own Retry-After', async () => {
    mockToken();
    const fixture = readFileSync(new URL('../../fixtures/dynamics/batch-throttled.http', import.meta.url), 'utf8');
    nock(ORG).post(`${API}/$batch`).reply(200, fixture, { 'content-type': 'multipart/mixed; boundary=batchresponse_4c2f8a1e-7d3b-4e59-9a61-2f0d5c7be001' });
    const out = await client().push('customer', ['a', 'b', 'c', 'd'].map((key) => ({ key, payload: { lastname: key } })));
    expect(out.map((o) => (o.ok ? o.externalId : `${o.error.code} ${(o.error as RateLimitedError).retryAfterMs}`))).toEqual([
      '3f9d2a61-5b7e-ef11-a671-000d3a8f0001', 'rate_limited 7000', '3f9d2a61-5b7e-ef11-a671-000d3a8f0003', 'rate_limited 12000',
    ]);
  });

  it('sends no further $batch after a throttled one: its records wait with the rest, the written ones stay written', async () => {
    mockToken();
    const sent: string[][] = [];
    nock(ORG).persist().post(`${API}/$batch`).reply(function (_uri, b) {
      const keys = [...String(b).matchAll(/contacts\(synchub_id='([^']+)'\)/g)].map((m) => m[1]);
      sent.push(keys);
      const parts = keys.map((k, i) => (k === 'c1'
        ? ['--r', 'Content-Type: application/http', '', 'HTTP/1.1 429 Too Many Requests', 'Retry-After: 3', '', '{"error":{"code":"0x80072326","message":"Number of concurrent requests exceeded the limit of 52."}}']
        : ['--r', 'Content-Type: application/http', '', 'HTTP/1.1 204 No Content', `OData-EntityId: ${ORG}${API}/contacts(${guid(i + 1)})`, '', '']).join('\r\n'));
      return [200, `${parts.join('\r\n')}\r\n--r--\r\n`, { 'content-type': 'multipart/mixed; boundary=r' }];
    });
    const out = await client({ batchSize: 2 }).push('customer', ['c0', 'c1', 'c2', 'c3'].map((key) => ({ key, payload: {} })));
    expect(sent).toEqual([['c0', 'c1']]);
    expect(out.map((o) => [o.key, o.ok || o.error.code])).toEqual([['c0', true], ['c1', 'rate_limited'], ['c2', 'rate_limited'], ['c3', 'rate_limited']]);
    expect(((out[2] as { error: unknown }).error as RateLimitedError).retryAfterMs).toBe(3000);
  });

  it('binds a sales order to the org currency of its ISO code, looked up once per connection; a currency the org lacks is refused with that reason', async () => {
    mockToken();
    const lookups: string[] = [];
    nock(ORG).persist().get(`${API}/transactioncurrencies`).query(true).reply(function (uri) {
      const filter = new URL(uri, ORG).searchParams.get('$filter')!;
      lookups.push(filter);
      const value = filter === "isocurrencycode eq 'JPY'" ? [{ '@odata.etag': 'W/"1"', transactioncurrencyid: guid(392), isocurrencycode: 'JPY' }] : [];
      return [200, { '@odata.context': `${ORG}${API}/$metadata#transactioncurrencies(transactioncurrencyid,isocurrencycode)`, value }];
    });
    const bodies: string[] = [];
    nock(ORG).persist().post(`${API}/$batch`).reply(function (_uri, b) {
      bodies.push(String(b));
      const n = (String(b).match(/^PATCH /gm) ?? []).length;
      const parts = Array.from({ length: n }, (_, i) => ['--r', 'Content-Type: application/http', '', 'HTTP/1.1 204 No Content', `OData-EntityId: ${ORG}${API}/salesorders(${guid(i + 1)})`, '', ''].join('\r\n'));
      return [200, `${parts.join('\r\n')}\r\n--r--\r\n`, { 'content-type': 'multipart/mixed; boundary=r' }];
    });
    const c = client();
    const order = (n: string, currency: string) => ({ key: n, payload: { name: `Order ${n}`, totalamount: '53817', synchub_id: n, 'transactioncurrencyid@isocurrencycode': currency } });
    const first = await c.push('order', [order('1001', 'JPY'), order('1002', 'XTS')]);
    const second = await c.push('order', [order('1003', 'JPY')]);
    expect(first.find((o) => o.key === '1001')).toEqual({ key: '1001', ok: true, externalId: guid(1) });
    const refused = first.find((o) => o.key === '1002');
    expect(!refused?.ok && refused?.error.code).toBe('remote_rejected');
    expect(!refused?.ok && refused?.error.message).toMatch(/has no currency "XTS"/);
    expect(second[0].ok).toBe(true);
    expect(lookups.filter((f) => f.includes('JPY'))).toHaveLength(1);
    expect(bodies.join('')).toContain(`"transactioncurrencyid@odata.bind":"/transactioncurrencies(${guid(392)})"`);
    expect(bodies.join('')).not.toContain('isocurrencycode');
    expect(bodies.join('')).not.toContain("synchub_id='1002'");
  });
});

describe('dynamics webhooks (service endpoint with a key)', () => {
  const KEY = 'dataverse-webhook-key-0001';
  const handler = dynamicsWebhooks(KEY);
  const context = JSON.stringify({
    BusinessUnitId: guid(90), CorrelationId: guid(91), Depth: 1, InitiatingUserId: guid(92), InputParameters: [{ key: 'Target', value: { __type: 'Entity:http://schemas.microsoft.com/xrm/2011/Contracts', LogicalName: 'salesorder', Id: guid(7) } }],
    MessageName: 'Update', Mode: 1, OperationId: guid(93), OrganizationId: guid(94), OrganizationName: 'acme', PrimaryEntityId: guid(7), PrimaryEntityName: 'salesorder', RequestId: guid(95), Stage: 40,
  });
  const req = (url: string, headers: Record<string, string> = {}) => ({ method: 'POST', url, headers, rawBody: Buffer.from(context) });

  it('accepts the key in the header or the code parameter and names the record to fetch', async () => {
    const a = await handler.verify(req('https://hub.example.com/webhooks/d365', { 'x-synchub-key': KEY }));
    expect(a.events).toEqual([{ id: `${guid(93)}:${guid(7)}`, topic: 'salesorder.Update', entity: 'order', ref: guid(7) }]);
    expect((await handler.verify(req(`https://hub.example.com/webhooks/d365?code=${KEY}`))).events).toHaveLength(1);
  });

  it('a step on Delete is a deletion of the row it names', async () => {
    const body = JSON.stringify({ ...JSON.parse(context), MessageName: 'Delete', PrimaryEntityName: 'contact', PrimaryEntityId: guid(8) });
    const d = await handler.verify({ method: 'POST', url: 'https://hub.example.com/webhooks/d365', headers: { 'x-synchub-key': KEY }, rawBody: Buffer.from(body) });
    expect(d.events).toEqual([{ id: `${guid(93)}:${guid(8)}`, topic: 'contact.Delete', entity: 'customer', ref: guid(8), deletion: 'always' }]);
  });

  it('refuses a wrong or missing key', () => {
    expect(() => handler.verify(req('https://hub.example.com/webhooks/d365', { 'x-synchub-key': 'dataverse-webhook-key-0002' }))).toThrow(/missing or wrong/);
    expect(() => handler.verify(req('https://hub.example.com/webhooks/d365'))).toThrow(/missing or wrong/);
  });
});

describe('dynamics default mappings', () => {
  it('maps a sales order by statecode, or by statecode/statuscode when configured, with exact money', async () => {
    const m = loadMapping(defaultMappingFile('dynamics', 'order', 'in'), { connector: 'dynamics', options: { orderStatuses: { '0/2': 'paid' } } });
    const so = {
      salesorderid: guid(7), ordernumber: 'ORD-01001-X5K2', name: 'Order 1001', statecode: 4, statuscode: 100003, totalamount: 1234.56, totallineitemamount: 1200, totaltax: 34.56,
      freightamount: 0, totaldiscountamount: 0, transactioncurrencyid: { isocurrencycode: 'EUR' }, synchub_id: '1001', createdon: '2025-03-01T09:00:00Z', modifiedon: '2025-03-02T09:00:00Z',
      order_details: [{ salesorderdetailid: guid(8), productdescription: 'Desk', quantity: 2, priceperunit: 600, manualdiscountamount: 0, tax: 34.56, extendedamount: 1234.56 }],
    };
    const o: any = await m.evaluate(so);
    expect(canonicalProblems('order', o)).toEqual([]);
    expect(o).toMatchObject({ orderNumber: '1001', status: 'paid', total: '1234.56', currency: 'EUR', subtotal: '1200.00' });
    expect(((await m.evaluate({ ...so, statecode: 0, statuscode: 2 })) as any).status).toBe('paid');
    expect(((await m.evaluate({ ...so, statecode: 0, statuscode: 1 })) as any).status).toBe('pending_payment');
    expect(((await m.evaluate({ ...so, statecode: 2, statuscode: 4 })) as any).status).toBe('cancelled');
    const out = loadMapping(defaultMappingFile('dynamics', 'order', 'out'), { connector: 'dynamics', options: {} });
    expect(await out.evaluate({ orderNumber: '1001', status: 'completed', total: '10.00', currency: 'USD' })).toEqual({
      name: 'Order 1001', totalamount: '10.00', description: 'synchub: completed USD', statecode: 3, statuscode: 100001, synchub_id: '1001',
      'transactioncurrencyid@isocurrencycode': 'USD',
    });
  });
});
