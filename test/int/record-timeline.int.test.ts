/**
 * A record's timeline (docs/record-timeline.md): what an admin asking "what happened to order
 * #1001?" gets from GET /api/records?q= and GET /api/records/:key/timeline, kept sealed in Redis
 * with its retention and its bound per record.
 */
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { dumpPrefix } from '../helpers/redis-scan.js';

const SHOP = 'https://acme.myshopify.com';
const EMAIL = 'buyer0@example.com';

function config(timeline: Record<string, unknown> = {}) {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN },
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 10 } },
    jobs: { attempts: 1 },
    timeline,
  });
}

async function sync(t: TestHub, full = false) {
  const { runId } = await startRun(t.hub, 'orders', full);
  await eventually(async () => (await t.hub.store.getRun(runId))?.finishedAt);
  return runId;
}

describe('record timeline', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('finds an order by number, email and either system\'s id, and lists each step with its time', async () => {
    const orders = shopifyOrders(3);
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const api = adminClient(createApp(t.hub));
    const runId = await sync(t);
    expect(crm.deals.size).toBe(3);

    const byNumber = await api.get('/api/records?q=%231001');
    expect(byNumber.status).toBe(200);
    expect(byNumber.body.items).toHaveLength(1);
    const [match] = byNumber.body.items;
    expect(match).toMatchObject({ key: `order:shop:${orders[0].id}`, entity: 'order', matchedBy: ['orderNumber'], hasTimeline: true });
    const dealId = match.links.crm;
    expect(match.links).toEqual({ shop: String(orders[0].id), crm: expect.any(String) });

    // The CRM's deal id and the shop's order id find the same record.
    expect((await api.get(`/api/records?q=${dealId}`)).body.items.map((m: { key: string }) => m.key)).toEqual([match.key]);
    expect((await api.get(`/api/records?q=${orders[0].id}`)).body.items[0]).toMatchObject({ key: match.key, matchedBy: ['externalId'] });
    // The order's customer email finds it, through its blind index (in any case).
    const byEmail = await api.get(`/api/records?q=${encodeURIComponent(EMAIL.toUpperCase())}`);
    expect(byEmail.body.items).toEqual([{ ...match, matchedBy: ['email'] }]);
    expect(JSON.stringify(byEmail.body)).not.toContain('buyer0');
    expect((await api.get('/api/records?q=no-such-thing')).body.items).toEqual([]);

    const timeline = await api.get(`/api/records/${encodeURIComponent(match.key)}/timeline`);
    expect(timeline.status).toBe(200);
    expect(timeline.body).toMatchObject({ key: match.key, entity: 'order', expired: 0, retentionDays: 30, maxEntries: 200 });
    const steps = timeline.body.entries.map((e: { step: string }) => e.step);
    expect(steps).toEqual(['received', 'mapped', 'validated', 'status', 'queued', 'pushed']);
    const [received, , , status, queued, pushed] = timeline.body.entries;
    expect(received).toMatchObject({ via: 'pull', run: runId, page: 0, pipeline: 'orders' });
    expect(status).toMatchObject({ to: 'paid' });
    expect(queued).toMatchObject({ targets: ['crm'] });
    expect(pushed).toMatchObject({ target: 'crm', externalId: dealId });
    for (const e of timeline.body.entries) expect(Number.isFinite(Date.parse(e.at))).toBe(true);
    const times = timeline.body.entries.map((e: { at: string }) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));

    // A full run again: the deal is unchanged, so the push is skipped, and the timeline says so.
    await sync(t, true);
    const again = (await api.get(`/api/records/${encodeURIComponent(match.key)}/timeline`)).body.entries;
    expect(again.at(-1)).toMatchObject({ step: 'skipped', why: 'unchanged', target: 'crm' });
    expect(again.filter((e: { step: string }) => e.step === 'received')).toHaveLength(2);
  });

  it('keeps steps sealed: no step, order number or email in Redis in the clear, an email only as its blind index', async () => {
    const orders = shopifyOrders(2);
    mockShopifyOrders(SHOP, orders);
    mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    await sync(t);
    const dump = await dumpPrefix(t.hub.redis, `${t.hub.config.redis.prefix}:tl:`);
    const sheets = [...dump].filter(([k]) => k.includes(':tl:sheet:'));
    expect(sheets.length).toBeGreaterThan(0);
    const text = [...dump.values()].join('\n');
    for (const plain of ['received', 'pushed', 'validated', 'buyer0', 'buyer1', 'example.com', '"via"', '"pull"', '"1001"']) expect(text).not.toContain(plain);
    // Record keys name the source's id, as every key of the hub's links does; what the steps say is sealed.
    expect(sheets.map(([, v]) => v).join('\n')).not.toContain(String(orders[0].id));
    const emailIndex = [...dump.keys()].filter((k) => k.includes(':tl:email:')).sort();
    expect(emailIndex).toEqual(['buyer0@example.com', 'buyer1@example.com'].map((e) => `${t!.hub.config.redis.prefix}:tl:email:${t!.hub.config.keyring.blindIndex(e)}`).sort());
  });

  it('puts a record refused by validation on its timeline, then its replay', async () => {
    const orders = shopifyOrders(2);
    orders[1].line_items[0].quantity = -1;
    mockShopifyOrders(SHOP, orders);
    mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const api = adminClient(createApp(t.hub));
    await sync(t);
    const key = `order:shop:${orders[1].id}`;
    const [dl] = (await api.get('/api/dead-letters')).body.items;
    let entries = (await api.get(`/api/records/${encodeURIComponent(key)}/timeline`)).body.entries;
    expect(entries.map((e: { step: string }) => e.step)).toEqual(['received', 'mapped', 'dead_lettered']);
    expect(entries[2]).toMatchObject({ stage: 'validate', code: 'validation_failed', deadLetter: dl.id });

    expect((await api.post(`/api/dead-letters/${encodeURIComponent(dl.id)}/replay`)).status).toBe(200);
    entries = (await api.get(`/api/records/${encodeURIComponent(key)}/timeline`)).body.entries;
    expect(entries.slice(3).map((e: { step: string }) => e.step)).toEqual(['replayed', 'received', 'mapped', 'dead_lettered']);
    expect(entries[3]).toMatchObject({ deadLetter: dl.id });
    expect(entries[4]).toMatchObject({ via: 'replay' });
  });

  it('keeps at most timeline.maxEntries steps per record (the oldest go first) for timeline.retentionDays', async () => {
    t = await openTestHub(config({ maxEntries: 10, retentionDays: 2 }));
    const api = adminClient(createApp(t.hub));
    const key = 'order:shop:42';
    for (let i = 0; i < 3; i++) await t.hub.timeline.append('orders', Array.from({ length: 5 }, (_, j) => ({ key, step: { step: 'skipped' as const, why: `round ${i} step ${j}` } })));
    const body = (await api.get(`/api/records/${encodeURIComponent(key)}/timeline`)).body;
    expect(body.entries).toHaveLength(10);
    expect(body.entries[0].why).toBe('round 1 step 0');
    expect(body.entries.at(-1).why).toBe('round 2 step 4');
    expect(body).toMatchObject({ maxEntries: 10, retentionDays: 2 });
    const ttl = await t.hub.redis.ttl(`${t.hub.config.redis.prefix}:tl:rec:${key}`);
    expect(ttl).toBeGreaterThan(2 * 86_400 - 60);
    expect(ttl).toBeLessThanOrEqual(2 * 86_400);

    // A step whose sheet expired is counted, not shown.
    const pointers = await t.hub.redis.lrange(`${t.hub.config.redis.prefix}:tl:rec:${key}`, 0, 0);
    await t.hub.redis.del(`${t.hub.config.redis.prefix}:tl:sheet:${pointers[0].split('#')[0]}`);
    const after = (await api.get(`/api/records/${encodeURIComponent(key)}/timeline`)).body;
    expect(after.expired).toBe(5);
    expect(after.entries).toHaveLength(5);
  });

  it('masks anything email- or phone-shaped in an answer, and refuses bad queries and keys', async () => {
    t = await openTestHub(config());
    const api = adminClient(createApp(t.hub));
    await t.hub.timeline.append('orders', [{ key: 'order:shop:7', step: { step: 'held', why: `waiting for ${EMAIL}, call +1 415 555 0100` } }]);
    const body = (await api.get('/api/records/order%3Ashop%3A7/timeline')).body;
    expect(JSON.stringify(body)).not.toContain('buyer0');
    expect(JSON.stringify(body)).not.toContain('555 0100');
    expect((await api.get('/api/records?q=')).body.error.code).toBe('invalid_request');
    expect((await api.get(`/api/records?q=${'x'.repeat(400)}`)).body.error.code).toBe('invalid_request');
    expect((await api.get('/api/records/nothing/timeline')).body.error.code).toBe('invalid_request');
    expect((await api.get('/api/records/order%3Ashop%3A8/timeline')).status).toBe(404);
  });
});
