import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { startWorkers } from '../../src/jobs/workers.js';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { fixture, mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';
const API = 'https://api.hubapi.com';

describe('resume and echo', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('a worker closed mid-run leaves the rest to the next worker, which resumes from the checkpoint: nothing lost, nothing pushed twice', async () => {
    const orders = shopifyOrders(1000);
    const shop = mockShopifyOrders(SHOP, orders);
    const sent = new Map<string, number>();
    const crm = mockHubspotDeals();
    crm.scope.on('request', (_req: unknown, _i: unknown, body: string) => {
      for (const input of JSON.parse(body).inputs) sent.set(input.id, (sent.get(input.id) ?? 0) + 1);
    });
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        // One call per 100 ms across all workers: slow enough to stop the worker mid-run.
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, http: { rateLimit: { max: 1, perMs: 100 } } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 250 } },
      jobs: { pushConcurrency: 1, pullConcurrency: 1 },
    }));
    const first = startWorkers(t.hub);
    const { runId } = await startRun(t.hub, 'orders', false);
    await eventually(() => crm.deals.size >= 200);
    await first.close();
    const atStop = crm.deals.size;
    expect(atStop).toBeLessThan(1000);
    const checkpoint = await t.hub.store.getRun(runId);
    expect(checkpoint?.finishedAt).toBeUndefined();

    t.startWorkers();
    const run = await runFinished(t!.hub, runId, 60_000);
    const dead = await t.hub.store.listDeadLetters({ pipeline: 'orders', offset: 0, limit: 3 });
    expect(run, `dead letters: ${JSON.stringify(dead.items.map((d) => [d.step, d.error, d.attempts]))}`).toMatchObject({ expected: 1000, pushed: 1000, skipped: 0, dead: 0 });
    expect(crm.deals.size).toBe(1000);
    expect([...sent.values()].every((n) => n === 1)).toBe(true);
    expect(shop.requests).toHaveLength(4); // each page read once
  });

  it('does not sync back the echo of its own push, but does sync a real change made in the CRM', async () => {
    const customer = fixture('shopify/customer.json');
    nock(SHOP).persist().get('/admin/api/2026-10/customers.json').query(true).reply(200, { customers: [customer] });
    const shopUpdates: any[] = [];
    nock(SHOP).persist().put(`/admin/api/2026-10/customers/${customer.id}.json`).reply(200, (_u, body: any) => {
      shopUpdates.push(body.customer);
      return { customer: { id: customer.id } };
    });
    let contact: any;
    nock(API).persist()
      .post('/crm/objects/2026-09/contacts/batch/upsert').reply(200, (_u, body: any) => {
        const input = body.inputs[0];
        contact = { id: '501', properties: { ...input.properties, lastmodifieddate: '2025-02-01T00:00:00.000Z', createdate: '2025-02-01T00:00:00.000Z' }, createdAt: '2025-02-01T00:00:00.000Z', updatedAt: '2025-02-01T00:00:00.000Z', archived: false };
        return { status: 'COMPLETE', results: [{ ...contact, new: true }] };
      })
      .get('/crm/objects/2026-09/contacts/501').query(true).reply(200, () => contact);
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat', clientSecret: 'cs' } },
      },
      pipelines: {
        'shop-to-crm': { source: { connection: 'shop', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }] },
        'crm-to-shop': { source: { connection: 'crm', entity: 'customer' }, targets: [{ connection: 'shop', entity: 'customer' }], webhooks: true },
      },
    }));
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'shop-to-crm', false);
    await eventually(async () => (await t!.hub.store.getRun(runId))?.finishedAt);
    expect(contact.properties.email).toBe('bob.norman@mail.example.com');

    const app = createApp(t.hub);
    const post = (eventId: number) => {
      const body = JSON.stringify([{ eventId, subscriptionId: 1, portalId: 62515, appId: 1, occurredAt: Date.now(), subscriptionType: 'contact.propertyChange', attemptNumber: 0, objectId: 501, propertyName: 'firstname', changeSource: 'INTEGRATION' }]);
      const ts = String(Date.now());
      const url = 'http://localhost/webhooks/crm';
      const sig = createHmac('sha256', 'cs').update(`POST${url}${body}${ts}`).digest('base64');
      return app.request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': sig, 'x-hubspot-request-timestamp': ts } });
    };
    // HubSpot reports the change the hub itself made: an echo.
    expect((await post(1)).status).toBe(200);
    await eventually(async () => (await t!.hub.store.pipelineStats('crm-to-shop')).skipped === 1);
    expect(shopUpdates).toHaveLength(0);

    // Someone edits the contact in HubSpot: a real change, synced to the linked Shopify customer.
    contact = { ...contact, properties: { ...contact.properties, firstname: 'Robert', lastmodifieddate: '2025-02-02T00:00:00.000Z' } };
    expect((await post(2)).status).toBe(200);
    await eventually(() => shopUpdates.length === 1);
    expect(shopUpdates[0]).toMatchObject({ id: customer.id, first_name: 'Robert', email: 'bob.norman@mail.example.com' });
  });
});
