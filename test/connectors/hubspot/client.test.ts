import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hubspot } from '../../../src/connectors/hubspot/index.js';
import { RateLimitedError, RemoteRejectedError } from '../../../src/core/errors.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';

const API = 'https://api.hubapi.com';
// These cases pin v3, whose paths configs that set `apiVersion: v3` keep; dated.test.ts covers the default.
const client = (options = {}) => hubspot.create(testConnection({ name: 'crm', connector: 'hubspot', baseUrl: API, credentials: { accessToken: 'pat-test' }, options: { apiVersion: 'v3', ...options } }), { logger: quietLogger });
const now = '2025-01-01T00:00:00.000Z';

describe('hubspot client (v3 pinned)', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('upserts contacts by email and matches results by value, not position', async () => {
    nock(API, { reqheaders: { authorization: 'Bearer pat-test' } })
      .post('/crm/v3/objects/contacts/batch/upsert', (b) => b.inputs.length === 2 && b.inputs.every((i: any) => i.idProperty === 'email'))
      .reply(200, {
        status: 'COMPLETE', startedAt: now, completedAt: now,
        results: [
          { id: '52', properties: { email: 'b@example.com' }, createdAt: now, updatedAt: now, archived: false, new: true },
          { id: '51', properties: { email: 'a@example.com' }, createdAt: now, updatedAt: now, archived: false, new: false },
        ],
      });
    const out = await client().push('customer', [
      { key: 'ka', payload: { properties: { email: 'A@example.com', firstname: 'A' } } },
      { key: 'kb', payload: { properties: { email: 'b@example.com' } } },
    ]);
    expect(out).toEqual([{ key: 'ka', ok: true, externalId: '51' }, { key: 'kb', ok: true, externalId: '52' }]);
  });

  it('upserts deals on the configured order-number property; records HubSpot refused fail alone', async () => {
    nock(API)
      .post('/crm/v3/objects/deals/batch/upsert', (b) => b.inputs.every((i: any) => i.idProperty === 'shop_no'))
      .reply(207, {
        status: 'COMPLETE', startedAt: now, completedAt: now, numErrors: 1,
        results: [{ id: '900', properties: { shop_no: '1001' }, createdAt: now, updatedAt: now, archived: false, new: true }],
        errors: [{ status: 'error', category: 'VALIDATION_ERROR', message: 'Property values were not valid: amount', context: { ids: ['1002'] } }],
      });
    const out = await client({ orderIdProperty: 'shop_no' }).push('order', [
      { key: 'o1', payload: { properties: { shop_no: '1001', amount: '10.00' } } },
      { key: 'o2', payload: { properties: { shop_no: '1002', amount: 'ten' } } },
      { key: 'o3', payload: { properties: { amount: '1.00' } } },
    ]);
    expect(out[0]).toEqual({ key: 'o1', ok: true, externalId: '900' });
    expect(out[1]).toMatchObject({ key: 'o2', ok: false, error: { code: 'remote_rejected', message: expect.stringMatching(/VALIDATION_ERROR: Property values were not valid/) } });
    expect(out[2]).toMatchObject({ key: 'o3', ok: false, error: { message: expect.stringMatching(/needs shop_no/) } });
  });

  it('refuses more than 100 inputs a call', async () => {
    const items = Array.from({ length: 101 }, (_, i) => ({ key: `k${i}`, payload: { properties: { email: `${i}@x.io` } } }));
    await expect(client().push('customer', items)).rejects.toThrow(RemoteRejectedError);
  });

  it('pulls through search, sorted by modification time, following paging.next.after, filtering from the cursor', async () => {
    const bodies: any[] = [];
    nock(API)
      .post('/crm/v3/objects/deals/search', (b) => { bodies.push(b); return true; })
      .reply(200, { total: 3, results: [{ id: '1', properties: { hs_lastmodifieddate: '2025-01-01T00:00:00Z' } }, { id: '2', properties: { hs_lastmodifieddate: '2025-01-02T00:00:00Z' } }], paging: { next: { after: '2' } } })
      .post('/crm/v3/objects/deals/search', (b) => { bodies.push(b); return true; })
      .reply(200, { total: 3, results: [{ id: '3', properties: { hs_lastmodifieddate: '2025-01-03T00:00:00Z' } }] });
    const c = client();
    const since = Date.parse('2024-12-31T00:00:00Z');
    const p1 = await c.pull('order', { cursor: { since }, pageSize: 2 });
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 2 });
    expect(bodies[0]).toMatchObject({
      filterGroups: [{ filters: [{ propertyName: 'hs_lastmodifieddate', operator: 'GTE', value: String(since) }] }],
      sorts: [{ propertyName: 'hs_lastmodifieddate', direction: 'ASCENDING' }], limit: 2,
    });
    expect(bodies[0].properties).toContain('synchub_order_number');
    expect(bodies[1].after).toBe('2');
    expect(p2).toMatchObject({ records: [expect.objectContaining({ id: '3' })], cursor: { since: Date.parse('2025-01-03T00:00:00Z'), archivedSince: since, archived: { readAt: expect.any(Number) } }, done: false });
  });

  it('an incremental run ends with the archived list (search cannot return archived records): those archived since the last run become deletions', async () => {
    const lists: Record<string, string>[] = [];
    const archived = (id: string, at: string) => ({ id, properties: { hs_object_id: id }, createdAt: '2024-11-01T00:00:00Z', updatedAt: at, archived: true, archivedAt: at });
    nock(API)
      .post('/crm/v3/objects/deals/search').reply(200, { total: 0, results: [] })
      .get('/crm/v3/objects/deals').query((q) => { lists.push(q as Record<string, string>); return true; })
      .reply(200, { results: [archived('71', '2024-12-20T00:00:00Z'), archived('72', '2025-01-02T10:00:00Z')], paging: { next: { after: '72', link: `${API}/crm/v3/objects/deals?archived=true&after=72` } } })
      .get('/crm/v3/objects/deals').query((q) => { lists.push(q as Record<string, string>); return true; })
      .reply(200, { results: [archived('73', '2025-01-03T10:00:00Z')] });
    const c = client();
    const since = Date.parse('2025-01-01T00:00:00Z');
    const p1 = await c.pull('order', { cursor: { since, archivedSince: since }, pageSize: 100 });
    expect(p1).toMatchObject({ records: [], done: false });
    const p2 = await c.pull('order', { cursor: p1.cursor, pageSize: 100 });
    const p3 = await c.pull('order', { cursor: p2.cursor, pageSize: 100 });
    expect(lists).toEqual([{ archived: 'true', limit: '100' }, { archived: 'true', limit: '100', after: '72' }]);
    // 71 was archived before the last run read the list: not again.
    expect(p2.deletions).toEqual([{ id: '72', deletedAt: '2025-01-02T10:00:00Z' }]);
    expect(p3.deletions).toEqual([{ id: '73', deletedAt: '2025-01-03T10:00:00Z' }]);
    expect(p3).toMatchObject({ done: true, cursor: { since, archivedSince: (p1.cursor as any).archived.readAt } });
  });

  it('a full run reads no archived list; the next run takes what was archived from its start on', async () => {
    const before = Date.now();
    nock(API).post('/crm/v3/objects/contacts/search').reply(200, { total: 0, results: [] });
    const p = await client().pull('customer', { cursor: null, pageSize: 10 });
    expect(p.done).toBe(true);
    expect((p.cursor as any).archivedSince).toBeGreaterThanOrEqual(before);
  });

  it('restarts the search from the newest time seen before the 10,000-result window ends', async () => {
    nock(API).post('/crm/v3/objects/contacts/search').reply(200, { total: 20000, results: [{ id: '9', properties: { lastmodifieddate: '2025-02-01T00:00:00Z' } }], paging: { next: { after: '9900' } } });
    const p = await client().pull('customer', { cursor: { since: 0, after: '9700', maxSeen: 0 }, pageSize: 200 });
    expect(p).toEqual({ records: expect.any(Array), cursor: { since: Date.parse('2025-02-01T00:00:00Z'), maxSeen: Date.parse('2025-02-01T00:00:00Z') }, done: false });
  });

  it('reads the 429 policy when there is no Retry-After, and retries a 5xx', async () => {
    nock(API).post('/crm/v3/objects/contacts/search').reply(429, { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
    const err = await client().pull('customer', { cursor: null, pageSize: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBe(10_000);
    nock(API).post('/crm/v3/objects/contacts/search').reply(500, { status: 'error', message: 'internal' })
      .post('/crm/v3/objects/contacts/search').reply(200, { total: 0, results: [] });
    expect((await client().pull('customer', { cursor: null, pageSize: 10 })).done).toBe(true);
  });
});
