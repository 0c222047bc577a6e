import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { installSchedules } from '../../src/jobs/workers.js';
import { recomputeSegments } from '../../src/operations/segments/segments.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals, shopifyOrders } from '../helpers/mock-apis.js';

const DAY = 86_400_000;

function config() {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, segmentProperty: 'synchub_segment' },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    segments: { reportingCurrency: 'USD', exchangeRates: { EUR: '1.10' }, kmeans: { k: 3, seed: 3 }, push: ['crm'] },
    jobs: { pushLingerMs: 0 },
  });
}

/** HubSpot contacts batch upsert by email (developers.hubspot.com, CRM objects batch upsert): keeps each contact's properties. */
function mockHubspotContacts() {
  const contacts = new Map<string, Record<string, string>>();
  const calls: string[][] = [];
  let nextId = 500;
  nock('https://api.hubapi.com').persist().post('/crm/objects/2026-09/contacts/batch/upsert').reply((_uri, body: any) => {
    calls.push(body.inputs.map((i: any) => i.id));
    const now = new Date().toISOString();
    return [200, { status: 'COMPLETE', startedAt: now, completedAt: now, results: body.inputs.map((i: any) => {
      contacts.set(i.id, { ...contacts.get(i.id), ...i.properties });
      return { id: String(nextId++), properties: { email: i.id, ...i.properties }, createdAt: now, updatedAt: now, archived: false, new: true };
    }) }];
  });
  return { contacts, calls };
}

let n = 0;
/** A paid Shopify order of `email`, paid `daysAgo` days before `now`. */
function paidOrder(email: string, daysAgo: number, total: string, currency = 'USD', now = Date.now()) {
  const [o] = shopifyOrders(1, { startId: 7_000_000 + n });
  const at = new Date(now - daysAgo * DAY - 3_600_000).toISOString();
  n++;
  return Object.assign(o, {
    order_number: 5000 + n, name: `#${5000 + n}`, currency, total_price: total, subtotal_price: total, total_tax: '0.00', total_discounts: '0.00', line_items: [],
    created_at: at, updated_at: at, processed_at: at, email, customer: { id: 900 + email.length, email, first_name: 'Ana', last_name: 'Lima' },
  });
}

