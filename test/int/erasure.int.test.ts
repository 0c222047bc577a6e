/**
 * The right to erasure on real Redis: a person whose orders went to two targets, with a
 * dead letter, samples and pushes still queued for a third (paused) target, is erased; no
 * ciphertext the hub made of that person's data is left anywhere in Redis, other customers
 * keep everything, and a late webhook brings the person back only with a newer record.
 */
import { createHmac } from 'node:crypto';
import nock from 'nock';
import { scanKeys } from '../../src/state/redis-client.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { fixture, mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';
const CRM2 = 'https://crm2.example.com';
const CRM3 = 'https://crm3.example.com';
const SECRET = 'shop-secret';
const ERASED = 'buyer0@example.com';

/** Every value under the prefix as bytes (binary sealed documents) and as text. */
async function everything(t: TestHub): Promise<{ bytes: Buffer[]; text: string; keys: string[] }> {
  const { redis } = t.hub;
  const bytes: Buffer[] = [];
  const keys: string[] = [];
  // Every key of the hub: its queues, its state's hub tag and, on a cluster, each shard group's, on every primary.
  for (const pattern of new Set([`${t.hub.config.redis.prefix}:*`, ...t.hub.layout.scanPatterns()])) for await (const found of scanKeys(redis, pattern)) {
    for (const key of found) {
      keys.push(key);
      const type = await redis.type(key);
      // A key can expire or be deleted by a worker between the SCAN and its read: what is gone holds nothing.
      if (type === 'string') {
        const value = await redis.getBuffer(key);
        if (value) bytes.push(value);
      }
      else if (type === 'hash') bytes.push(...Object.entries(await redis.hgetallBuffer(key)).flatMap(([f, v]) => [Buffer.from(f), v]));
      else if (type === 'list') bytes.push(...(await redis.lrangeBuffer(key, 0, -1)));
      else if (type === 'set') bytes.push(...(await redis.smembersBuffer(key)));
      else if (type === 'zset') bytes.push(...(await redis.zrangeBuffer(key, 0, -1)));
      else if (type === 'stream') bytes.push(Buffer.from(JSON.stringify(await redis.xrange(key, '-', '+'))));
    }
  }
  return { bytes, text: [...keys, ...bytes.map((b) => b.toString('latin1'))].join('\n'), keys };
}

/**
 * On a cluster with shards the person index sits in the person's group and an order's fact in its
 * order's group; a hub that ran before they were sharded keeps them on the hub tag, where erasure
 * must find them too. So half of the person's is put back there: the index's refs (the sealed
 * pages and push batches holding the person's records), one order's fact with its home, one
 * of the person's source pages (its bytes; its pending deliveries are on the hub tag anyway) and
 * the body of the person's dead letter (its listings are on the hub tag anyway). The
 * index's keys, the other orders' facts and the other pages stay in their groups. One Redis:
 * nothing to do (one group).
 */
async function halfAsBeforeSharding(t: TestHub, person: string, orderKey: string) {
  const { redis, store, layout } = t.hub;
  if (!layout.spread) return;
  const group = layout.groupOf(person);
  expect(await redis.scard(`${group}:person:${person}:keys`)).toBeGreaterThan(0);
  const refs = await redis.smembers(`${group}:person:${person}:refs`);
  expect(refs.length).toBeGreaterThan(0);
  await redis.sadd(store.k('person', person, 'refs'), ...refs);
  await redis.del(`${group}:person:${person}:refs`);
  // One of the person's source pages kept on the hub tag, as before pages were sharded.
  const page = refs.find((r) => r.startsWith('srcpage|'))!.split('|').slice(3).join('|');
  const bytes = await redis.getBuffer(store.sourcePageKey(page));
  expect(bytes).not.toBeNull();
  await redis.set(store.k('srcpage', page), bytes!, 'EX', 3600);
  await redis.del(store.sourcePageKey(page));
  // The person's dead letter with its body on the hub tag, as before dead letters were sharded.
  const [dl] = (await store.listDeadLetters()).items;
  const body = await redis.get(store.deadLetterKey(dl.id));
  expect(body).not.toBeNull();
  await redis.set(store.k('dlq', dl.id), body!);
  await redis.del(store.deadLetterKey(dl.id));
  const orderGroup = layout.groupOf(orderKey);
  const home = await redis.hget(`${orderGroup}:facts:home`, orderKey);
  expect(home?.startsWith(`${orderGroup}:facts:order:`)).toBe(true);
  const legacyHome = `${layout.hub}${home!.slice(orderGroup.length)}`;
  await redis.hset(legacyHome, orderKey, (await redis.hget(home!, orderKey))!);
  await redis.hset(store.k('facts', 'home'), orderKey, legacyHome);
  await redis.hdel(home!, orderKey);
  await redis.hdel(`${orderGroup}:facts:home`, orderKey);
}

