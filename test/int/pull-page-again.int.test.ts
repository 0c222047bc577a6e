import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { processPage } from '../../src/jobs/pull.js';
import type { PullJobData } from '../../src/jobs/queues.js';
import { pulledPageId } from '../../src/state/store.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';

/**
 * A pull-page job taken up again: under load its lock can lapse while it runs (BullMQ then
 * hands the stalled job to another worker), or it fails after handing its page on and is
 * retried. Its push jobs are queued under fixed ids, so the second attempt queues nothing new:
 * it must not pull the page again or leave deliveries pending that no push job will settle
 * (each would keep a sealed source page in Redis for 30 days).
 */

const SHOP = 'https://acme.myshopify.com';

const config = () => testConfig({
  connections: {
    shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat_test' } },
    crm: { connector: 'hubspot', credentials: { accessToken: 'pat-test' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
  },
  pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 100 } },
});

const pageJob = (runId: string, seq: number) => ({ data: { pipeline: 'orders', runId, seq, cursor: null } }) as Job<PullJobData>;

describe('a pull-page job taken up again', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const finished = (runId: string) => eventually(async () => {
    const run = await t!.hub.store.getRun(runId);
    return run?.finishedAt ? run : undefined;
  }, 60_000);
  const srcpages = () => t!.hub.redis.keys(t!.hub.store.k('srcpage', '*'));

  it('after its first run finished and its pushes settled: pulls nothing again and leaves no source page', async () => {
    const orders = shopifyOrders(200);
    const shop = mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const { runId } = await t.hub.store.beginRun('orders', true);
    await processPage(t.hub, pageJob(runId, 0));
    const run = await finished(runId);
    expect(run).toMatchObject({ expected: 200, pushed: 200, pages: 2 });
    expect(shop.requests).toHaveLength(2);
    await eventually(async () => (await srcpages()).length === 0, 10_000);

    // The stalled job's second run.
    await processPage(t.hub, pageJob(runId, 0));
    expect(shop.requests).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 500));
    expect(await srcpages()).toEqual([]);
    expect(await t.hub.store.getRun(runId)).toMatchObject({ expected: 200, pushed: 200, pages: 2 });
    expect(crm.calls.reduce((a, b) => a + b, 0)).toBe(200);
  });

  it('retried after handing its page on but before recording it, once its pushes settled: nothing pending is left, the run finishes', async () => {
    const orders = shopifyOrders(200);
    const shop = mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const { runId } = await t.hub.store.beginRun('orders', true);
    // The first attempt dies after its hand-on, before it records the page.
    const { store } = t.hub;
    const recordPage = store.recordPage.bind(store);
    store.recordPage = async (...args) => {
      if (args[2].seq === 0) throw new Error('the worker died here');
      return recordPage(...args);
    };
    await expect(processPage(t.hub, pageJob(runId, 0))).rejects.toThrow('the worker died here');
    store.recordPage = recordPage;
    // Its pushes (and the next page's) settle; the page stays kept for its own record.
    const pending = store.k('srcpage', pulledPageId(runId, 0), 'pending');
    await eventually(async () => crm.deals.size === 200 && (await t!.hub.redis.hkeys(pending)).every((f) => f === 'pulled' || f === 'handed'), 30_000);

    await processPage(t.hub, pageJob(runId, 0));
    const run = await finished(runId);
    expect(run).toMatchObject({ expected: 200, pushed: 200, skipped: 0, pages: 2 });
    expect(shop.requests).toHaveLength(2);
    await eventually(async () => (await srcpages()).length === 0, 10_000);
    expect(crm.calls.reduce((a, b) => a + b, 0)).toBe(200);
  });
});
