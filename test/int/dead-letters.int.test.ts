import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRun } from '../../src/jobs/pull.js';
import { replayDeadLetter } from '../../src/jobs/replay.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { keysMatching } from '../helpers/redis-scan.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';

function config(transform?: string) {
  return testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 20, ...(transform ? { transform } : {}) } },
    jobs: { attempts: 2 },
  });
}

async function finish(t: TestHub, runId: string) {
  return runFinished(t.hub, runId);
}

describe('dead letters', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('dead-letters bad records with their reason and keeps the run going; a replay after the fix pushes them', async () => {
    const orders = shopifyOrders(50);
    orders[3].currency = 'dollars';          // fails the mapping ($money refuses the currency)
    orders[4].line_items[0].quantity = -2;   // fails validation (quantity minimum 0)
    mockShopifyOrders(SHOP, orders);
    // Push refuses order 1010 for good (a 400 HubSpot would give for a bad property): once for its
    // batch, once when the hub narrows the batch down record by record.
    nock('https://api.hubapi.com').post('/crm/objects/2026-09/deals/batch/upsert', (b) => b.inputs.some((i: any) => i.id === '1010')).times(2)
      .reply(400, { status: 'error', message: 'Property values were not valid', category: 'VALIDATION_ERROR' });
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    const run = await finish(t, runId);
    expect(run).toMatchObject({ expected: 50, pushed: 47, dead: 3 });
    expect(crm.deals.size).toBe(47);

    const { total, items } = await t.hub.store.listDeadLetters({ pipeline: 'orders' });
    expect(total).toBe(3);
    const byStep = Object.fromEntries(items.map((d) => [d.step, d]));
    expect(byStep.map_in.error).toMatchObject({ code: 'mapping_failed', message: expect.stringMatching(/order\.in\.jsonata:\d+:\d+: failed on this record: .*ISO-4217/) });
    expect(byStep.validate.error).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('/lineItems/0/quantity must be >= 0') });
    expect(byStep.push).toMatchObject({ target: 'crm', error: { code: 'remote_rejected', message: expect.stringContaining('400') } });
    for (const d of items) expect(d.source).toMatch(/^enc:v1:/);
    // The push-side dead letter copied its source from the page, so the page is not kept for it (in any group).
    const { store, layout } = t.hub;
    for (const g of new Set([layout.hub, ...layout.groups()])) expect(await keysMatching(t.hub.redis, `${g}:srcpage:*`)).toEqual([]);
    // Each body in its id's group (on one Redis the plain name), none on the hub tag of a cluster
    // with shards; the listings stay on the hub tag.
    for (const d of items) {
      expect(store.deadLetterKey(d.id)).toBe(`${layout.groupOf(d.id)}:dlq:${d.id}`);
      expect(await t.hub.redis.exists(store.deadLetterKey(d.id))).toBe(1);
      if (layout.spread) expect(await t.hub.redis.exists(store.k('dlq', d.id))).toBe(0);
    }
    if (layout.spread) {
      expect(new Set(items.map((d) => layout.groupOf(d.id))).has(layout.hub)).toBe(false);
      // One written on the hub tag by an earlier version is listed, read and removed as before.
      const old = { ...byStep.map_in, id: 'old-1', key: 'order:shop:old-1' };
      await t.hub.redis.multi().set(store.k('dlq', old.id), JSON.stringify(old)).zadd(store.k('dlq', 'all'), 1, old.id).zadd(store.k('dlq', 'p', 'orders'), 1, old.id)
        .sadd(store.k('dlq-key', old.key), old.id).exec();
      expect((await store.listDeadLetters({ pipeline: 'orders' })).items.map((d) => d.id)).toContain(old.id);
      expect(await store.getDeadLetter(old.id)).toMatchObject({ id: old.id, step: 'map_in' });
      await store.removeDeadLetter(old);
      expect(await t.hub.redis.exists(store.k('dlq', old.id), store.k('dlq-key', old.key))).toBe(0);
      expect((await store.listDeadLetters({ pipeline: 'orders' })).total).toBe(3);
    }

    // Fix the data at the source side of the mapping: replay re-runs the sealed source record through current mappings.
    nock.cleanAll();
    const crm2 = mockHubspotDeals();
    await replayDeadLetter(t.hub, byStep.push);
    await eventually(() => crm2.deals.has('1010'));
    expect((await t.hub.store.listDeadLetters({ pipeline: 'orders' })).total).toBe(2);
    expect(await t.hub.redis.exists(store.deadLetterKey(byStep.push.id))).toBe(0);
  });

  it('replays through a fixed mapping: the records a bad transform broke go through', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-'));
    const transform = path.join(dir, 'transform.jsonata');
    writeFileSync(transform, '$merge([$, { "total": $number(total) }])'); // a bug: a float total fails validation
    mockShopifyOrders(SHOP, shopifyOrders(5));
    const crm = mockHubspotDeals();
    t = await openTestHub(config(transform));
    t.startWorkers();
    const run = await finish(t, (await startRun(t.hub, 'orders', false)).runId);
    expect(run).toMatchObject({ pushed: 0, dead: 5 });
    await t.close();

    writeFileSync(transform, '$'); // the fix
    const fixedConfig = config(transform);
    fixedConfig.redis.prefix = t.hub.config.redis.prefix;
    t = await openTestHub(fixedConfig);
    t.startWorkers();
    const { items } = await t.hub.store.listDeadLetters({ pipeline: 'orders' });
    for (const d of items) await replayDeadLetter(t.hub, d);
    await eventually(() => crm.deals.size === 5);
    expect([...crm.deals.values()].map((d) => d.properties.amount)).toEqual(shopifyOrders(5).map((o) => o.total_price));
    expect((await t.hub.store.listDeadLetters({})).total).toBe(0);
  });
});
