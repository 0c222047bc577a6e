import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { fixture, mockHubspotDeals } from '../helpers/mock-apis.js';

const SECRET = 'shop-webhook-secret';

describe('pausing a pipeline', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('holds its webhook events until resumed, while other pipelines of the same event go on, each once', async () => {
    const crm = mockHubspotDeals();
    const audit = mockHubspotDeals('https://audit.hubapi.test');
    t = await openTestHub(testConfig({
      server: { adminToken: ADMIN_TOKEN },
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SECRET } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
        audit: { connector: 'hubspot', baseUrl: 'https://audit.hubapi.test', credentials: { accessToken: 'pat2' } },
      },
      pipelines: {
        orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true },
        audit: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'audit', entity: 'order' }], webhooks: true },
      },
    }));
    t.startWorkers();
    const app = createApp(t.hub);
    const api = adminClient(app);
    expect((await api.post('/api/pipelines/audit/pause')).body.paused).toBe(true);

    const body = JSON.stringify(fixture('shopify/order.json'));
    const res = await app.request('/webhooks/shop', {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-shopify-topic': 'orders/updated', 'x-shopify-webhook-id': 'wh-p1', 'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(body).digest('base64') },
    });
    expect(res.status).toBe(200);

    await eventually(() => crm.deals.size === 1);
    // The event waits for the paused pipeline as a delayed job.
    await eventually(async () => (await t!.hub.ingestQueue.getDelayedCount()) === 1);
    expect(audit.deals.size).toBe(0);

    await api.post('/api/pipelines/audit/resume');
    await eventually(() => audit.deals.size === 1);
    await eventually(async () => (await t!.hub.ingestQueue.getCompletedCount()) === 1);
    expect(crm.calls).toEqual([1]); // the running pipeline took the event once, not again after the hold
    await eventually(async () => JSON.stringify((await api.get('/api/pipelines')).body.pipelines.map((p: any) => [p.name, p.counts.pushed])) === '[["orders",1],["audit",1]]');
  });
});
