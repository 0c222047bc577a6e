import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { hubRegistry } from '../../src/admin/metrics.js';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, queuedWebhookEvents, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals } from '../helpers/mock-apis.js';

const ORG = '00D000000000062EAA';
const SF = 'https://acme.my.salesforce.com';
const ZOHO_TOKEN = 'zoho-channel-token';

/** Order ids 8015A0000000001QAS, …: 18 characters like Salesforce's. */
const orderId = (i: number) => `8015A${String(i).padStart(10, '0')}QAS`;

/** An Outbound Message shaped like the outbound WSDL's example ("Understanding the Outbound Messaging WSDL"). */
function outboundMessage(org: string, ids: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${org}</OrganizationId>
   <ActionId>04k5A000000CaBcQAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D000000000062</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D000000000062</PartnerUrl>
${ids.map((id, i) => `   <Notification>
    <Id>04l5A${String(i).padStart(10, '0')}QAK</Id>
    <sObject xsi:type="sf:Order" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>${id}</sf:Id>
     <sf:Status>Activated</sf:Status>
    </sObject>
   </Notification>`).join('\n')}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;
}

const sfOrder = (id: string) => ({
  attributes: { type: 'Order', url: `/services/data/v62.0/sobjects/Order/${id}` }, Id: id, OrderNumber: `0000${id.slice(-6, -3)}`, Status: 'Activated', TotalAmount: 1250.5,
  EffectiveDate: '2025-03-01', CreatedDate: '2025-03-01T09:00:00.000+0000', SystemModstamp: '2025-03-01T10:00:00.000+0000', Synchub_Id__c: null,
});

/** SOQL by Id: answers the ids of `existing` named in the query, like Salesforce (deleted records are simply absent). */
function mockSoql(existing: Set<string>) {
  const queries: string[] = [];
  nock(SF).persist().get('/services/data/v62.0/query').query(true).reply((uri) => {
    const q = new URL(uri, SF).searchParams.get('q')!;
    queries.push(q);
    const named = [...q.matchAll(/'([A-Za-z0-9]{15,18})'/g)].map((m) => m[1]);
    const records = named.filter((id) => existing.has(id)).map(sfOrder);
    return [200, { totalSize: records.length, done: true, records }];
  });
  return queries;
}

function config(server: Record<string, unknown> = {}) {
  return testConfig({
    server,
    connections: {
      sf: { connector: 'salesforce', baseUrl: SF, credentials: { accessToken: '00D!tok', organizationId: ORG } },
      zoho: { connector: 'zoho', credentials: { clientId: '1000.A', clientSecret: 's', refreshToken: '1000.r', notificationToken: ZOHO_TOKEN } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: {
      'sf-orders': { source: { connection: 'sf', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true },
      'zoho-contacts': { source: { connection: 'zoho', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }], webhooks: true },
    },
  });
}

const post = (body: string, contentType = 'text/xml; charset=utf-8') => ({ method: 'POST', body, headers: { 'content-type': contentType, soapaction: '""' } });

describe('Salesforce Outbound Messages through POST /webhooks/:connection', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('answers 400 to the 65,000-times repeated OrganizationId body without stalling, and stores nothing', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const res = await app.request('/webhooks/sf', post('<notifications>' + '<OrganizationId '.repeat(65000)));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<faultcode>soapenv:Client</faultcode>');
    expect(await t.hub.ingestQueue.count()).toBe(0);
  }, 10_000);

  it('refuses a body cut inside a Notification with 400 and stores none of its events; the whole message is acked', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const full = outboundMessage(ORG, [orderId(1), orderId(2), orderId(3)]);
    const cut = await app.request('/webhooks/sf', post(full.slice(0, full.lastIndexOf('<sf:Status>'))));
    expect(cut.status).toBe(400);
    expect(await t.hub.ingestQueue.count()).toBe(0);
    const whole = await app.request('/webhooks/sf', post(full));
    expect(whole.status).toBe(200);
    expect(await whole.text()).toContain('<Ack>true</Ack>');
    expect([...(await queuedWebhookEvents(t.hub.ingestQueue)).values()]).toEqual([1, 1, 1]);
  });

  it('refuses another org with 401 before reading its notifications', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    // The notifications after the wrong org id are not even well-formed: the org id is refused first.
    const res = await app.request('/webhooks/sf', post(outboundMessage('00D000000000099EAA', [orderId(1)]).replace('<sf:Id>', '<sf:Id><x')));
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('OrganizationId does not match');
    expect(await t.hub.ingestQueue.count()).toBe(0);
  });
});

describe('webhook amplification', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('refuses a delivery with more events than server.maxWebhookEvents with 413, from any connector', async () => {
    t = await openTestHub(config({ maxWebhookEvents: 5 }));
    const app = createApp(t.hub);
    const sf = await app.request('/webhooks/sf', post(outboundMessage(ORG, Array.from({ length: 6 }, (_, i) => orderId(i)))));
    expect(sf.status).toBe(413);
    expect(await sf.text()).toContain('server.maxWebhookEvents');
    const ids = Array.from({ length: 1000 }, (_, i) => String(4150868000001944000 + i));
    const zoho = await app.request('/webhooks/zoho', post(JSON.stringify({ token: ZOHO_TOKEN, module: 'Contacts', operation: 'update', ids, channel_id: 1 }), 'application/json'));
    expect(zoho.status).toBe(413);
    expect(((await zoho.json()) as any).error.code).toBe('webhook_too_large');
    expect(await t.hub.ingestQueue.count()).toBe(0);
    // At the limit, it is taken.
    expect((await app.request('/webhooks/sf', post(outboundMessage(ORG, Array.from({ length: 5 }, (_, i) => orderId(i)))))).status).toBe(200);
  });

  it('fetches a delivery\'s records in batches, and records a deleted one as gone at source without retrying it', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => orderId(i));
    const gone = ids[7];
    const queries = mockSoql(new Set(ids.filter((id) => id !== gone)));
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    const app = createApp(t.hub);
    expect((await app.request('/webhooks/sf', post(outboundMessage(ORG, ids)))).status).toBe(200);
    t.startWorkers();
    await eventually(async () => (await queuedWebhookEvents(t!.hub.ingestQueue, ['completed'])).size === 20);
    await eventually(() => crm.deals.size === 19);
    // One SOQL query per batch of jobs running side by side (up to jobs.ingestConcurrency), not one per event:
    // 5 queries for these 20 events on an idle machine; fewer than one per event however loaded.
    expect(queries.length).toBeLessThan(ids.length);
    expect(queries.every((q) => / WHERE Id IN \(/.test(q))).toBe(true);
    const stats = await t.hub.store.pipelineStats('sf-orders');
    expect(stats.gone).toBe(1);
    // The delivery's 20 events in one ingest job, run once: the gone one was not retried.
    const [job] = await t.hub.ingestQueue.getCompleted();
    expect(job.data.events.find((e: { ref?: string }) => e.ref === gone)).toBeTruthy();
    expect(job.attemptsMade).toBe(1);
    expect(job.returnvalue).toEqual({ events: 20, ingested: 20, gone: 1, split: 0 });
    expect(await t.hub.ingestQueue.getJobCounts('failed', 'delayed')).toEqual({ failed: 0, delayed: 0 });
    const metrics = await hubRegistry(t.hub).metrics();
    expect(metrics).toContain('synchub_records_total{pipeline="sf-orders",outcome="gone"} 1');
  });
});
