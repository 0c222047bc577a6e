import { afterEach, describe, expect, it } from 'vitest';
import { installSchedules } from '../../src/jobs/workers.js';
import { openTestHub, testConfig, type TestHub } from '../helpers/hub.js';

describe('several processes against one Redis', () => {
  const hubs: TestHub[] = [];
  afterEach(async () => {
    for (const h of hubs.splice(0)) await h.close();
  });

  it('installs one scheduler per pipeline however many processes start at once, and drops schedules removed from the config', async () => {
    const raw = {
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'x' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'y' } },
      },
      pipelines: {
        orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], schedule: '*/5 * * * *' },
        customers: { source: { connection: 'shop', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }], schedule: '0 * * * *' },
      },
    };
    const first = testConfig(raw);
    const processes = await Promise.all(Array.from({ length: 4 }, async () => {
      const cfg = testConfig(raw);
      cfg.redis.prefix = first.redis.prefix;
      const h = await openTestHub(cfg);
      hubs.push(h);
      return h;
    }));
    await Promise.all(processes.map((p) => installSchedules(p.hub)));
    const schedulers = await processes[0].hub.pullQueue.getJobSchedulers();
    expect(schedulers.map((s) => s.key).sort()).toEqual(['schedule-customers', 'schedule-orders']);
    expect(schedulers.find((s) => s.key === 'schedule-orders')?.pattern).toBe('*/5 * * * *');
    // One delayed 'start' job per scheduler, not one per process.
    expect(await processes[0].hub.pullQueue.getDelayedCount()).toBe(2);

    const { customers: _gone, ...fewer } = raw.pipelines;
    const cfg = testConfig({ ...raw, pipelines: fewer });
    cfg.redis.prefix = first.redis.prefix;
    const later = await openTestHub(cfg);
    hubs.push(later);
    await installSchedules(later.hub);
    expect((await later.hub.pullQueue.getJobSchedulers()).map((s) => s.key)).toEqual(['schedule-orders']);
  });
});
