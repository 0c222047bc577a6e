import { afterEach, describe, expect, it } from 'vitest';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { erasePerson } from '../../src/operations/erasure.js';
import { replayDeadLetter } from '../../src/jobs/replay.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { fixture } from '../helpers/mock-apis.js';

function config(onConflict: 'reject' | 'merge', scope: 'all' | 'connection' = 'all') {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
      woo: { connector: 'woocommerce', baseUrl: 'https://woo.example.com', credentials: { consumerKey: 'ck', consumerSecret: 'cs' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    unique: { customer: [{ fields: ['email'], onConflict, scope }] },
    pipelines: {
      'shop-customers': { source: { connection: 'shop', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }] },
      'woo-customers': { source: { connection: 'woo', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }] },
    },
  });
}

const shopCustomer = (id: number, email: string) => ({ ...fixture('shopify/customer.json'), id, email });
const wooCustomer = (id: number, email: string) => ({ ...fixture('woocommerce/customer.json'), id, email });

describe('uniqueness rules', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('reject: the second source\'s customer with the same email is dead-lettered as a duplicate naming the first, and goes through on replay once resolved', async () => {
    t = await openTestHub(config('reject'));
    const shop = t.hub.config.pipelines.get('shop-customers')!;
    const woo = t.hub.config.pipelines.get('woo-customers')!;
    expect(await ingestRecords(t.hub, shop, [shopCustomer(207119551, 'Ana.Lima@example.com')])).toMatchObject({ dead: 0 });
    // Same address, other case: the blind index compares case-insensitively.
    expect(await ingestRecords(t.hub, woo, [wooCustomer(25, 'ana.lima@EXAMPLE.com')])).toMatchObject({ dead: 1 });

    const { items } = await t.hub.store.listDeadLetters({ pipeline: 'woo-customers' });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ step: 'unique', error: { code: 'duplicate', details: { rule: 'email', connection: 'shop', externalId: '207119551' } } });
    expect(items[0].error.message).toContain('shop customer 207119551');
    expect(items[0].error.message).not.toMatch(/ana\.lima/i);
    expect(await t.hub.store.keysForExternalIds('woo', 'customer', ['25'])).toEqual([null]);

    // Counted and listed for the admin, the shared address nowhere in the answer.
    const api = adminClient(createApp(t.hub));
    const listed = await api.get('/api/conflicts?pipeline=woo-customers');
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ total: 1, items: [{ rule: 'email', action: 'rejected', connection: 'woo', externalId: '25', holder: { connection: 'shop', externalId: '207119551' } }] });
    expect(JSON.stringify(listed.body)).not.toMatch(/ana\.lima/i);
    expect((await t.hub.store.pipelineStats('woo-customers'))).toMatchObject({ dead: 1 });

    // Replayed while still colliding: dead-lettered again.
    await replayDeadLetter(t.hub, items[0]);
    const again = await t.hub.store.listDeadLetters({ pipeline: 'woo-customers' });
    expect(again.items).toMatchObject([{ step: 'unique', error: { code: 'duplicate' } }]);

    // Resolved at the source: the shop customer's address changes, which frees the old one; the replay goes through.
    await ingestRecords(t.hub, shop, [{ ...shopCustomer(207119551, 'ana@lima.example'), updated_at: '2025-02-01T00:00:00Z' }]);
    await replayDeadLetter(t.hub, again.items[0]);
    expect((await t.hub.store.listDeadLetters({ pipeline: 'woo-customers' })).total).toBe(0);
    expect((await t.hub.store.keysForExternalIds('woo', 'customer', ['25']))[0]).toMatch(/^customer:/);
  });

  it('merge: the second source\'s customer is linked to the canonical customer of the first', async () => {
    t = await openTestHub(config('merge'));
    const shop = t.hub.config.pipelines.get('shop-customers')!;
    const woo = t.hub.config.pipelines.get('woo-customers')!;
    await ingestRecords(t.hub, shop, [shopCustomer(207119551, 'ana.lima@example.com')]);
    expect(await ingestRecords(t.hub, woo, [wooCustomer(25, 'ana.lima@example.com')])).toMatchObject({ dead: 0, pushed: 1 });
    const [shopKey] = await t.hub.store.keysForExternalIds('shop', 'customer', ['207119551']);
    const [wooKey] = await t.hub.store.keysForExternalIds('woo', 'customer', ['25']);
    expect(wooKey).toBe(shopKey);
    expect(await t.hub.store.getLinks(shopKey!)).toEqual({ shop: '207119551', woo: '25' });
    expect((await t.hub.store.listDeadLetters({})).total).toBe(0);
    const { body } = await adminClient(createApp(t.hub)).get('/api/conflicts');
    expect(body).toMatchObject({ total: 1, items: [{ action: 'merged', connection: 'woo', externalId: '25', holder: { connection: 'shop', externalId: '207119551', key: shopKey } }] });
  });

  it('20 records with one unique key ingested concurrently: exactly one wins, the 19 others are duplicates of it', async () => {
    t = await openTestHub(config('reject'));
    const shop = t.hub.config.pipelines.get('shop-customers')!;
    const hub = t.hub;
    const { runId } = await hub.store.beginRun('shop-customers', false);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ingestRecords(hub, shop, [shopCustomer(1000 + i, i % 2 ? 'same@example.com' : 'SAME@example.com')], { runId, seq: i })));
    expect(results.filter((r) => r.dead === 0)).toHaveLength(1);
    const linked = (await hub.store.keysForExternalIds('shop', 'customer', Array.from({ length: 20 }, (_, i) => String(1000 + i)))).map((k, i) => (k ? String(1000 + i) : null)).filter(Boolean);
    expect(linked).toHaveLength(1);
    const { total, items } = await hub.store.listDeadLetters({ pipeline: 'shop-customers', limit: 50 });
    expect(total).toBe(19);
    for (const d of items) expect(d.error).toMatchObject({ code: 'duplicate', details: { connection: 'shop', externalId: linked[0] } });
    expect((await hub.store.unique.conflicts({ limit: 50 })).total).toBe(19);
    expect(await hub.store.getRun(runId)).toMatchObject({ conflicts: 19, dead: 19, pushed: 0 });
  });

  it('a rule per source connection lets two sources share a value, and a page\'s own two records conflict', async () => {
    t = await openTestHub(config('reject', 'connection'));
    const shop = t.hub.config.pipelines.get('shop-customers')!;
    const woo = t.hub.config.pipelines.get('woo-customers')!;
    expect(await ingestRecords(t.hub, shop, [shopCustomer(1, 'a@example.com'), shopCustomer(2, 'a@example.com')])).toMatchObject({ dead: 1 });
    expect(await ingestRecords(t.hub, woo, [wooCustomer(25, 'a@example.com')])).toMatchObject({ dead: 0 });
    const { items } = await t.hub.store.listDeadLetters({});
    expect(items).toMatchObject([{ pipeline: 'shop-customers', error: { details: { externalId: '1' } } }]);
  });
  it('an erased person gives up their unique claims: no key names the email\'s blind index, and the address can be claimed anew', async () => {
    t = await openTestHub(config('reject'));
    const shop = t.hub.config.pipelines.get('shop-customers')!;
    const woo = t.hub.config.pipelines.get('woo-customers')!;
    expect(await ingestRecords(t.hub, shop, [shopCustomer(207119551, 'ana.lima@example.com')])).toMatchObject({ dead: 0 });
    const index = t.hub.config.keyring.blindIndex('ana.lima@example.com');
    const keysNaming = async () => (await t!.hub.redis.keys(`${t!.hub.config.redis.prefix}:uniq*`)).filter((k) => k.includes(index));
    expect(await keysNaming()).toHaveLength(1);

    const erased = await erasePerson(t.hub, { email: 'ana.lima@example.com' });
    expect(erased.status).toBe('erased');
    expect(await keysNaming()).toEqual([]);
    expect(await t.hub.redis.keys(`${t.hub.config.redis.prefix}:uniqown:*`)).toEqual([]);
    // Someone with that address later, in the other shop: not a duplicate of the forgotten customer.
    expect(await ingestRecords(t.hub, woo, [wooCustomer(25, 'ana.lima@example.com')])).toMatchObject({ dead: 0 });
  });
});
