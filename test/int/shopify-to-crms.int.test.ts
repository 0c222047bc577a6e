/**
 * Shopify orders → Salesforce, Zoho CRM and Dynamics 365 on real Redis: every order
 * arrives exactly once with its exact amount. Each CRM is mocked as a stateful
 * upsert-by-key server that counts how often each key was written.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';

const SHOP = 'https://acme.myshopify.com';
const N = 300;

class UpsertStore {
  records = new Map<string, { id: string; fields: Record<string, unknown> }>();
  writes = new Map<string, number>();
  tokenRequests = 0;
  currencyLookups = 0;
  private next = 1;
  upsert(key: string, fields: Record<string, unknown>) {
    const r = this.records.get(key) ?? { id: `${this.next++}`, fields: {} };
    r.fields = { ...r.fields, ...fields };
    this.records.set(key, r);
    this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
    return r;
  }
}

async function syncTo(target: Record<string, unknown>): Promise<TestHub> {
  const t = await openTestHub(testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { ...target, http: { rateLimit: { max: 1000, perMs: 1000 } } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 100 } },
  }));
  t.startWorkers();
  const { runId } = await startRun(t.hub, 'orders', false);
  const run = await runFinished(t.hub, runId, 60_000);
  expect(run).toMatchObject({ expected: N, pushed: N, dead: 0 });
  return t;
}

function expectEachOnce(store: UpsertStore, orders: Record<string, any>[], amountOf: (fields: Record<string, unknown>) => unknown) {
  expect(store.records.size).toBe(N);
  expect([...store.writes.values()].every((n) => n === 1)).toBe(true);
  for (const o of orders) expect(amountOf(store.records.get(String(o.order_number))!.fields), `order ${o.order_number}`).toBe(o.total_price);
}

describe('Shopify orders → CRMs on real Redis', () => {
  let t: TestHub | undefined;
  let orders: Record<string, any>[];
  loopbackOnly();
  beforeEach(() => {
    orders = shopifyOrders(N);
    mockShopifyOrders(SHOP, orders);
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('Salesforce: Opportunities upserted by external id, 200 a call at most', async () => {
    const sf = new UpsertStore();
    const SF = 'https://acme.my.salesforce.com';
    nock(SF).persist().post('/services/oauth2/token').reply(() => (sf.tokenRequests++, [200, { access_token: '00D!tok', instance_url: SF, token_type: 'Bearer' }]))
      .patch('/services/data/v62.0/composite/sobjects/Opportunity/Synchub_Id__c').reply((_uri, body: any) => {
        if (body.records.length > 200 || body.allOrNone !== false) return [400, [{ errorCode: 'INVALID_BATCH', message: 'bad batch' }]];
        return [200, body.records.map((r: any) => ({ id: `006${sf.upsert(r.Synchub_Id__c, r).id.padStart(12, '0')}`, success: true, errors: [] }))];
      });
    t = await syncTo({ connector: 'salesforce', baseUrl: SF, orderObject: 'Opportunity', credentials: { clientId: 'cid', clientSecret: 'cs' } });
    expectEachOnce(sf, orders, (f) => f.Amount);
    expect(sf.tokenRequests).toBe(1);
  });

  it('Zoho CRM: Deals upserted with the order-number duplicate check, 100 a call at most', async () => {
    const zs = new UpsertStore();
    nock('https://accounts.zoho.com').persist().post('/oauth/v2/token').reply(() => (zs.tokenRequests++, [200, { access_token: '1000.tok', expires_in: 3600 }]));
    nock('https://www.zohoapis.com').persist().post('/crm/v8/Deals/upsert').reply((_uri, body: any) => {
      if (body.data.length > 100) return [400, { code: 'LIMIT_EXCEEDED', message: 'too many', status: 'error' }];
      expect(body.duplicate_check_fields).toEqual(['Synchub_Order_Number']);
      return [200, { data: body.data.map((r: any) => ({ code: 'SUCCESS', details: { id: zs.upsert(r.Synchub_Order_Number, r).id }, message: 'record added', status: 'success' })) }];
    });
    t = await syncTo({ connector: 'zoho', orderModule: 'Deals', credentials: { clientId: '1000.A', clientSecret: 's', refreshToken: '1000.r' } });
    // Zoho's Amount is a JSON number carrying the same digits as the decimal string.
    expectEachOnce(zs, orders, (f) => (f.Amount as number).toFixed(2));
    expect(zs.tokenRequests).toBe(1);
  });

  it('Dynamics 365: sales orders upserted by alternate key in $batch requests', async () => {
    const ds = new UpsertStore();
    const ORG = 'https://acme.crm.dynamics.com';
    nock('https://login.microsoftonline.com').persist().post('/t1/oauth2/v2.0/token').reply(() => (ds.tokenRequests++, [200, { access_token: 'eyJ.d', expires_in: 3599 }]));
    nock(ORG).persist().get('/api/data/v9.2/transactioncurrencies').query({ $select: 'transactioncurrencyid,isocurrencycode', $filter: "isocurrencycode eq 'USD'" })
      .reply(() => (ds.currencyLookups++, [200, { value: [{ transactioncurrencyid: '6f1b2c3d-0000-4000-8000-000000000840', isocurrencycode: 'USD' }] }]));
    nock(ORG).persist().post('/api/data/v9.2/$batch').reply(function (_uri, body) {
      const boundary = /boundary=(\S+)/.exec(String(this.req.headers['content-type']))![1];
      const ops = String(body).split(`--${boundary}`).slice(1, -1);
      const parts = ops.map((op) => {
        const key = decodeURIComponent(/salesorders\(synchub_id='([^']+)'\)/.exec(op)![1]);
        const fields = JSON.parse(op.slice(op.indexOf('{')));
        const r = ds.upsert(key, fields);
        return ['--resp', 'Content-Type: application/http', '', 'HTTP/1.1 204 No Content', `OData-EntityId: ${ORG}/api/data/v9.2/salesorders(00000000-0000-0000-0000-${r.id.padStart(12, '0')})`, '', ''].join('\r\n');
      });
      return [200, `${parts.join('\r\n')}\r\n--resp--\r\n`, { 'content-type': 'multipart/mixed; boundary=resp' }];
    });
    t = await syncTo({ connector: 'dynamics', baseUrl: ORG, credentials: { tenantId: 't1', clientId: 'c', clientSecret: 's' } });
    expectEachOnce(ds, orders, (f) => f.totalamount);
    // Each order in its own currency, looked up once for the connection.
    expect([...ds.records.values()].every((r) => r.fields['transactioncurrencyid@odata.bind'] === '/transactioncurrencies(6f1b2c3d-0000-4000-8000-000000000840)')).toBe(true);
    expect(ds.currencyLookups).toBe(1);
    expect(ds.tokenRequests).toBe(1);
  });
});
