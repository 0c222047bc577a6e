import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { salesforce } from '../../../src/connectors/salesforce/index.js';
import { salesforceThrottle } from '../../../src/connectors/salesforce/client.js';
import { RateLimitedError } from '../../../src/core/errors.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';

const SF = 'https://acme.my.salesforce.com';
const V = '/services/data/v62.0';

function client(credentials: Record<string, string> = { accessToken: 'sf-token' }, options: Record<string, unknown> = {}) {
  return salesforce.create(testConnection({ name: 'sf', connector: 'salesforce', baseUrl: SF, options, credentials }), { logger: quietLogger });
}
const order = (id: string, stamp: string, extra: Record<string, unknown> = {}) => ({
  attributes: { type: 'Order', url: `${V}/sobjects/Order/${id}` }, Id: id, OrderNumber: `0000${id.slice(-3)}`, Status: 'Activated', TotalAmount: 1250.5,
  EffectiveDate: '2025-03-01', Description: null, CreatedDate: '2025-03-01T09:00:00.000+0000', SystemModstamp: stamp, Synchub_Id__c: `#${id.slice(-3)}`, ...extra,
});

describe('salesforce client', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('fetches several records with one SOQL Id IN query, 100 ids a query; deleted ones are simply absent', async () => {
    const queries: string[] = [];
    nock(SF).persist().get(`${V}/query`).query(true).reply((uri) => {
      const q = new URL(uri, SF).searchParams.get('q')!;
      queries.push(q);
      const named = [...q.matchAll(/'([A-Za-z0-9]{15,18})'/g)].map((m) => m[1]).filter((id) => !id.endsWith('0007QAS'));
      return [200, { totalSize: named.length, done: true, records: named.map((id) => order(id, '2025-03-01T10:00:00.000+0000')) }];
    });
    const ids = Array.from({ length: 120 }, (_, i) => `8015A${String(i).padStart(10, '0')}QAS`);
    const found = await client().fetchMany!('order', [...ids, "x' OR Name != '"]);
    expect(queries).toHaveLength(2);
    expect(queries[0]).toMatch(/^SELECT Id, .* FROM Order WHERE Id IN \('8015A0000000000QAS', '8015A0000000001QAS', /);
    expect(queries.join()).not.toContain('OR Name');
    expect(found.has(ids[7])).toBe(false);
    expect(found.get(ids[8])).toMatchObject({ Id: ids[8] });
    // The 15-character form of an id finds its record too.
    expect(found.get(ids[9].slice(0, 15))).toMatchObject({ Id: ids[9] });
  });

  it('queries by SystemModstamp ordered with Id, follows nextRecordsUrl until done, and never re-reads the last stamp', async () => {
    const queries: string[] = [];
    nock(SF, { reqheaders: { authorization: 'Bearer sf-token' } })
      .get(`${V}/query`).query((q) => { queries.push(String(q.q)); return true; })
      .reply(200, { totalSize: 3, done: false, nextRecordsUrl: `${V}/query/01gD0000002HU6KIAW-2000`, records: [order('801A', '2025-03-02T10:00:00.000+0000'), order('801B', '2025-03-02T11:00:00.000+0000')] }, { 'sforce-limit-info': 'api-usage=10/15000' })
      .get(`${V}/query/01gD0000002HU6KIAW-2000`)
      .reply(200, { totalSize: 3, done: true, records: [order('801C', '2025-03-02T11:00:00.000+0000')] });
    const c = client();
    const p1 = await c.pull('order', { cursor: { since: '2025-03-01T00:00:00.000+0000' }, pageSize: 500 });
    expect(queries[0]).toBe('SELECT Id, OrderNumber, Status, TotalAmount, EffectiveDate, Description, CreatedDate, SystemModstamp, Synchub_Id__c FROM Order WHERE SystemModstamp >= 2025-03-01T00:00:00Z ORDER BY SystemModstamp, Id');
    expect(p1.done).toBe(false);
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 500 });
    // An incremental run ends with the deleted-records call (tested below).
    expect(p2).toMatchObject({ done: false, cursor: { since: '2025-03-02T11:00:00.000+0000', seenAtSince: ['801B', '801C'], readDeleted: true } });
    const { readDeleted: _r, deletedFrom: _d, ...next } = p2.cursor as Record<string, unknown>;

    // The next run asks from that stamp again and drops the two records it already read there.
    nock(SF).get(`${V}/query`).query(true).reply(200, { totalSize: 3, done: true, records: [order('801B', '2025-03-02T11:00:00.000+0000'), order('801C', '2025-03-02T11:00:00.000+0000'), order('801D', '2025-03-02T11:00:00.000+0000')] });
    const p3 = await c.pull('order', { cursor: next, pageSize: 500 });
    expect(p3.records.map((r: any) => r.Id)).toEqual(['801D']);
    expect((p3.cursor as any).seenAtSince).toEqual(['801B', '801C', '801D']);
  });

  it('an incremental run ends with sObject Get Deleted: the ids deleted since the last window, its latestDateCovered the next start', async () => {
    const recent = new Date(Date.now() - 3600_000).toISOString().replace(/\.\d{3}Z$/, '.000+0000');
    let window: Record<string, string> = {};
    nock(SF).get(`${V}/query`).query(true).reply(200, { totalSize: 1, done: true, records: [order('801A', recent)] })
      .get(`${V}/sobjects/Order/deleted/`).query((q) => { window = q as Record<string, string>; return true; })
      // Shaped like "Get a List of Deleted Records Within a Given Timeframe" (REST API Developer Guide).
      .reply(200, { deletedRecords: [{ id: '801D0000008pQRAIA2', deletedDate: '2025-03-02T12:07:19.000+0000' }], earliestDateAvailable: '2025-02-20T15:57:00.000+0000', latestDateCovered: '2025-03-02T12:20:00.000+0000' });
    const c = client();
    const p1 = await c.pull('order', { cursor: { since: recent, deletedFrom: '2025-03-02T10:00:00Z' }, pageSize: 200 });
    expect(p1).toMatchObject({ done: false, cursor: { readDeleted: true } });
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 200 });
    expect(p2.records).toEqual([]);
    expect(p2.deletions).toEqual([{ id: '801D0000008pQRAIA2', deletedAt: '2025-03-02T12:07:19Z' }]);
    expect(p2).toMatchObject({ done: true, cursor: { since: recent, deletedFrom: '2025-03-02T12:20:00Z' } });
    expect((p2.cursor as any).readDeleted).toBeUndefined();
    // The window asked for starts no earlier than 15 days back (the resource's limit), which the run is told.
    expect(Date.parse(window.start)).toBeGreaterThan(Date.now() - 15 * 24 * 3600_000);
    expect(window.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    expect(p2.notices?.[0]).toMatch(/last 15 days only/);
  });

  it('a deleted-records window of a minute or less is left for the next run (start must precede end by more than one minute)', async () => {
    const from = new Date(Date.now() - 20_000).toISOString();
    const p = await client().pull('order', { cursor: { since: '2025-03-02T10:00:00.000+0000', deletedFrom: from, readDeleted: true }, pageSize: 200 });
    expect(p).toMatchObject({ records: [], done: true, cursor: { deletedFrom: from } });
    expect(p.deletions).toBeUndefined();
  });

  it('a full run reads no deleted list; its end cursor starts the next window at the time the run started', async () => {
    const before = Date.now();
    nock(SF).get(`${V}/query`).query(true).reply(200, { totalSize: 1, done: true, records: [order('801A', '2025-03-02T10:00:00.000+0000')] });
    const p = await client().pull('order', { cursor: null, pageSize: 200 });
    expect(p.done).toBe(true);
    expect(Date.parse((p.cursor as any).deletedFrom)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('upserts by external id through sObject Collections and dead-letters only the records Salesforce refuses', async () => {
    let body: any;
    nock(SF).patch(`${V}/composite/sobjects/Opportunity/Synchub_Id__c`, (b) => { body = b; return true; }).reply(200, [
      { id: '006A', success: true, created: true, errors: [] },
      { success: false, errors: [{ statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [CloseDate]', fields: ['CloseDate'] }] },
    ]);
    const out = await client(undefined, { orderObject: 'Opportunity' }).push('order', [
      { key: 'k1', payload: { Name: 'Order 1001', StageName: 'Closed Won', Amount: '10.00', Synchub_Id__c: '1001' } },
      { key: 'k2', payload: { Name: 'Order 1002', StageName: 'Closed Won' } },
    ]);
    expect(body).toEqual({ allOrNone: false, records: [
      { attributes: { type: 'Opportunity' }, Name: 'Order 1001', StageName: 'Closed Won', Amount: '10.00', Synchub_Id__c: '1001' },
      { attributes: { type: 'Opportunity' }, Name: 'Order 1002', StageName: 'Closed Won', Synchub_Id__c: 'k2' },
    ] });
    expect(out[0]).toEqual({ key: 'k1', ok: true, externalId: '006A' });
    expect(!out[1].ok && out[1].error.message).toContain('REQUIRED_FIELD_MISSING: Required fields are missing: [CloseDate] (CloseDate)');
    await expect(client().push('order', Array.from({ length: 201 }, (_, i) => ({ key: `k${i}`, payload: {} })))).rejects.toThrow(/at most 200/);
  });

  it('gets a client-credentials token from the instance and refreshes it once on 401', async () => {
    let n = 0;
    nock(SF).persist().post('/services/oauth2/token').reply(() => [200, { access_token: `00D!tok${++n}`, instance_url: SF, token_type: 'Bearer', issued_at: '1741000000000', signature: 'x' }]);
    nock(SF).get(`${V}/query`).query(true).reply(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }])
      .get(`${V}/query`).query(true).matchHeader('authorization', 'Bearer 00D!tok2').reply(200, { totalSize: 0, done: true, records: [] });
    const p = await client({ clientId: 'cid', clientSecret: 'cs' }).pull('customer', { cursor: null, pageSize: 200 });
    expect(p.done).toBe(true);
    expect(n).toBe(2);
  });

  it('REQUEST_LIMIT_EXCEEDED waits for the limit window instead of burning retries', async () => {
    const api = nock(SF).get(`${V}/query`).query(true).reply(403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    const err = await client(undefined, { limitExceededWaitMs: 600_000 }).pull('order', { cursor: null, pageSize: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBe(600_000);
    expect(api.isDone()).toBe(true);
  });

  it('slows down inside the daily-limit headroom: the next call waits in the job layer', async () => {
    expect(salesforceThrottle('api-usage=8999/10000', 0.1)).toBe(0);
    expect(salesforceThrottle('api-usage=9000/10000', 0.1)).toBe(60_000);
    nock(SF).get(`${V}/query`).query(true).reply(200, { totalSize: 0, done: true, records: [] }, { 'sforce-limit-info': 'api-usage=14000/15000' });
    const c = client();
    await c.pull('order', { cursor: null, pageSize: 200 });
    expect(await c.pull('order', { cursor: null, pageSize: 200 }).catch((e) => e)).toBeInstanceOf(RateLimitedError);
  });
});

describe('salesforce default mappings', () => {
  it('maps Orders and Opportunities with configurable status picklists and exact amounts', async () => {
    const m = loadMapping(defaultMappingFile('salesforce', 'order', 'in'), { connector: 'salesforce', options: { orderStatuses: { Shipped: 'shipped' } } });
    const o: any = await m.evaluate(order('801A', '2025-03-02T10:00:00.000+0000'));
    expect(canonicalProblems('order', o)).toEqual([]);
    expect(o).toMatchObject({ externalId: '801A', orderNumber: '#01A', status: 'paid', total: '1250.50', currency: 'USD', updatedAt: '2025-03-02T10:00:00.000Z' });
    expect(((await m.evaluate(order('801B', '2025-03-02T10:00:00.000+0000', { Status: 'Shipped' }))) as any).status).toBe('shipped');
    const opp: any = await m.evaluate({ attributes: { type: 'Opportunity' }, Id: '006A', Name: 'Order 1001', StageName: 'Closed Lost', Amount: 99.99, CreatedDate: '2025-03-01T09:00:00.000+0000', SystemModstamp: '2025-03-01T09:00:00.000+0000', Synchub_Id__c: '1001' });
    expect(opp).toMatchObject({ orderNumber: '1001', status: 'cancelled', total: '99.99' });
    await expect(m.evaluate(order('801C', '2025-03-02T10:00:00.000+0000', { Status: 'Weird' }))).rejects.toThrow(/add it to the orderStatuses option of the connection/);
  });

  it('writes an Opportunity with its amount and stage, and a Contact', async () => {
    const out = loadMapping(defaultMappingFile('salesforce', 'order', 'out'), { connector: 'salesforce', options: { orderObject: 'Opportunity' } });
    expect(await out.evaluate({ orderNumber: '1001', status: 'paid', total: '10.50', currency: 'USD', createdAt: '2025-03-01T09:00:00.000Z', paidAt: '2025-03-02T09:00:00.000Z' }))
      .toEqual({ Name: 'Order 1001', StageName: 'Closed Won', Amount: '10.50', CloseDate: '2025-03-02', Description: 'synchub: paid', Synchub_Id__c: '1001' });
    const cout = loadMapping(defaultMappingFile('salesforce', 'customer', 'out'), { connector: 'salesforce' });
    expect(await cout.evaluate({ externalId: '1', email: 'a@example.com', firstName: 'Ada', lastName: 'Lovelace' })).toEqual({ FirstName: 'Ada', LastName: 'Lovelace', Email: 'a@example.com' });
    const cin = loadMapping(defaultMappingFile('salesforce', 'customer', 'in'), { connector: 'salesforce' });
    const c: any = await cin.evaluate({ attributes: { type: 'Contact' }, Id: '003A', FirstName: 'Ada', LastName: 'Lovelace', Email: 'a@example.com', CreatedDate: '2025-03-01T09:00:00.000+0000', SystemModstamp: '2025-03-01T09:00:00.000+0000' });
    expect(canonicalProblems('customer', c)).toEqual([]);
  });
});
