import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { CircuitBreaker } from '../../src/jobs/breaker.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';

describe('circuit breaker per target connection', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    nock.cleanAll();
  });

  it('opens after consecutive failed calls, probes after the cool-down, closes on success; nothing is lost', async () => {
    mockShopifyOrders(SHOP, shopifyOrders(30));
    let down = true;
    let failedCalls = 0;
    nock('https://api.hubapi.com').persist()
      .post('/crm/objects/2026-09/deals/batch/upsert', () => down).reply(() => {
        failedCalls++;
        return [503, { status: 'error', message: 'Service Unavailable' }];
      });
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      server: { adminToken: 'breaker-test-admin-token-0123' },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: {
          connector: 'hubspot', credentials: { accessToken: 'pat' },
          http: { retries: 0 }, retry: { attempts: 50, backoffMs: 20 },
          breaker: { threshold: 3, cooldownMs: 200, maxCooldownMs: 400 },
        },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 10 } },
    }));
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    const breaker = t.hub.breaker('crm');
    const opened = await eventually(async () => {
      const s = await breaker.status();
      return s.state !== 'closed' ? s : undefined;
    });
    expect(opened.failures).toBeGreaterThanOrEqual(3);
    // Admins see it: the connections listing shows the breaker and the push queue.
    const res = await createApp(t.hub).request('/api/connections', { headers: { authorization: 'Bearer breaker-test-admin-token-0123' } });
    const { connections } = await res.json() as { connections: Array<Record<string, any>> };
    const crmState = connections.find((c) => c.name === 'crm')!;
    expect(crmState).toMatchObject({ connector: 'hubspot', target: true, pushQueue: { paused: false } });
    expect(crmState.breaker.failures).toBeGreaterThanOrEqual(3);
    expect(connections.find((c) => c.name === 'shop')).toMatchObject({ connector: 'shopify', target: false });
    // While it stays open, calls are held back: failures grow only by single probes.
    await eventually(async () => (await breaker.status()).cooldownMs === 400);

    down = false;
    const run = await runFinished(t!.hub, runId);
    expect(run).toMatchObject({ expected: 30, pushed: 30, dead: 0 });
    expect(crm.deals.size).toBe(30);
    expect((await breaker.status()).state).toBe('closed');
    expect(failedCalls).toBeLessThan(30);
  });

  it('admits one probe at a time when half-open', async () => {
    t = await openTestHub(testConfig({
      connections: { crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } }, shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'x' } } },
      pipelines: {},
    }));
    const b = new CircuitBreaker(t.hub.redis, t.hub.config.redis.prefix, 'crm', { threshold: 2, cooldownMs: 1000, maxCooldownMs: 4000 });
    const now = Date.now();
    await b.recordFailure(now);
    expect((await b.recordFailure(now)).opened).toBe(true);
    expect(await b.admit(now + 10)).toMatchObject({ allowed: false });
    expect(await b.admit(now + 1001)).toEqual({ allowed: true, probe: true });
    expect(await b.admit(now + 1002)).toMatchObject({ allowed: false });
    expect(await b.recordFailure(now + 1003)).toEqual({ opened: true, cooldownMs: 2000 });
    expect((await b.status(now + 1004)).state).toBe('open');
    expect(await b.recordSuccess()).toBe(true);
    expect((await b.status()).state).toBe('closed');
  });
});