describe('customer segments', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('scores a seeded history by quantile, names the segments, clusters, and pushes each segment to the CRM once, again when it changes', async () => {
    mockHubspotDeals();
    const crm = mockHubspotContacts();
    t = await openTestHub(config());
    const orders = t.hub.config.pipelines.get('orders')!;
    const now = Date.now();
    // Known values: A 5 orders of 100.00 (last 1 day ago); B one of 20.00 (2 days); C 4 of 50.00 EUR
    // (= 220.00 USD at 1.10; last 200 days ago); D one of 10.00 (400 days); E two of 30.00 (30 days).
    await ingestRecords(t.hub, orders, [
      ...[1, 10, 20, 30, 40].map((d) => paidOrder('a@example.com', d, '100.00', 'USD', now)),
      paidOrder('b@example.com', 2, '20.00', 'USD', now),
      ...[200, 210, 220, 230].map((d) => paidOrder('c@example.com', d, '50.00', 'EUR', now)),
      paidOrder('d@example.com', 400, '10.00', 'USD', now),
      ...[30, 60].map((d) => paidOrder('e@example.com', d, '30.00', 'USD', now)),
    ]);

    const summary = await recomputeSegments(t.hub, now);
    expect(summary).toMatchObject({ customers: 5, unconverted: 0, pushed: 5, pushFailed: 0, sizes: { champions: 1, new: 1, at_risk: 1, lost: 1, loyal: 1 } });
    expect(Object.values(summary.clusters!).reduce((a, b) => a + b, 0)).toBe(5);
    expect(Object.fromEntries(crm.contacts)).toEqual({
      'a@example.com': expect.objectContaining({ synchub_segment: 'champions' }),
      'b@example.com': expect.objectContaining({ synchub_segment: 'new' }),
      'c@example.com': expect.objectContaining({ synchub_segment: 'at_risk' }),
      'd@example.com': expect.objectContaining({ synchub_segment: 'lost' }),
      'e@example.com': expect.objectContaining({ synchub_segment: 'loyal' }),
    });

    // What is kept per customer: exact values and scores (C's money converted once, exactly).
    const [c] = await t.hub.store.segments.records([t.hub.config.keyring.blindIndex('c@example.com')]);
    expect(c).toMatchObject({ recencyDays: '200', frequency: '4', monetary: '220.00', currency: 'USD', r: '2', f: '4', m: '4', segment: 'at_risk' });

    // Nothing changed: nothing is pushed again.
    const calls = crm.calls.length;
    expect(await recomputeSegments(t.hub, now)).toMatchObject({ pushed: 0 });
    expect(crm.calls.length).toBe(calls);

    // The order report splits by each customer's current segment, per currency (D's order is older than a report reaches).
    const api0 = adminClient(createApp(t.hub));
    const from = new Date(now - 365 * DAY).toISOString().slice(0, 10);
    const report = await api0.get(`/api/reports/orders?from=${from}&pipeline=orders`);
    expect(report.body.pipelines[0].totals.orders.bySegment).toEqual({
      at_risk: { count: 4, byCurrency: { EUR: { count: 4, total: '200.00', average: '50.00' } } },
      champions: { count: 5, byCurrency: { USD: { count: 5, total: '500.00', average: '100.00' } } },
      loyal: { count: 2, byCurrency: { USD: { count: 2, total: '60.00', average: '30.00' } } },
      new: { count: 1, byCurrency: { USD: { count: 1, total: '20.00', average: '20.00' } } },
    });
    const csv = await createApp(t.hub).request(`/api/reports/orders?from=${from}&pipeline=orders&format=csv`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect((await csv.text()).split('\r\n')).toContain('orders,order,total,segment,champions,USD,5,500.00,100.00,,,,');

    // B buys again: the order recomputes B alone against the last cuts; B is now loyal, and the CRM hears it.
    t.startWorkers();
    await ingestRecords(t.hub, orders, [paidOrder('b@example.com', 0, '20.00', 'USD', now)]);
    await eventually(() => crm.contacts.get('b@example.com')?.synchub_segment === 'loyal');

    const api = adminClient(createApp(t.hub));
    const listed = await api.get('/api/segments');
    expect(listed.body).toMatchObject({ reportingCurrency: 'USD', sizes: { champions: 1, new: 1, at_risk: 1, lost: 1, loyal: 1 }, history: [{ sizes: { segments: { champions: 1, loyal: 1 }, clusters: expect.any(Object) } }] });
    expect(JSON.stringify(listed.body)).not.toContain('@example.com');
    const again = await api.post('/api/segments/recompute');
    expect(again.body.sizes).toMatchObject({ loyal: 2, champions: 1 });
    // Movement over time: one entry per computation.
    expect((await api.get('/api/segments')).body.history).toHaveLength(2);
    const csv2 = await (await createApp(t.hub).request('/api/segments?format=csv', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    const rows = csv2.trimEnd().split('\r\n');
    expect(rows[0]).toBe('computed_at,kind,name,customers');
    expect(rows.filter((r) => r.includes(',segment,loyal,'))).toEqual([expect.stringMatching(/,segment,loyal,1$/), expect.stringMatching(/,segment,loyal,2$/)]);
  });

  it('the full computation is scheduled on segments.schedule (recency changes with time)', async () => {
    t = await openTestHub(config());
    await installSchedules(t.hub);
    const schedulers = await t.hub.ingestQueue.getJobSchedulers();
    expect(schedulers).toEqual([expect.objectContaining({ key: 'segments', pattern: '17 3 * * *', name: 'segments-recompute' })]);
  });

  it('orders in a currency without a rate are left out of the money and counted, not mixed in', async () => {
    mockHubspotDeals();
    mockHubspotContacts();
    t = await openTestHub(config());
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [paidOrder('g@example.com', 3, '40.00', 'USD'), paidOrder('g@example.com', 5, '1000', 'JPY')]);
    const summary = await recomputeSegments(t.hub);
    expect(summary).toMatchObject({ customers: 1, unconverted: 1 });
    const [g] = await t.hub.store.segments.records([t.hub.config.keyring.blindIndex('g@example.com')]);
    expect(g).toMatchObject({ frequency: '2', monetary: '40.00', unconverted: '1' });
  });
});
