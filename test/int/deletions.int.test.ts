import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { fixture, mockHubspotDeals, shopifyOrders } from '../helpers/mock-apis.js';

/** Starts an incremental run of the pipeline and waits until it finished; answers the run. */
async function finishedRun(t: TestHub, pipeline: string) {
  const { runId } = await startRun(t.hub, pipeline, false);
  return runFinished(t.hub, runId);
}

describe('deletions reported by a source', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    nock.cleanAll();
  });

  it('an incremental Zoho run records deleted records as tombstones, counts them on the run and pushes nothing for them', async () => {
    nock('https://accounts.zoho.com').persist().post('/oauth/v2/token').reply(200, { access_token: '1000.t', expires_in: 3600 });
    nock('https://www.zohoapis.com')
      .get('/crm/v8/Deals').query(true).reply(200, { data: [{ id: '57001', Deal_Name: 'Order 1', Stage: 'Closed Won', Amount: 12.5, Synchub_Order_Number: '1', Created_Time: '2025-03-02T09:00:00+00:00', Modified_Time: '2025-03-02T09:00:00+00:00' }], info: { more_records: false } })
      .get('/crm/v8/Deals/deleted').query(true).reply(200, { data: [
        { id: '57002', display_name: 'Order 2', type: 'recycle', deleted_time: '2025-03-02T10:00:00+00:00' },
        { id: '57003', display_name: 'Order 3', type: 'permanent', deleted_time: '2025-03-02T11:00:00+00:00' },
      ], info: { more_records: false } });
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      connections: {
        zc: { connector: 'zoho', orderModule: 'Deals', credentials: { clientId: 'c', clientSecret: 's', refreshToken: 'r' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { deals: { source: { connection: 'zc', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    }));
    await t.hub.store.setCursor('deals', { since: '2025-03-01T00:00:00+00:00' });
    t.startWorkers();
    const run = await finishedRun(t, 'deals');
    expect(run).toMatchObject({ expected: 1, pushed: 1, dead: 0, deleted: 2 });
    expect(crm.deals.size).toBe(1);
    expect((await t.hub.store.tombstones('zc', 'order')).map((d) => d.id).sort()).toEqual(['57002', '57003']);
    expect(await t.hub.store.getCursor('deals')).toEqual({ since: '2025-03-02T08:59:59+00:00' });
  });

  it('an incremental Salesforce run reads sObject Get Deleted after its query: the deleted ids become tombstones', async () => {
    const SF = 'https://acme.my.salesforce.com';
    const since = new Date(Date.now() - 3600_000).toISOString();
    nock(SF)
      .get('/services/data/v62.0/query').query(true).reply(200, { totalSize: 0, done: true, records: [] })
      .get('/services/data/v62.0/sobjects/Order/deleted/').query(true)
      .reply(200, { deletedRecords: [{ id: '801D0000008pQRAIA2', deletedDate: since.replace(/\.\d{3}Z$/, '.000+0000') }], earliestDateAvailable: '2025-03-01T15:57:00.000+0000', latestDateCovered: since.replace(/:\d\d\.\d{3}Z$/, ':00.000+0000') });
    mockHubspotDeals();
    t = await openTestHub(testConfig({
      connections: {
        sf: { connector: 'salesforce', baseUrl: SF, credentials: { accessToken: 'sf' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'sf', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    }));
    await t.hub.store.setCursor('orders', { since });
    t.startWorkers();
    const run = await finishedRun(t, 'orders');
    expect(run).toMatchObject({ expected: 0, dead: 0, deleted: 1 });
    expect((await t.hub.store.tombstones('sf', 'order')).map((d) => d.id)).toEqual(['801D0000008pQRAIA2']);
    expect(await t.hub.store.getCursor('orders')).toMatchObject({ since, deletedFrom: since.replace(/:\d\d\.\d{3}Z$/, ':00Z') });
  });

  it('a record a Salesforce pull saw deleted is not brought back by a later page holding an older copy; a newer one is synced as new', async () => {
    const SF = 'https://acme.my.salesforce.com';
    const V = '/services/data/v62.0';
    const sfStamp = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');
    const deletedAt = Date.now() - 600_000;
    const order = (stamp: number) => ({
      attributes: { type: 'Order', url: `${V}/sobjects/Order/801D0000008pQRAIA2` }, Id: '801D0000008pQRAIA2', OrderNumber: '00000107', Status: 'Activated', TotalAmount: 12.5,
      EffectiveDate: '2025-03-01', Description: null, CreatedDate: sfStamp(deletedAt - 3600_000), SystemModstamp: sfStamp(stamp), Synchub_Id__c: '107',
    });
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      connections: {
        sf: { connector: 'salesforce', baseUrl: SF, credentials: { accessToken: 'sf' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'sf', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    }));
    await t.hub.store.setCursor('orders', { since: new Date(deletedAt - 3600_000).toISOString() });
    t.startWorkers();
    const run = () => finishedRun(t!, 'orders');
    nock(SF).get(`${V}/query`).query(true).reply(200, { totalSize: 0, done: true, records: [] })
      .get(`${V}/sobjects/Order/deleted/`).query(true).reply(200, { deletedRecords: [{ id: '801D0000008pQRAIA2', deletedDate: sfStamp(deletedAt) }], latestDateCovered: sfStamp(deletedAt + 60_000) });
    expect(await run()).toMatchObject({ deleted: 1 });

    // A retried or late page with the order as it was before the deletion: skipped, nothing pushed.
    nock(SF).get(`${V}/query`).query(true).reply(200, { totalSize: 1, done: true, records: [order(deletedAt - 60_000)] })
      .get(`${V}/sobjects/Order/deleted/`).query(true).reply(200, { deletedRecords: [], latestDateCovered: sfStamp(Date.now()) });
    expect(await run()).toMatchObject({ expected: 1, pushed: 0, dead: 0, skipped: 1 });
    expect(crm.deals.size).toBe(0);

    // Changed after its deletion (undeleted from the Recycle Bin and edited): synced as new.
    nock(SF).get(`${V}/query`).query(true).reply(200, { totalSize: 1, done: true, records: [order(Date.now())] })
      .get(`${V}/sobjects/Order/deleted/`).query(true).reply(200, { deletedRecords: [], latestDateCovered: sfStamp(Date.now()) });
    expect(await run()).toMatchObject({ pushed: 1 });
    expect(crm.deals.has('107')).toBe(true);
  });

  it('a Stripe customer run after the first reads customer.deleted events: the deleted customers become tombstones', async () => {
    const since = Math.floor(Date.now() / 1000) - 3600;
    nock('https://api.stripe.com')
      .get('/v1/customers').query(true).reply(200, { object: 'list', url: '/v1/customers', has_more: false, data: [] })
      .get('/v1/events').query((q) => q.type === 'customer.deleted' && q['created[gte]'] === String(since))
      .reply(200, { object: 'list', url: '/v1/events', has_more: false, data: [
        { id: 'evt_9', object: 'event', type: 'customer.deleted', created: since + 60, livemode: false, data: { object: { id: 'cus_NffrFeUfNV2Hib', object: 'customer', deleted: true } } },
      ] });
    t = await openTestHub(testConfig({
      connections: {
        stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { payers: { source: { connection: 'stripe', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }] } },
    }));
    await t.hub.store.setCursor('payers', { deletedSince: since });
    t.startWorkers();
    const run = await finishedRun(t, 'payers');
    expect(run).toMatchObject({ dead: 0, deleted: 1 });
    expect(await t.hub.store.tombstones('stripe', 'customer')).toMatchObject([{ id: 'cus_NffrFeUfNV2Hib', deletedAt: new Date((since + 60) * 1000).toISOString() }]);
  });

  it('an incremental HubSpot run reads the archived list after its search: records archived since the last run become tombstones', async () => {
    const since = Date.now() - 3600_000;
    const archivedAt = new Date(since + 60_000).toISOString();
    nock('https://api.hubapi.com')
      .post('/crm/objects/2026-09/contacts/search').reply(200, { total: 0, results: [] })
      .get('/crm/objects/2026-09/contacts').query({ archived: 'true', limit: '100' })
      .reply(200, { results: [
        { id: '501', properties: { hs_object_id: '501' }, createdAt: '2025-01-01T00:00:00Z', updatedAt: archivedAt, archived: true, archivedAt },
        { id: '400', properties: { hs_object_id: '400' }, createdAt: '2025-01-01T00:00:00Z', updatedAt: '2025-01-02T00:00:00Z', archived: true, archivedAt: '2025-01-02T00:00:00Z' },
      ] });
    t = await openTestHub(testConfig({
      connections: {
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
        crm2: { connector: 'hubspot', baseUrl: 'https://crm2.example.com', credentials: { accessToken: 'pat2' } },
      },
      pipelines: { contacts: { source: { connection: 'crm', entity: 'customer' }, targets: [{ connection: 'crm2', entity: 'customer' }] } },
    }));
    await t.hub.store.setCursor('contacts', { since, archivedSince: since });
    t.startWorkers();
    const run = await finishedRun(t, 'contacts');
    expect(run).toMatchObject({ expected: 0, dead: 0, deleted: 1 });
    expect(await t.hub.store.tombstones('crm', 'customer')).toMatchObject([{ id: '501', deletedAt: archivedAt }]);
  });

  it('a Dynamics run with changeTracking ends with the delta link: rows Dataverse reports deleted become tombstones', async () => {
    const ORG = 'https://acme.crm.dynamics.com';
    const API = '/api/data/v9.2';
    nock('https://login.microsoftonline.com').persist().post('/tenant-1/oauth2/v2.0/token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'd365' });
    const gone = '2e451703-c686-e711-80e5-00155db19e6d';
    nock(ORG)
      .get(`${API}/contacts`).query((q) => !!q.$filter).reply(200, { value: [] })
      .get(`${API}/contacts`).query((q) => q.$deltatoken === '919042')
      .reply(200, { '@odata.deltaLink': `${ORG}${API}/contacts?$select=contactid&$deltatoken=919058`, value: [{ '@odata.context': `${ORG}${API}/$metadata#contacts/$deletedEntity`, id: gone, reason: 'deleted' }] });
    t = await openTestHub(testConfig({
      connections: {
        d365: { connector: 'dynamics', baseUrl: ORG, changeTracking: ['customer'], credentials: { tenantId: 'tenant-1', clientId: 'c', clientSecret: 's' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { contacts: { source: { connection: 'd365', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }], deletions: 'propagate' } },
    }));
    await t.hub.store.setCursor('contacts', { since: '2025-03-01T00:00:00Z', tracking: { deltaLink: `${ORG}${API}/contacts?$select=contactid&$deltatoken=919042` } });
    t.startWorkers();
    const run = await finishedRun(t, 'contacts');
    expect(run).toMatchObject({ expected: 0, dead: 0, deleted: 1 });
    expect((await t.hub.store.tombstones('d365', 'customer')).map((d) => d.id)).toEqual([gone]);
    expect(await t.hub.store.getCursor('contacts')).toMatchObject({ tracking: { deltaLink: `${ORG}${API}/contacts?$select=contactid&$deltatoken=919058` } });
  });
});

describe('deletions by webhook, their order, and propagation', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  const SHOP_SECRET = 'shop-secret';
  const shopHook = (app: ReturnType<typeof createApp>, topic: string, payload: unknown, id: string, triggeredAt?: string) => {
    const body = JSON.stringify(payload);
    return app.request('/webhooks/shop', {
      method: 'POST', body,
      headers: {
        'x-shopify-topic': topic, 'x-shopify-webhook-id': id, 'x-shopify-hmac-sha256': createHmac('sha256', SHOP_SECRET).update(body).digest('base64'),
        ...(triggeredAt ? { 'x-shopify-triggered-at': triggeredAt } : {}),
      },
    });
  };

  it('propagate: Shopify orders/delete archives the deal in HubSpot and drops its links; an older update does not bring it back, a newer re-creation is synced as new', async () => {
    const crm = mockHubspotDeals();
    const archived: string[] = [];
    nock('https://api.hubapi.com').persist().post('/crm/objects/2026-09/deals/batch/archive').reply((_uri, body: any) => {
      for (const i of body.inputs) {
        archived.push(i.id);
        for (const [k, d] of crm.deals) if (d.id === i.id) crm.deals.delete(k);
      }
      return [204, ''];
    });
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SHOP_SECRET } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true, deletions: 'propagate' } },
    }));
    t.startWorkers();
    const app = createApp(t.hub);
    const [order] = shopifyOrders(1);
    expect((await shopHook(app, 'orders/create', order, 'c1')).status).toBe(200);
    await eventually(() => crm.deals.has(String(order.order_number)));
    const dealId = crm.deals.get(String(order.order_number))!.id;
    const key = `order:shop:${order.id}`;
    await eventually(async () => Object.keys(await t!.hub.store.getLinks(key)).sort().join() === 'crm,shop');

    const deletedAt = new Date().toISOString();
    expect((await shopHook(app, 'orders/delete', { id: order.id }, 'd1', deletedAt)).status).toBe(200);
    await eventually(() => archived.length === 1);
    expect(archived).toEqual([dealId]);
    await eventually(async () => Object.keys(await t!.hub.store.getLinks(key)).length === 0);
    expect((await t.hub.store.tombstones('shop', 'order')).map((d) => d.id)).toEqual([String(order.id)]);
    expect(await t.hub.store.getFingerprints('crm', 'order', [key])).toEqual([null]);

    // A late update made before the deletion: skipped, the deal stays archived.
    expect((await shopHook(app, 'orders/updated', { ...order, note: 'late' }, 'u-late')).status).toBe(200);
    await eventually(async () => (await t!.hub.ingestQueue.getJobCounts('completed')).completed >= 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(crm.deals.size).toBe(0);
    expect(await t.hub.store.getLinks(key)).toEqual({});

    // Re-created after the deletion (newer): synced as a new deal.
    const newer = { ...order, updated_at: new Date(Date.now() + 60_000).toISOString() };
    expect((await shopHook(app, 'orders/updated', newer, 'u-new')).status).toBe(200);
    await eventually(() => crm.deals.has(String(order.order_number)));
    expect(crm.deals.get(String(order.order_number))!.id).not.toBe(dealId);
  });

  it('propagate with onDelete per target: Shopify orders/delete marks the deal in HubSpot (mark) and deletes the Opportunity in Salesforce (its delete)', async () => {
    const crm = mockHubspotDeals();
    const marked: unknown[] = [];
    nock('https://api.hubapi.com').post('/crm/objects/2026-09/deals/batch/update').reply((_uri, body: any) => (marked.push(body), [200, { status: 'COMPLETE', results: body.inputs.map((i: any) => ({ id: i.id, properties: i.properties })) }]));
    const SF = 'https://acme.my.salesforce.com';
    const sfDeleted: string[] = [];
    nock(SF)
      .patch('/services/data/v62.0/composite/sobjects/Opportunity/Synchub_Id__c').reply(200, [{ id: '006000000000001AAA', success: true, created: true, errors: [] }])
      .delete('/services/data/v62.0/composite/sobjects').query(true).reply((uri) => {
        const ids = new URL(uri, SF).searchParams.get('ids')!.split(',');
        sfDeleted.push(...ids);
        return [200, ids.map((id) => ({ id, success: true, errors: [] }))];
      });
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SHOP_SECRET } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
        sf: { connector: 'salesforce', baseUrl: SF, orderObject: 'Opportunity', credentials: { accessToken: 'sf' } },
      },
      pipelines: { orders: {
        source: { connection: 'shop', entity: 'order' }, webhooks: true, deletions: 'propagate',
        targets: [{ connection: 'crm', entity: 'order', onDelete: 'mark', mark: { field: 'synchub_deleted' } }, { connection: 'sf', entity: 'order' }],
      } },
    }));
    t.startWorkers();
    const app = createApp(t.hub);
    const [order] = shopifyOrders(1);
    const key = `order:shop:${order.id}`;
    expect((await shopHook(app, 'orders/create', order, 'c1')).status).toBe(200);
    await eventually(async () => Object.keys(await t!.hub.store.getLinks(key)).sort().join() === 'crm,sf,shop');
    const dealId = crm.deals.get(String(order.order_number))!.id;

    expect((await shopHook(app, 'orders/delete', { id: order.id }, 'd1', new Date().toISOString())).status).toBe(200);
    await eventually(async () => Object.keys(await t!.hub.store.getLinks(key)).length === 0);
    expect(marked).toEqual([{ inputs: [{ id: dealId, properties: { synchub_deleted: 'true' } }] }]);
    expect(sfDeleted).toEqual(['006000000000001AAA']);
  });

  it('propagate to Shopify: a HubSpot contact.deletion deletes the linked Shopify customer (customerDelete) and drops the links', async () => {
    const clientSecret = 'hs-client-secret';
    const deleted: string[] = [];
    nock('https://acme.myshopify.com').post(/\/admin\/api\/[\d-]+\/graphql\.json/).reply((_u, body: any) => {
      deleted.push(body.variables.input.id);
      return [200, { data: { customerDelete: { deletedCustomerId: body.variables.input.id, shop: { id: 'gid://shopify/Shop/1' }, userErrors: [] } } }];
    });
    t = await openTestHub(testConfig({
      connections: {
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat', clientSecret } },
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', credentials: { accessToken: 'shpat' } },
      },
      pipelines: { contacts: { source: { connection: 'crm', entity: 'customer' }, targets: [{ connection: 'shop', entity: 'customer' }], webhooks: true, deletions: 'propagate' } },
    }));
    // The contact was synced to the shop before (its links, as a push leaves them).
    const key = 'customer:crm:123';
    const tx = t.hub.store.tx();
    t.hub.store.link(tx, key, 'crm', 'customer', '123');
    t.hub.store.link(tx, key, 'shop', 'customer', '7001');
    await tx.exec();
    t.startWorkers();
    const app = createApp(t.hub);
    const hs = JSON.stringify([{ eventId: 102, subscriptionId: 7, portalId: 62515, appId: 54321, occurredAt: Date.now(), subscriptionType: 'contact.deletion', attemptNumber: 0, objectId: 123, changeFlag: 'DELETED', changeSource: 'CRM' }]);
    const now = String(Date.now());
    const url = 'http://localhost/webhooks/crm';
    const sig = createHmac('sha256', clientSecret).update(`POST${url}`).update(hs).update(now).digest('base64');
    expect((await app.request(url, { method: 'POST', body: hs, headers: { 'x-hubspot-signature-v3': sig, 'x-hubspot-request-timestamp': now, 'content-type': 'application/json' } })).status).toBe(200);
    await eventually(async () => Object.keys(await t!.hub.store.getLinks(key)).length === 0);
    expect(deleted).toEqual(['gid://shopify/Customer/7001']);
    expect(await t.hub.store.keysForExternalIds('shop', 'customer', ['7001'])).toEqual([null]);
  });

  it('refuses at start-up an onDelete its target cannot do, and a mark without its field, naming the path', () => {
    const build = (target: Record<string, unknown>, pipeline: Record<string, unknown> = { deletions: 'propagate' }) => () => testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
        woo: { connector: 'woocommerce', baseUrl: 'https://woo.example.com', credentials: { consumerKey: 'ck', consumerSecret: 'cs' } },
      },
      pipelines: { p: { source: { connection: 'shop', entity: 'customer' }, targets: [target], ...pipeline } },
    });
    expect(build({ connection: 'crm', entity: 'customer', onDelete: 'delete' })).toThrow(/pipelines\.p\.targets\[0\]\.onDelete: hubspot cannot delete customer records \(not supported; it can: archive, mark\)/);
    expect(build({ connection: 'woo', entity: 'customer', onDelete: 'archive' })).toThrow(/pipelines\.p\.targets\[0\]\.onDelete: woocommerce cannot archive customer records \(not supported; it can: delete\)/);
    expect(build({ connection: 'crm', entity: 'customer', onDelete: 'mark' })).toThrow(/pipelines\.p\.targets\[0\]\.mark: onDelete mark needs mark\.field/);
    expect(build({ connection: 'crm', entity: 'customer', onDelete: 'mark', mark: { field: 'x' } }, { deletions: 'record' })).toThrow(/pipelines\.p\.targets\[0\]\.onDelete: only read with deletions: propagate/);
    expect(build({ connection: 'crm', entity: 'customer', onDelete: 'mark', mark: { field: 'synchub_deleted', value: 'yes' } })).not.toThrow();
  });

  it('record (the default): WooCommerce order.deleted of an order the store no longer has is a tombstone; a trashed one is synced as cancelled, not deleted', async () => {
    const WOO = 'https://woo.example.com';
    const wooSecret = 'woo-secret';
    const trashed = { ...fixture('woocommerce/order.json'), id: 728, number: '728', status: 'trash' };
    nock(WOO).persist()
      .get('/wp-json/wc/v3/orders/727').reply(404, { code: 'woocommerce_rest_shop_order_invalid_id', message: 'Invalid ID.', data: { status: 404 } })
      .get('/wp-json/wc/v3/orders/728').reply(200, trashed);
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      connections: {
        woo: { connector: 'woocommerce', baseUrl: WOO, credentials: { consumerKey: 'ck', consumerSecret: 'cs', webhookSecret: wooSecret } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'woo', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
    }));
    t.startWorkers();
    const app = createApp(t.hub);
    const send = (id: number, delivery: string) => {
      const body = JSON.stringify({ id });
      return app.request('/webhooks/woo', {
        method: 'POST', body,
        headers: { 'x-wc-webhook-topic': 'order.deleted', 'x-wc-webhook-delivery-id': delivery, 'x-wc-webhook-id': '5', 'x-wc-webhook-signature': createHmac('sha256', wooSecret).update(body).digest('base64') },
      });
    };
    expect((await send(727, 'w1')).status).toBe(200);
    expect((await send(728, 'w2')).status).toBe(200);
    await eventually(async () => (await t!.hub.store.tombstones('woo', 'order')).length === 1);
    await eventually(() => crm.deals.size === 1);
    expect((await t.hub.store.tombstones('woo', 'order')).map((d) => d.id)).toEqual(['727']);
    expect(crm.deals.get('728')!.properties.dealstage).toBe('closedlost');
  });

  it('Stripe customer.deleted and HubSpot contact.deletion become tombstones', async () => {
    const whsec = 'whsec_test';
    const clientSecret = 'hs-client-secret';
    t = await openTestHub(testConfig({
      connections: {
        stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x', webhookSecret: whsec } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat', clientSecret } },
        crm2: { connector: 'hubspot', baseUrl: 'https://crm2.example.com', credentials: { accessToken: 'pat2' } },
      },
      pipelines: {
        payers: { source: { connection: 'stripe', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }], webhooks: true },
        contacts: { source: { connection: 'crm', entity: 'customer' }, targets: [{ connection: 'crm2', entity: 'customer' }], webhooks: true },
      },
    }));
    t.startWorkers();
    const app = createApp(t.hub);
    const event = JSON.stringify({
      id: 'evt_1', object: 'event', type: 'customer.deleted', created: Math.floor(Date.now() / 1000), livemode: false,
      data: { object: { id: 'cus_NffrFeUfNV2Hib', object: 'customer', deleted: true } },
    });
    const ts = Math.floor(Date.now() / 1000);
    const sig = createHmac('sha256', whsec).update(`${ts}.${event}`).digest('hex');
    expect((await app.request('/webhooks/stripe', { method: 'POST', body: event, headers: { 'stripe-signature': `t=${ts},v1=${sig}` } })).status).toBe(200);

    const hs = JSON.stringify([{ eventId: 101, subscriptionId: 7, portalId: 62515, appId: 54321, occurredAt: Date.now(), subscriptionType: 'contact.deletion', attemptNumber: 0, objectId: 123, changeFlag: 'DELETED', changeSource: 'CRM' }]);
    const now = String(Date.now());
    const url = 'http://localhost/webhooks/crm';
    const hsSig = createHmac('sha256', clientSecret).update(`POST${url}`).update(hs).update(now).digest('base64');
    expect((await app.request(url, { method: 'POST', body: hs, headers: { 'x-hubspot-signature-v3': hsSig, 'x-hubspot-request-timestamp': now, 'content-type': 'application/json' } })).status).toBe(200);

    await eventually(async () => (await t!.hub.store.tombstones('stripe', 'customer')).length === 1 && (await t!.hub.store.tombstones('crm', 'customer')).length === 1);
    expect((await t.hub.store.tombstones('stripe', 'customer'))[0].id).toBe('cus_NffrFeUfNV2Hib');
    expect((await t.hub.store.tombstones('crm', 'customer'))[0].id).toBe('123');
  });

  it('a Zoho notification with operation delete becomes a tombstone at its server_time, nothing fetched', async () => {
    t = await openTestHub(testConfig({
      connections: {
        zc: { connector: 'zoho', orderModule: 'Deals', credentials: { clientId: 'c', clientSecret: 's', refreshToken: 'r', notificationToken: 'channel-token-1' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { deals: { source: { connection: 'zc', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
    }));
    t.startWorkers();
    const app = createApp(t.hub);
    const sentAt = Date.now() - 5000;
    const body = JSON.stringify({ server_time: sentAt, query_params: {}, module: 'Deals', resource_uri: 'https://www.zohoapis.com/crm/v8/Deals', ids: ['57009'], affected_fields: [], operation: 'delete', channel_id: '1000000068001', token: 'channel-token-1' });
    expect((await app.request('/webhooks/zc', { method: 'POST', body, headers: { 'content-type': 'application/json' } })).status).toBe(200);
    await eventually(async () => (await t!.hub.store.tombstones('zc', 'order')).length === 1);
    expect(await t.hub.store.tombstones('zc', 'order')).toMatchObject([{ id: '57009', deletedAt: new Date(sentAt).toISOString() }]);
  });

  it('a Dynamics service-endpoint step on Delete becomes a tombstone, nothing fetched', async () => {
    const key = 'dataverse-webhook-key-0001';
    t = await openTestHub(testConfig({
      connections: {
        d365: { connector: 'dynamics', baseUrl: 'https://acme.crm.dynamics.com', credentials: { tenantId: 'tenant-1', clientId: 'c', clientSecret: 's', webhookKey: key } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { contacts: { source: { connection: 'd365', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }], webhooks: true } },
    }));
    t.startWorkers();
    const app = createApp(t.hub);
    const id = '2e451703-c686-e711-80e5-00155db19e6d';
    // A RemoteExecutionContext as Dataverse posts it to a service endpoint (fields the hub reads, and a few it does not).
    const body = JSON.stringify({ MessageName: 'Delete', Mode: 1, Stage: 40, OperationId: 'a6e8d5f1-0000-0000-0000-000000000001', PrimaryEntityName: 'contact', PrimaryEntityId: id, OrganizationName: 'acme' });
    expect((await app.request('/webhooks/d365', { method: 'POST', body, headers: { 'x-synchub-key': key, 'content-type': 'application/json' } })).status).toBe(200);
    await eventually(async () => (await t!.hub.store.tombstones('d365', 'customer')).length === 1);
    expect((await t.hub.store.tombstones('d365', 'customer'))[0].id).toBe(id);
  });

  it('refuses at start-up to propagate to a target that cannot delete, or from a source that reports no deletions (not supported)', () => {
    const build = (source: Record<string, unknown>, target: Record<string, unknown>) => () => testConfig({
      connections: { src: source, dst: target },
      pipelines: { p: { source: { connection: 'src', entity: 'customer' }, targets: [{ connection: 'dst', entity: 'customer' }], deletions: 'propagate' } },
    });
    expect(build({ connector: 'hubspot', credentials: { accessToken: 'pat' } }, { connector: 'stripe', credentials: { secretKey: 'sk_test_x' } }))
      .toThrow(/pipelines\.p\.deletions: stripe cannot delete customer records, so deletions cannot be propagated to dst \(not supported\)/);
    expect(build({ connector: 'magento', baseUrl: 'https://m.example.com', credentials: { accessToken: 't' } }, { connector: 'hubspot', credentials: { accessToken: 'pat' } }))
      .toThrow(/pipelines\.p\.deletions: magento reports no deleted customer records, so there is nothing to propagate \(not supported\)/);
    // Dynamics sees deletions only of the tables its connection names in changeTracking.
    const d365 = { connector: 'dynamics', baseUrl: 'https://acme.crm.dynamics.com', credentials: { tenantId: 't', clientId: 'c', clientSecret: 's' } };
    expect(build(d365, { connector: 'hubspot', credentials: { accessToken: 'pat' } }))
      .toThrow(/pipelines\.p\.deletions: dynamics reports no deleted customer records, so there is nothing to propagate \(not supported\)/);
    expect(build({ ...d365, changeTracking: ['customer'] }, { connector: 'hubspot', credentials: { accessToken: 'pat' } })).not.toThrow();
  });
});
