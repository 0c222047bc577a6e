/**
 * A record's timeline (docs/record-timeline.md): what an admin asking "what happened to order
 * #1001?" gets from GET /api/records?q= and GET /api/records/:key/timeline, kept sealed in Redis
 * with its retention and its bound per record.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { fixture, mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { mockShopifyOrderWrites } from '../helpers/shopify-store.js';
import { dumpPrefix, keysMatching } from '../helpers/redis-scan.js';
import { PersonIndex, personKeysKey, personRefsKey } from '../../src/operations/erasure-index.js';

const SHOP = 'https://acme.myshopify.com';
const EMAIL = 'buyer0@example.com';

function config(timeline: Record<string, unknown> = {}) {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN },
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
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

/** Today's index of the timeline (src/timeline/store.ts). */
const dayKey = (t: TestHub) => t.hub.timeline.dayKey(Math.floor(Date.now() / 86_400_000));

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
    expect(timeline.body).toMatchObject({ key: match.key, entity: 'order', expired: 0, enabled: true, retentionDays: 30, maxEntries: 200 });
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

  it('writes no timeline with timeline.enabled false, and still finds the record by its number, ids and links', async () => {
    const orders = shopifyOrders(2);
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(config({ enabled: false }));
    t.startWorkers();
    const api = adminClient(createApp(t.hub));
    await sync(t);
    expect(crm.deals.size).toBe(2);
    expect(await keysMatching(t.hub.redis, `${t.hub.store.k('tl')}:*`)).toEqual([]);
    const [match] = (await api.get('/api/records?q=%231001')).body.items;
    expect(match).toMatchObject({ key: `order:shop:${orders[0].id}`, matchedBy: ['orderNumber'], hasTimeline: false, links: { shop: String(orders[0].id), crm: expect.any(String) } });
    const timeline = await api.get(`/api/records/${encodeURIComponent(match.key)}/timeline`);
    expect(timeline.body).toMatchObject({ key: match.key, entries: [], enabled: false });
  });

  it('shows a Stripe payment on its order: the webhook event, the payment, the status change, the pushes and the notification', async () => {
    const orders: Record<string, any>[] = shopifyOrders(2).map((o) => ({ ...o, financial_status: 'pending', total_price: '20.00', subtotal_price: '20.00', tags: '' }));
    mockShopifyOrders(SHOP, orders);
    mockShopifyOrderWrites(SHOP, orders);
    mockHubspotDeals();
    const received: string[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => { received.push(body); res.writeHead(200).end('{}'); });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const stripeEvents = new Map<string, any>();
    nock('https://api.stripe.com').persist().get(/^\/v1\/events\/(evt_\w+)/).reply((uri) => [200, stripeEvents.get(/events\/(evt_\w+)/.exec(uri)![1])]);
    try {
      t = await openTestHub(testConfig({
        server: { adminToken: ADMIN_TOKEN },
        connections: {
          shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
          crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
          stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x', webhookSecret: 'whsec_tl' } },
        },
        pipelines: {
          orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
          payments: {
            source: { connection: 'stripe', entity: 'payment' }, targets: [{ connection: 'shop', entity: 'order' }, { connection: 'crm', entity: 'order' }], webhooks: true,
            notify: [{ type: 'webhook', url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, secret: 'notify-secret-0123456789', attempts: 1 }],
          },
        },
      }));
      t.startWorkers();
      const app = createApp(t.hub);
      const api = adminClient(app);
      const { runId } = await startRun(t.hub, 'orders', false);
      await eventually(async () => (await t!.hub.store.getRun(runId))?.finishedAt);

      // Stripe's payment_intent.succeeded for 1001, and one for an order the hub has not seen (held).
      const post = async (id: string, orderNumber: string) => {
        const object = { ...fixture<Record<string, any>>('stripe/payment_intent.json'), id: `pi_${orderNumber}`, amount: 2000, metadata: { order_number: orderNumber } };
        const event = { id, object: 'event', api_version: '2024-06-20', created: Math.floor(Date.now() / 1000), type: 'payment_intent.succeeded', livemode: false, data: { object } };
        stripeEvents.set(id, event);
        const body = JSON.stringify(event);
        const header = new Stripe('sk_test_unused').webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_tl' });
        expect((await app.request('/webhooks/stripe', { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': header } })).status).toBe(200);
      };
      await post('evt_paid', '1001');
      await post('evt_early', '1009');

      const [order] = (await api.get('/api/records?q=1001')).body.items;
      const steps = async () => (await api.get(`/api/records/${encodeURIComponent(order.key)}/timeline`)).body.entries as Record<string, any>[];
      const entries = await eventually(async () => {
        const e = await steps();
        return e.filter((s) => s.step === 'pushed').length === 3 && e.some((s) => s.step === 'notified') ? e : undefined;
      }, 30_000);
      expect(entries.find((e) => e.step === 'payment')).toMatchObject({ pipeline: 'payments', provider: 'stripe', paymentId: 'pi_1001', status: 'succeeded', amount: '20.00', currency: 'USD' });
      expect(entries.filter((e) => e.step === 'status').map((e) => [e.from, e.to])).toEqual([[undefined, 'pending_payment'], ['pending_payment', 'paid']]);
      expect(entries.filter((e) => e.step === 'pushed' && e.pipeline === 'payments').map((e) => e.target).sort()).toEqual(['crm', 'shop']);
      expect(entries.find((e) => e.step === 'notified')).toMatchObject({ sink: 'payments.notify[0].webhook', outcome: 'delivered' });

      // The payment itself, found by its Stripe id: received through the webhook event.
      const [payment] = (await api.get('/api/records?q=pi_1001')).body.items;
      const own = (await api.get(`/api/records/${encodeURIComponent(payment.key)}/timeline`)).body.entries;
      expect(own.map((e: { step: string }) => e.step)).toEqual(['received', 'mapped', 'validated', 'payment']);
      expect(own[0]).toMatchObject({ via: 'webhook', event: expect.stringContaining('evt_paid') });
      // The payment for an order not seen yet is held.
      const [early] = (await api.get('/api/records?q=pi_1009')).body.items;
      const held = (await api.get(`/api/records/${encodeURIComponent(early.key)}/timeline`)).body.entries;
      expect(held.at(-1)).toMatchObject({ step: 'held', why: 'order_not_seen_yet' });
    } finally {
      await new Promise((r) => hook.close(r));
    }
  });

  it('keeps steps sealed: no step, order number or email in Redis in the clear, an email only as its blind index', async () => {
    const orders = shopifyOrders(2);
    mockShopifyOrders(SHOP, orders);
    mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    await sync(t);
    const dump = await dumpPrefix(t.hub.redis, `${t.hub.store.k('tl')}:`);
    const sheets = [...dump].filter(([k]) => k.includes(':tl:sheet:'));
    expect(sheets.length).toBeGreaterThan(0);
    const text = [...dump.values()].join('\n');
    for (const plain of ['received', 'pushed', 'validated', 'buyer0', 'buyer1', 'example.com', '"via"', '"pull"', '"1001"']) expect(text).not.toContain(plain);
    // Record keys name the source's id, as every key of the hub's links does; what the steps say is sealed.
    expect(sheets.map(([, v]) => v).join('\n')).not.toContain(String(orders[0].id));
    // The index: one hash per day, a field per record key, no per-record key; emails are found
    // through the person index, which names them by their blind index only.
    expect([...dump.keys()].filter((k) => !k.includes(':tl:sheet:'))).toEqual([dayKey(t)]);
    expect(Object.keys(await t.hub.redis.hgetall(dayKey(t))).sort()).toEqual(orders.map((o) => `order:shop:${o.id}`).sort());
    expect(await t.hub.redis.smembers(personKeysKey(t.hub.store, `customer:${t.hub.config.keyring.blindIndex(EMAIL)}`))).toContain(`order:shop:${orders[0].id}`);
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

  it('keeps at most timeline.maxEntries entries per record (the oldest go first) for timeline.retentionDays', async () => {
    t = await openTestHub(config({ maxEntries: 10, retentionDays: 2 }));
    const api = adminClient(createApp(t.hub));
    const key = 'order:shop:42';
    // Twelve batches of two steps each: an entry is a batch's steps for the record.
    for (let i = 0; i < 12; i++) await t.hub.timeline.append('orders', [0, 1].map((j) => ({ key, step: { step: 'skipped' as const, why: `batch ${i} step ${j}` } })));
    const body = (await api.get(`/api/records/${encodeURIComponent(key)}/timeline`)).body;
    expect(body.entries).toHaveLength(20);
    expect(body.entries[0].why).toBe('batch 2 step 0');
    expect(body.entries.at(-1).why).toBe('batch 11 step 1');
    expect(body).toMatchObject({ maxEntries: 10, retentionDays: 2, expired: 0 });
    // The day's index expires retentionDays after the day ends; each sheet retentionDays after it was written.
    const dayEnd = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400;
    const ttl = await t.hub.redis.ttl(dayKey(t));
    expect(ttl).toBeGreaterThan(dayEnd + 2 * 86_400 - Date.now() / 1000 - 60);
    expect(ttl).toBeLessThanOrEqual(dayEnd + 2 * 86_400 - Date.now() / 1000 + 1);
    const pointers = (await t.hub.redis.hget(dayKey(t), key))!.split(' ');
    expect(pointers).toHaveLength(10);
    const sheetTtl = await t.hub.redis.ttl(`${t.hub.store.k('tl')}:sheet:${pointers[0].split('#')[0]}`);
    expect(sheetTtl).toBeGreaterThan(2 * 86_400 - 60);
    expect(sheetTtl).toBeLessThanOrEqual(2 * 86_400);

    // An entry whose sheet expired is counted, not shown.
    await t.hub.redis.del(`${t.hub.store.k('tl')}:sheet:${pointers[0].split('#')[0]}`);
    const after = (await api.get(`/api/records/${encodeURIComponent(key)}/timeline`)).body;
    expect(after.expired).toBe(1);
    expect(after.entries).toHaveLength(18);
    expect(after.entries[0].why).toBe('batch 3 step 0');
  });

  it('still shows entries and finds emails kept in the former layouts (a list per record, a set per email, the day index\'s email fields) until they expire, and erases them', async () => {
    t = await openTestHub(config());
    const api = adminClient(createApp(t.hub));
    const { redis, config: { keyring }, store: { prefix } } = t.hub;
    const key = 'order:shop:77';
    const index = keyring.blindIndex(EMAIL);
    // As the hub wrote them before 2026-12-07: absolute times in the sheet, a pointer list, an email set.
    const at = Date.now() - 60_000;
    await redis.set(`${prefix}:tl:sheet:old0000000000001`, keyring.encryptBytes(JSON.stringify({ p: 'orders', r: [['order:shop:76', at, { step: 'mapped' }], [key, at, { step: 'received', via: 'other', delivery: 'once' }, at + 5, { step: 'mapped' }]] }), 'timeline:old0000000000001'), 'EX', 3600);
    await redis.rpush(`${prefix}:tl:rec:${key}`, 'old0000000000001#1');
    await redis.sadd(`${prefix}:tl:email:${index}`, key);
    const sheet = t.hub.timeline.sheet('orders');
    sheet.add(key, { step: 'queued', targets: ['crm'] });
    sheet.add('order:shop:78', { step: 'mapped' });
    const tx = redis.multi();
    sheet.write(tx);
    await tx.exec();
    // As the hub wrote it on 2026-12-07 before branch tlcheap2: the day index's field for the email.
    await redis.hset(dayKey(t), `@${index}`, 'order:shop:78');

    const body = (await api.get(`/api/records/${encodeURIComponent(key)}/timeline`)).body;
    expect(body.entries.map((e: { step: string }) => e.step)).toEqual(['received', 'mapped', 'queued']);
    expect(body.entries[0].at).toBe(new Date(at).toISOString());
    expect(body.entries[1].at).toBe(new Date(at + 5).toISOString());
    expect(body.expired).toBe(0);
    const found = (await api.get(`/api/records?q=${encodeURIComponent(EMAIL.toUpperCase())}`)).body.items;
    // The old set's order and the day index's (the customer key has neither steps nor links here).
    expect(found.map((m: { key: string }) => m.key).sort()).toEqual([key, 'order:shop:78']);
    expect(found.every((m: { hasTimeline: boolean }) => m.hasTimeline)).toBe(true);

    // Erasure empties the record's rows in both layouts' sheets and forgets its entries and the email.
    const erase = redis.multi();
    expect(await t.hub.timeline.erase(erase, [key, 'order:shop:78'], index)).toBe(3);
    await erase.exec();
    expect((await api.get(`/api/records/${encodeURIComponent(key)}/timeline`)).status).toBe(404);
    expect((await api.get(`/api/records?q=${encodeURIComponent(EMAIL)}`)).body.items).toEqual([]);
    // The other record of the old sheet keeps its row.
    const kept = JSON.parse(keyring.decryptBytes((await redis.getBuffer(`${prefix}:tl:sheet:old0000000000001`))!, 'timeline:old0000000000001').toString('utf8'));
    expect(kept.r).toEqual([['order:shop:76', at, { step: 'mapped' }], []]);
  });

  it('keeps alike steps of a batch once, and erasing a record drops the steps only its row named', async () => {
    t = await openTestHub(config());
    const api = adminClient(createApp(t.hub));
    const { redis, config: { keyring }, store: { prefix } } = t.hub;
    const sheet = t.hub.timeline.sheet('orders');
    const mapped = { step: 'mapped' as const };
    for (const key of ['order:shop:1', 'order:shop:2', 'order:shop:3']) sheet.add(key, mapped);
    // As push.ts writes them: the target once, each record's id in its row.
    sheet.pushed('order:shop:1', 'crm', 'deal-1');
    sheet.pushed('order:shop:2', 'crm', 'deal-2');
    sheet.add('order:shop:3', { step: 'dead_lettered', stage: 'push', code: 'validation_failed', target: 'crm', deadLetter: 'dl-3' });
    const tx = redis.multi();
    sheet.write(tx);
    await tx.exec();
    const [sheetKey] = await keysMatching(redis, `${prefix}:tl:sheet:*`);
    const id = sheetKey.slice(sheetKey.lastIndexOf(':') + 1);
    const open = async () => JSON.parse(keyring.decryptBytes((await redis.getBuffer(sheetKey))!, `timeline:${id}`).toString('utf8'));
    expect((await open()).s).toHaveLength(3);

    const erase = redis.multi();
    expect(await t.hub.timeline.erase(erase, ['order:shop:1', 'order:shop:3'])).toBe(2);
    await erase.exec();
    const after = await open();
    expect(JSON.stringify(after)).not.toMatch(/deal-1|order:shop:1|order:shop:3|dl-3/);
    expect(after.s).toHaveLength(2);
    const entries = (await api.get('/api/records/order%3Ashop%3A2/timeline')).body.entries;
    expect(entries).toMatchObject([{ step: 'mapped' }, { step: 'pushed', target: 'crm', externalId: 'deal-2' }]);
    expect(entries[1].at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('keeps the timeline and the person index of a record whose key has quotes, a backslash, spaces, a line break or a lone surrogate', async () => {
    t = await openTestHub(config());
    const api = adminClient(createApp(t.hub));
    const keys = ['order:shop:a "b" \\c', 'order:shop:line\nbreak', 'order:shop:half\ud800', 'order:shop:été😀'];
    const sheet = t.hub.timeline.sheet('orders');
    for (const key of keys) sheet.add(key, { step: 'mapped' });
    const tx = t.hub.redis.multi();
    sheet.write(tx);
    expect((await tx.exec())!.every(([err]) => !err)).toBe(true);
    for (const key of keys) expect((await t.hub.timeline.read(key)).entries.map((e) => e.step), key).toEqual(['mapped']);
    expect((await api.get(`/api/records/${encodeURIComponent(keys[3])}/timeline`)).body.entries).toMatchObject([{ step: 'mapped' }]);
    // Redis holds the lone surrogate as U+FFFD, as ioredis sends it.
    expect(await t.hub.redis.hexists(dayKey(t), 'order:shop:half\ufffd')).toBe(1);
    // The person index (one JSON argument for the batch, as the sheet's keys) finds each of them for erasure.
    const person = `customer:${t.hub.config.keyring.blindIndex(EMAIL)}`;
    const persons = new PersonIndex();
    for (const key of keys) persons.addKey(person, key);
    persons.addRef(person, `srcpage|p|0|${keys[2]}`);
    const commit = t.hub.store.tx();
    persons.write(t.hub.store, commit);
    await commit.exec();
    expect((await t.hub.redis.smembers(personKeysKey(t.hub.store, person))).sort()).toEqual([keys[0], keys[1], 'order:shop:half\ufffd', keys[3]].sort());
    expect(await t.hub.redis.smembers(personRefsKey(t.hub.store, person))).toEqual(['srcpage|p|0|order:shop:half\ufffd']);
  });

  it('finds the orders of an email through the person index, a search\'s worth at most, and writes no email index of its own', async () => {
    t = await openTestHub(config());
    const api = adminClient(createApp(t.hub));
    const index = t.hub.config.keyring.blindIndex(EMAIL);
    const persons = new PersonIndex();
    const sheet = t.hub.timeline.sheet('orders');
    for (let i = 0; i < 60; i++) {
      persons.addKey(`customer:${index}`, `order:shop:${i}`);
      sheet.add(`order:shop:${i}`, { step: 'mapped' });
    }
    const commit = t.hub.store.tx();
    persons.write(t.hub.store, commit);
    sheet.write(commit.hub());
    await commit.exec();
    const items = (await api.get(`/api/records?q=${encodeURIComponent(EMAIL)}`)).body.items;
    expect(items).toHaveLength(50);
    expect(new Set(items.map((m: { key: string }) => m.key)).size).toBe(50);
    expect(items.every((m: { matchedBy: string[]; hasTimeline: boolean }) => m.matchedBy.includes('email') && m.hasTimeline)).toBe(true);
    expect(Object.keys(await t.hub.redis.hgetall(dayKey(t))).filter((f) => f.startsWith('@'))).toEqual([]);
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
