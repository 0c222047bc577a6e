/**
 * What a run keeps in Redis between its stages: the pulled page as the shop sent it (sealed),
 * and each push batch's canonical records (sealed) beside its job.
 */
import type { Job } from 'bullmq';
import type { Hub } from '../../src/jobs/hub.js';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { processPage } from '../../src/jobs/pull.js';
import type { PullJobData } from '../../src/jobs/queues.js';
import { replayDeadLetter } from '../../src/jobs/replay.js';
import { openSourcePage } from '../../src/jobs/source-pages.js';
import { pulledPageId } from '../../src/state/store.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';

const config = () => testConfig({
  connections: {
    shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
    crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
  },
  pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 10 } },
  jobs: { attempts: 1 },
});

async function finish(hub: Hub, runId: string) {
  return runFinished(hub, runId);
}


describe('pages and push batches kept in Redis', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  /** A hub over a shop of `n` orders and a CRM, and the first page job of a new run, as BullMQ would hand it to processPage. */
  async function openWithShop(n: number) {
    const orders = shopifyOrders(n);
    const shop = mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    const { runId } = await t.hub.store.beginRun('orders', true);
    const job = { data: { pipeline: 'orders', runId, seq: 0, cursor: null } } as Job<PullJobData>;
    return { hub: t.hub, orders, shop, crm, job };
  }

  it('keeps the pulled page as received; a page job taken up again after it finished neither pulls nor queues anything again', async () => {
    const { hub, orders, shop, crm, job } = await openWithShop(5);
    const { runId } = job.data;

    expect(await processPage(hub, job)).toEqual({ records: 5, done: true });
    expect(shop.requests).toHaveLength(1);
    const kept = (await hub.store.pulledPage(runId, 0))!;
    expect(kept.toString('latin1')).not.toContain(orders[0].email);
    const page = openSourcePage(hub.config.keyring, kept, `page:${runId}:0`);
    expect(page).toEqual({ records: orders, cursor: { since: orders.at(-1)!.updated_at }, done: true });
    // Bound to its page: it does not open as another page of the run.
    expect(() => openSourcePage(hub.config.keyring, kept, `page:${runId}:1`)).toThrow(/failed authentication/);

    // The same job again (a worker died before completing it): the page is recorded, so no
    // second pull, no second set of push jobs (pull-page-again.int.test.ts has more).
    const jobs = await hub.pushQueue('crm').getJobCounts('waiting');
    expect(await processPage(hub, job)).toEqual({ recordedBefore: true });
    expect(shop.requests).toHaveLength(1);
    expect(await hub.pushQueue('crm').getJobCounts('waiting')).toEqual(jobs);
    expect(await hub.redis.keys(hub.store.k('pushrec', '*'))).toHaveLength(1);

    t!.startWorkers();
    expect(await finish(hub, runId)).toMatchObject({ expected: 5, pushed: 5, dead: 0 });
    expect(crm.deals.size).toBe(5);
    expect(crm.calls).toEqual([5]);
    // Every delivery settled: the page is gone; the batch's records stay only as long as the completed job.
    await eventually(async () => (await hub.redis.exists(hub.store.k('srcpage', pulledPageId(runId, 0)))) === 0);
    const batches = await hub.redis.keys(hub.store.k('pushrec', '*'));
    expect(batches).toHaveLength(1);
    const ttl = await hub.redis.ttl(batches[0]);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3600);
  });

  it('a page handed on again with other records to push leaves the queued batch its own records', async () => {
    const { hub, orders, crm, job } = await openWithShop(5);
    // The first attempt dies after handing the page on, before recording it.
    const recordPage = hub.store.recordPage.bind(hub.store);
    hub.store.recordPage = () => Promise.reject(new Error('the worker died here'));
    await expect(processPage(hub, job)).rejects.toThrow('the worker died here');
    hub.store.recordPage = recordPage;
    // Before the page job is taken up again, the first order moves on elsewhere (a newer state):
    // this time it is skipped as stale, and the page's batch would hold other items.
    await hub.redis.set(hub.store.k('life', `order:shop:${orders[0].id}`), JSON.stringify({ status: 'paid', at: '2099-01-01T00:00:00.000Z' }));
    await processPage(hub, job);
    expect(await hub.redis.keys(hub.store.k('pushrec', '*'))).toHaveLength(2);
    expect((await hub.pushQueue('crm').getJobCounts('waiting')).waiting).toBe(1);

    t!.startWorkers();
    await eventually(() => crm.deals.size === 5);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.properties.amount, `order ${o.order_number}`).toBe(o.total_price);
    expect((await hub.store.listDeadLetters({ pipeline: 'orders' })).total).toBe(0);
  });

  it('a push batch whose records are gone from Redis dead-letters each record with the reason, and each replays from its source', async () => {
    const { hub, orders, crm, job } = await openWithShop(3);
    await processPage(hub, job);
    const batches = await hub.redis.keys(hub.store.k('pushrec', '*'));
    expect(batches).toHaveLength(1);
    await hub.redis.del(batches[0]);

    t!.startWorkers();
    expect(await finish(hub, job.data.runId)).toMatchObject({ expected: 3, pushed: 0, dead: 3 });
    expect(crm.deals.size).toBe(0);
    const { items } = await hub.store.listDeadLetters({ pipeline: 'orders' });
    expect(items).toHaveLength(3);
    for (const d of items) {
      expect(d).toMatchObject({ target: 'crm', error: { code: 'decrypt_failed', message: expect.stringMatching(/records of push batch .* are no longer in Redis/) } });
      expect(d.source).toMatch(/^enc:v1:/);
    }

    for (const d of items) await replayDeadLetter(hub, d);
    await eventually(() => crm.deals.size === 3);
    for (const o of orders) expect(crm.deals.get(String(o.order_number))?.properties.amount).toBe(o.total_price);
  });
});