function webhook(app: ReturnType<typeof createApp>, order: Record<string, unknown>, id: string) {
  const body = JSON.stringify(order);
  return app.request('/webhooks/shop', {
    method: 'POST', body,
    headers: { 'x-shopify-topic': 'orders/updated', 'x-shopify-webhook-id': id, 'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(body).digest('base64') },
  });
}

describe('erasure of one person', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('removes every copy the hub holds, keeps other customers, and only a newer record brings the person back', async () => {
    const orders = shopifyOrders(8);
    // buyer0 has three orders: 0, 6 and 7 (the newest, so among the samples); order 5 of buyer0 is dead-lettered.
    for (const i of [5, 6, 7]) Object.assign(orders[i], { email: ERASED, customer: { ...orders[i].customer, id: 300_000, email: ERASED } });
    orders[5].total_price = 'twelve dollars';
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    const crm2 = mockHubspotDeals(CRM2);
    mockHubspotDeals(CRM3);

    const cfg = testConfig({
      server: { adminToken: ADMIN_TOKEN },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SECRET } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
        crm2: { connector: 'hubspot', baseUrl: CRM2, credentials: { accessToken: 'pat2' } },
        crm3: { connector: 'hubspot', baseUrl: CRM3, credentials: { accessToken: 'pat3' } },
      },
      pipelines: {
        orders: {
          source: { connection: 'shop', entity: 'order' }, webhooks: true,
          targets: [{ connection: 'crm', entity: 'order' }, { connection: 'crm2', entity: 'order' }, { connection: 'crm3', entity: 'order' }],
        },
      },
    });
    // Every ciphertext the hub makes, with its plaintext: after the erasure none that holds the person's values may be left in Redis.
    const sealedOf = new Map<string, string>();
    const keyring = cfg.keyring as { encrypt: (p: string, a: string) => string; encryptBytes: (p: unknown, a: string, prefix?: Buffer) => Buffer };
    const encrypt = keyring.encrypt.bind(keyring);
    const encryptBytes = keyring.encryptBytes.bind(keyring);
    keyring.encrypt = (p, a) => {
      const ct = encrypt(p, a);
      sealedOf.set(ct, p);
      return ct;
    };
    keyring.encryptBytes = (p, a, prefix) => {
      const sealed = encryptBytes(p, a, prefix);
      // A plain prefix (a coalesce entry's header) is not part of the ciphertext.
      const ct = prefix ? sealed.subarray(prefix.length) : sealed;
      const parts = Array.isArray(p) ? p : [p];
      sealedOf.set(ct.toString('base64'), parts.map((x) => String(x)).join(''));
      return sealed;
    };

    t = await openTestHub(cfg);
    await t.hub.pushQueue('crm3').pause(); // crm3's pushes stay queued
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    await eventually(() => crm.deals.size === 7 && crm2.deals.size === 7);
    await eventually(async () => (await t!.hub.store.getRun(runId))?.pullDone);
    expect(crm.deals.get('1001')).toBeDefined();
    const { items: dlqBefore } = await t.hub.store.listDeadLetters();
    expect(dlqBefore).toHaveLength(1);

    await halfAsBeforeSharding(t, `customer:${t.hub.config.keyring.blindIndex(ERASED)}`, `order:shop:${orders[0].id}`);

    const personal = () => [...sealedOf].filter(([, plain]) => plain.toLowerCase().includes(ERASED));
    const present = (all: { bytes: Buffer[]; text: string }, ct: string) => all.text.includes(ct) || all.bytes.some((b) => b.equals(Buffer.from(ct, 'base64')) || b.includes(Buffer.from(ct, 'base64')));
    const before = await everything(t);
    expect(personal().filter(([ct]) => present(before, ct)).length).toBeGreaterThan(3);
    const index = t.hub.config.keyring.blindIndex(ERASED);
    expect(before.text).toContain(index);

    const api = adminClient(createApp(t.hub));
    const dry = await api.post('/api/erasure', { email: ERASED, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body.removed).toMatchObject({ orderSnapshots: 3, deadLetters: 1 });
    const afterDry = await everything(t);
    expect(personal().filter(([ct]) => present(afterDry, ct)).length).toBeGreaterThan(3);

    const res = await api.post('/api/erasure', { email: ERASED });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'erased', dryRun: false, removed: { orderSnapshots: 3, deadLetters: 1, links: 9 } });
    expect(res.body.removed.queuedPushRecords).toBeGreaterThanOrEqual(3);
    expect(res.body.removed.samples).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(res.body)).not.toContain('buyer0');
    expect((await api.get(`/api/erasure/${res.body.id}`)).body).toEqual(res.body);

    const after = await everything(t);
    const left = personal().filter(([ct]) => present(after, ct));
    expect(left.map(([, p]) => p.slice(0, 80))).toEqual([]);
    expect(after.text).not.toContain(index);
    expect(after.text.toLowerCase()).not.toContain(ERASED);
    // The other customers keep their snapshots, links and dead-letter-free state.
    for (const i of [1, 2, 3, 4]) {
      expect(await t.hub.store.orders.orderSnapshot(`order:shop:${orders[i].id}`)).not.toBeNull();
      expect(Object.keys(await t.hub.store.getLinks(`order:shop:${orders[i].id}`)).sort()).toEqual(['crm', 'crm2', 'shop']);
    }
    expect(await t.hub.store.orders.orderSnapshot(`order:shop:${orders[0].id}`)).toBeNull();
    expect(await t.hub.store.getLinks(`order:shop:${orders[0].id}`)).toEqual({});
    // The dead letter stays listed as an erased mark: which erasure, when; no key, source or error text.
    const dlAfter = await api.get('/api/dead-letters');
    expect(dlAfter.body.items).toHaveLength(1);
    expect(dlAfter.body.items[0]).toMatchObject({ id: dlqBefore[0].id, pipeline: dlqBefore[0].pipeline, erased: { id: res.body.id, at: res.body.requestedAt }, error: { code: dlqBefore[0].error.code, message: 'erased' } });
    expect(dlAfter.body.items[0].key).toBeUndefined();
    expect((await api.get(`/api/dead-letters/${dlqBefore[0].id}`)).body).toMatchObject({ erased: { id: res.body.id }, source: null });
    expect((await api.post(`/api/dead-letters/${dlqBefore[0].id}/replay`, {})).status).toBe(409);

    // Again: nothing to do, nothing recorded.
    const again = await api.post('/api/erasure', { email: ERASED });
    expect(again.body).toMatchObject({ status: 'already_erased', id: res.body.id });
    expect((await api.get('/api/erasure')).body.items).toHaveLength(1);

    // crm3's queued pushes go out without the person's orders; the others arrive.
    const crm3Deals = new Map<string, unknown>();
    nock.cleanAll();
    const crm3 = mockHubspotDeals(CRM3);
    await t.hub.pushQueue('crm3').resume();
    await eventually(() => crm3.deals.size === 4);
    await new Promise((r) => setTimeout(r, 300));
    expect([...crm3.deals.keys()].sort()).toEqual(['1002', '1003', '1004', '1005']);
    void crm3Deals;
    mockHubspotDeals();
    mockHubspotDeals(CRM2);

    // A late webhook with the order as it was: not synced, nothing kept.
    const app = createApp(t.hub);
    expect((await webhook(app, orders[0], 'late-1')).status).toBe(200);
    await eventually(async () => {
      const n = await t!.hub.ingestQueue.getJobCounts('waiting', 'active', 'delayed', 'completed');
      return n.completed >= 1 && n.waiting + n.active + n.delayed === 0;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(await t.hub.store.getLinks(`order:shop:${orders[0].id}`)).toEqual({});
    expect(await t.hub.store.orders.orderSnapshot(`order:shop:${orders[0].id}`)).toBeNull();

    // A newer record (the order changed after the erasure) is synced as new.
    const newer = { ...orders[0], updated_at: new Date(Date.now() + 60_000).toISOString() };
    expect((await webhook(app, newer, 'new-1')).status).toBe(200);
    await eventually(async () => Object.keys(await t!.hub.store.getLinks(`order:shop:${orders[0].id}`)).includes('crm'));
    expect(await t.hub.store.orders.orderSnapshot(`order:shop:${orders[0].id}`)).not.toBeNull();
  }, 60_000);

  it('a webhook record waiting to be pushed with others is not pushed once its person is erased; the others are', async () => {
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      server: { adminToken: ADMIN_TOKEN },
      jobs: { pushLingerMs: 4000 },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SECRET } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, webhooks: true, targets: [{ connection: 'crm', entity: 'order' }] } },
    }));
    t.startWorkers();
    const app = createApp(t.hub);
    const [mine, theirs] = shopifyOrders(2);
    Object.assign(mine, { email: ERASED, customer: { ...mine.customer, email: ERASED } });
    expect((await webhook(app, mine, 'c-1')).status).toBe(200);
    expect((await webhook(app, theirs, 'c-2')).status).toBe(200);
    const list = t.hub.store.coalesce.coalesceKey('orders', 'crm', 'order');
    await eventually(async () => (await t!.hub.redis.llen(list)) === 2);
    const res = await adminClient(app).post('/api/erasure', { email: ERASED });
    expect(res.body.removed.coalescedRecords).toBe(1);
    await eventually(() => crm.deals.size === 1, 20_000);
    await eventually(async () => (await t!.hub.redis.llen(list)) === 0);
    expect([...crm.deals.keys()]).toEqual([String(theirs.order_number)]);
  }, 30_000);

  it('propagate: the person’s deals are archived in each target (HubSpot batch archive) before the hub forgets them; a refused call erases nothing', async () => {
    const orders = shopifyOrders(3);
    for (const i of [0, 2]) Object.assign(orders[i], { email: ERASED, customer: { ...orders[i].customer, email: ERASED } });
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    const crm2 = mockHubspotDeals(CRM2);
    const archived: Record<string, string[]> = { crm: [], crm2: [] };
    let refuse = true;
    nock('https://api.hubapi.com').persist().post('/crm/objects/2026-09/deals/batch/archive').reply((_u, body: any) => (archived.crm.push(...body.inputs.map((i: any) => i.id)), [204, '']));
    nock(CRM2).persist().post('/crm/objects/2026-09/deals/batch/archive').reply((_u, body: any) => {
      if (refuse) return [403, { status: 'error', message: 'This app hasn\'t been granted all required scopes', category: 'MISSING_SCOPES' }];
      archived.crm2.push(...body.inputs.map((i: any) => i.id));
      return [204, ''];
    });
    t = await openTestHub(testConfig({
      server: { adminToken: ADMIN_TOKEN },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
        crm2: { connector: 'hubspot', baseUrl: CRM2, credentials: { accessToken: 'pat2' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }, { connection: 'crm2', entity: 'order' }] } },
    }));
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    await eventually(async () => (await t!.hub.store.getRun(runId))?.finishedAt);
    const api = adminClient(createApp(t.hub));

    const refused = await api.post('/api/erasure', { email: ERASED, propagate: true });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/propagating the erasure to crm2 failed .*nothing was erased in the hub/);
    expect(await t.hub.store.orders.orderSnapshot(`order:shop:${orders[0].id}`)).not.toBeNull();

    refuse = false;
    const res = await api.post('/api/erasure', { email: ERASED, propagate: true });
    expect(res.status).toBe(201);
    const dealIds = (store: typeof crm) => [orders[0], orders[2]].map((o) => store.deals.get(String(o.order_number))!.id).sort();
    expect(archived.crm.sort()).toEqual(expect.arrayContaining(dealIds(crm)));
    expect(archived.crm2.sort()).toEqual(expect.arrayContaining(dealIds(crm2)));
    expect([...res.body.targets].sort((a: any, b: any) => a.connection.localeCompare(b.connection))).toEqual([
      { connection: 'crm', entity: 'order', records: 2, outcome: 'archived' },
      { connection: 'crm2', entity: 'order', records: 2, outcome: 'archived' },
    ]);
    expect(await t.hub.store.orders.orderSnapshot(`order:shop:${orders[0].id}`)).toBeNull();
    expect(await t.hub.store.orders.orderSnapshot(`order:shop:${orders[1].id}`)).not.toBeNull();
  });

  it('a stored webhook event of the person that no worker has taken yet is removed with its sealed body; another person’s stays', async () => {
    t = await openTestHub(testConfig({
      server: { adminToken: ADMIN_TOKEN },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SECRET } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, webhooks: true, targets: [{ connection: 'crm', entity: 'order' }] } },
    }));
    const app = createApp(t.hub);
    const [mine, theirs] = shopifyOrders(2);
    Object.assign(mine, { email: ERASED, customer: { ...mine.customer, email: ERASED } });
    expect((await webhook(app, mine, 'q-1')).status).toBe(200);
    expect((await webhook(app, theirs, 'q-2')).status).toBe(200);
    // Each route write is an ingest job holding its events (webhook-store.ts).
    const events = async () => (await t!.hub.ingestQueue.getJobs(['waiting'])).flatMap((j) => (j.data.events ?? [j.data]) as { eventId: string; sealed?: string }[]);
    expect((await events()).map((e) => e.eventId).sort()).toEqual(['q-1', 'q-2']);
    const sealedMine = (await events()).find((e) => e.eventId === 'q-1')!.sealed!;
    const res = await adminClient(app).post('/api/erasure', { email: ERASED });
    expect(res.body.removed.webhookBodies).toBe(1);
    expect((await events()).map((e) => e.eventId)).toEqual(['q-2']);
    expect((await everything(t)).text).not.toContain(sealedMine);
  });

  it('refuses a request without a person as invalid', async () => {
    t = await openTestHub(testConfig({ server: { adminToken: ADMIN_TOKEN }, connections: { crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } } }, pipelines: {} }));
    const api = adminClient(createApp(t.hub));
    expect((await api.post('/api/erasure', {})).body.error.code).toBe('invalid_request');
    expect((await api.post('/api/erasure', { email: 'not an address' })).body.error.code).toBe('invalid_request');
    expect((await api.get('/api/erasure/nope')).status).toBe(404);
    void fixture;
  });
});
