import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, SHOP_WEBHOOK_SECRET, testConfig, type TestHub } from '../helpers/hub.js';
import { loopbackOnly, numberedOrder, shopifyDelivery } from '../helpers/webhook-crm.js';

/**
 * A target's rate limit is kept as the target counts it: HubSpot counts calls in a rolling
 * window (its 429s name the policy TEN_SECONDLY_ROLLING), so the hub may send at most `max`
 * calls in any `perMs`, not `max` per fixed window (src/jobs/call-window.ts).
 */

const LIMIT = { max: 5, perMs: 1000 };

/** HubSpot's deals batch upsert, answering 429 as HubSpot does beyond LIMIT.max calls in the last LIMIT.perMs. */
function rollingHubspot() {
  const at: number[] = [];
  const deals = new Map<string, number>();
  let refused = 0;
  nock('https://api.hubapi.com').persist().post('/crm/objects/2026-09/deals/batch/upsert').reply(function (_uri, body: any) {
    const now = Date.now();
    if (at.filter((t) => t > now - LIMIT.perMs).length >= LIMIT.max) {
      refused++;
      return [429, { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' }, { 'retry-after': '1' }];
    }
    at.push(now);
    const stamp = new Date(now).toISOString();
    const results = body.inputs.map((input: any, i: number) => {
      deals.set(input.id, (deals.get(input.id) ?? 0) + 1);
      return { id: String(9000 + i), properties: input.properties, createdAt: stamp, updatedAt: stamp, archived: false };
    });
    return [200, { status: 'COMPLETE', results, startedAt: stamp, completedAt: stamp }];
  });
  return { at, deals, refused: () => refused };
}

describe('a target rate limit counted in a rolling window', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('24 orders pushed one call each under 5 calls/s: no call refused with 429, never more than 5 in any second, each deal once', async () => {
    const crm = rollingHubspot();
    t = await openTestHub(testConfig({
      jobs: { pushLingerMs: 0 },
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', credentials: { accessToken: 'shpat', webhookSecret: SHOP_WEBHOOK_SECRET } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, http: { rateLimit: LIMIT } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
    }));
    t.startWorkers();
    const app = createApp(t.hub);
    const orders = Array.from({ length: 24 }, (_, i) => numberedOrder(i + 1, { id: 8_000_000, number: 30_000 }));
    // In two bursts, the second as the first calls' window is about to end (where fixed windows let 2 × max through).
    for (const o of orders.slice(0, 12)) expect((await app.request('/webhooks/shop', shopifyDelivery(o, `wh-${o.id}`))).status).toBe(200);
    await eventually(() => crm.at.length >= 5);
    for (const o of orders.slice(12)) expect((await app.request('/webhooks/shop', shopifyDelivery(o, `wh-${o.id}`))).status).toBe(200);

    await eventually(() => crm.deals.size === 24, 30_000);
    expect(crm.refused()).toBe(0);
    expect([...crm.deals.values()].every((n) => n === 1)).toBe(true);
    // What the target saw: at most 5 calls in any window of 1 s.
    for (const start of crm.at) expect(crm.at.filter((x) => x >= start && x < start + LIMIT.perMs).length).toBeLessThanOrEqual(LIMIT.max);
  });
});
