import { afterEach, describe, expect, it } from 'vitest';
import { openTestHub, testConfig, type TestHub } from '../helpers/hub.js';

/**
 * The push locks (src/state/record-state.ts, `lockPush` / `unlockPush`): one job at a time
 * pushes a record to a target. A batch takes its records' locks all or none, a job renews its
 * own, releases only its own, and a lock left by a dead worker expires.
 */
function config() {
  return testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
  });
}

describe('push locks', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('a batch that overlaps a held lock is refused and holds none of its records afterwards', async () => {
    t = await openTestHub(config());
    const { store } = t.hub;
    expect(await store.lockPush('crm', ['shop:1', 'shop:2'], 'job-a', 60_000)).toBe(true);
    // shop:3 is free, shop:2 is job-a's: all or none, so job-b takes nothing.
    expect(await store.lockPush('crm', ['shop:3', 'shop:2'], 'job-b', 60_000)).toBe(false);
    expect(await store.lockPush('crm', ['shop:3'], 'job-c', 60_000)).toBe(true);
    // The locks are per target: another connection's push of shop:1 is not held up.
    expect(await store.lockPush('erp', ['shop:1'], 'job-b', 60_000)).toBe(true);
  });

  it('a job renews its own locks, and a refused renewal leaves them held', async () => {
    t = await openTestHub(config());
    const { store } = t.hub;
    expect(await store.lockPush('crm', ['shop:1', 'shop:2'], 'job-a', 300)).toBe(true);
    expect(await store.lockPush('crm', ['shop:1', 'shop:2'], 'job-a', 60_000, true)).toBe(true);
    // Past the first time to live: held by the renewal.
    await new Promise((r) => setTimeout(r, 500));
    expect(await store.lockPush('crm', ['shop:2'], 'job-b', 60_000)).toBe(false);
    // A renewal that meets another job's lock answers false and gives up nothing of its own.
    expect(await store.lockPush('crm', ['shop:9'], 'job-b', 60_000)).toBe(true);
    expect(await store.lockPush('crm', ['shop:1', 'shop:9'], 'job-a', 60_000, true)).toBe(false);
    expect(await store.lockPush('crm', ['shop:1'], 'job-c', 60_000)).toBe(false);
  });

  it('a job releases its own locks only, and a lock whose worker died expires', async () => {
    t = await openTestHub(config());
    const { store } = t.hub;
    expect(await store.lockPush('crm', ['shop:1'], 'job-a', 60_000)).toBe(true);
    expect(await store.lockPush('crm', ['shop:2'], 'job-dead', 200)).toBe(true);
    await store.unlockPush('crm', ['shop:1', 'shop:2'], 'job-b');
    expect(await store.lockPush('crm', ['shop:1'], 'job-b', 60_000)).toBe(false);
    await store.unlockPush('crm', ['shop:1'], 'job-a');
    expect(await store.lockPush('crm', ['shop:1'], 'job-b', 60_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    expect(await store.lockPush('crm', ['shop:2'], 'job-b', 60_000)).toBe(true);
  });
});
