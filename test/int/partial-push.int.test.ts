/**
 * A push that fails part-way, on real Redis: what the target answered as written stays
 * written, and the next attempt sends only the records that were not (issue 15, item 6).
 * The targets are mocked as stateful servers that count each record's writes.
 */
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';
import { mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';
const ORG = 'https://acme.crm.dynamics.com';
const API = '/api/data/v9.2';
const USD = '6f1b2c3d-0000-4000-8000-000000000840';
const guid = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

async function runTo(target: Record<string, unknown>, n: number, dead = 0): Promise<TestHub> {
  const t = await openTestHub(testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { ...target, http: { rateLimit: { max: 1000, perMs: 1000 }, ...(target.http as object) } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: n } },
  }));
  t.startWorkers();
  const { runId } = await startRun(t.hub, 'orders', false);
  const run = await runFinished(t.hub, runId, 60_000);
  expect(run).toMatchObject({ expected: n, pushed: n - dead, dead });
  return t;
}

describe('a push that fails part-way', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('Dynamics 365: operations of a $batch answered 429 are sent again after their Retry-After, alone; the 204s are not sent twice', async () => {
    const N = 10;
    mockShopifyOrders(SHOP, shopifyOrders(N));
    nock('https://login.microsoftonline.com').persist().post('/t1/oauth2/v2.0/token').reply(200, { access_token: 'eyJ.d', expires_in: 3599 });
    nock(ORG).persist().get(`${API}/transactioncurrencies`).query(true)
      .reply(200, { value: [{ transactioncurrencyid: USD, isocurrencycode: 'USD' }] });
    // Orders 1007 and 1009 are throttled the first time Dataverse sees them (service protection
    // limits apply per operation inside a batch); everything else is written at once.
    const throttledOnce = new Set(['1007', '1009']);
    const calls: string[][] = [];
    const writes = new Map<string, number>();
    const currencies = new Set<string>();
    nock(ORG).persist().post(`${API}/$batch`).reply(function (_uri, body) {
      const boundary = /boundary=(\S+)/.exec(String(this.req.headers['content-type']))![1];
      const ops = String(body).split(`--${boundary}`).slice(1, -1);
      const keys = ops.map((op) => decodeURIComponent(/salesorders\(synchub_id='([^']+)'\)/.exec(op)![1]));
      calls.push(keys);
      const parts = ops.map((op, i) => {
        const key = keys[i];
        if (throttledOnce.delete(key)) {
          return ['--resp', 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '', 'HTTP/1.1 429 Too Many Requests', 'Retry-After: 1',
            'Content-Type: application/json; odata.metadata=minimal', '', '{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}'].join('\r\n');
        }
        currencies.add(JSON.parse(op.slice(op.indexOf('{')))['transactioncurrencyid@odata.bind']);
        writes.set(key, (writes.get(key) ?? 0) + 1);
        return ['--resp', 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '', 'HTTP/1.1 204 No Content',
          `OData-EntityId: ${ORG}${API}/salesorders(${guid(Number(key))})`, '', ''].join('\r\n');
      });
      return [200, `${parts.join('\r\n')}\r\n--resp--\r\n`, { 'content-type': 'multipart/mixed; boundary=resp' }];
    });
    t = await runTo({ connector: 'dynamics', baseUrl: ORG, batchSize: 5, credentials: { tenantId: 't1', clientId: 'c', clientSecret: 's' } }, N);
    expect(calls).toEqual([
      ['1001', '1002', '1003', '1004', '1005'],
      ['1006', '1007', '1008', '1009', '1010'],
      // The second attempt: only the two throttled operations.
      ['1007', '1009'],
    ]);
    expect(writes.size).toBe(N);
    expect([...writes.values()].every((w) => w === 1)).toBe(true);
    expect([...currencies]).toEqual([`/transactioncurrencies(${USD})`]);
  });

  it('HubSpot: a batch refused as a whole is narrowed record by record; a 429 part-way keeps the records pushed alone and retries only the rest', async () => {
    const N = 10;
    mockShopifyOrders(SHOP, shopifyOrders(N));
    const calls: string[][] = [];
    const writes = new Map<string, number>();
    let refusedWhole = false;
    let throttled = false;
    nock('https://api.hubapi.com').persist().post('/crm/objects/2026-09/deals/batch/upsert').reply((_uri, body: any) => {
      const ids: string[] = body.inputs.map((i: any) => i.id);
      calls.push(ids);
      // The first batch is refused whole (one bad input fails a HubSpot batch), then order 1004 meets the rate limit once.
      if (!refusedWhole) {
        refusedWhole = true;
        return [400, { status: 'error', message: 'Property values were not valid', category: 'VALIDATION_ERROR', correlationId: 'c0' }];
      }
      if (ids.length === 1 && ids[0] === '1004' && !throttled) {
        throttled = true;
        return [429, { status: 'error', message: 'You have reached your secondly limit.', category: 'RATE_LIMITS', policyName: 'SECONDLY' }, { 'retry-after': '1' }];
      }
      const now = new Date().toISOString();
      return [200, { status: 'COMPLETE', startedAt: now, completedAt: now, results: body.inputs.map((i: any) => {
        writes.set(i.id, (writes.get(i.id) ?? 0) + 1);
        return { id: `9${i.id}`, properties: i.properties, createdAt: now, updatedAt: now, archived: false };
      }) }];
    });
    t = await runTo({ connector: 'hubspot', credentials: { accessToken: 'pat' }, http: { retries: 0 } } /* the 429 goes to the job layer */, N);
    const all = ['1001', '1002', '1003', '1004', '1005', '1006', '1007', '1008', '1009', '1010'];
    expect(calls).toEqual([all, ['1001'], ['1002'], ['1003'], ['1004'], all.slice(3)]);
    expect(writes.size).toBe(N);
    expect([...writes.values()].every((w) => w === 1)).toBe(true);
  });

  it('Dynamics 365: an operation refused beside a throttled one is dead-lettered once and not sent again with the retry', async () => {
    const N = 5;
    mockShopifyOrders(SHOP, shopifyOrders(N));
    nock('https://login.microsoftonline.com').persist().post('/t1/oauth2/v2.0/token').reply(200, { access_token: 'eyJ.d', expires_in: 3599 });
    nock(ORG).persist().get(`${API}/transactioncurrencies`).query(true).reply(200, { value: [{ transactioncurrencyid: USD, isocurrencycode: 'USD' }] });
    let throttled = false;
    const calls: string[][] = [];
    nock(ORG).persist().post(`${API}/$batch`).reply(function (_uri, body) {
      const boundary = /boundary=(\S+)/.exec(String(this.req.headers['content-type']))![1];
      const keys = String(body).split(`--${boundary}`).slice(1, -1).map((op) => decodeURIComponent(/salesorders\(synchub_id='([^']+)'\)/.exec(op)![1]));
      calls.push(keys);
      const parts = keys.map((key) => {
        const head = ['--resp', 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', ''];
        if (key === '1002' && !throttled) {
          throttled = true;
          return [...head, 'HTTP/1.1 429 Too Many Requests', 'Retry-After: 1', '', '{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}'].join('\r\n');
        }
        if (key === '1004') return [...head, 'HTTP/1.1 400 Bad Request', 'Content-Type: application/json; odata.metadata=minimal', '', '{"error":{"code":"0x80040203","message":"Invalid statecode/statuscode combination"}}'].join('\r\n');
        return [...head, 'HTTP/1.1 204 No Content', `OData-EntityId: ${ORG}${API}/salesorders(${guid(Number(key))})`, '', ''].join('\r\n');
      });
      return [200, `${parts.join('\r\n')}\r\n--resp--\r\n`, { 'content-type': 'multipart/mixed; boundary=resp' }];
    });
    t = await runTo({ connector: 'dynamics', baseUrl: ORG, credentials: { tenantId: 't1', clientId: 'c', clientSecret: 's' } }, N, 1);
    expect(calls).toEqual([['1001', '1002', '1003', '1004', '1005'], ['1002']]);
    const { items } = await t.hub.store.listDeadLetters({ pipeline: 'orders' });
    expect(items.map((d) => [d.key, d.step, d.error.message.includes('Invalid statecode/statuscode combination')])).toEqual([['order:shop:5000003', 'push', true]]);
  });
});
