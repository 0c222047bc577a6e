import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { buildConfig } from '../../src/config/load.js';
import { startRun } from '../../src/jobs/pull.js';
import { demoSummary, shopStatus } from '../../src/sandbox/demo-summary.js';
import { startDemoSandbox } from '../../src/sandbox/demo.js';
import { PaymentFeed, paymentStory, type PaymentStory } from '../../src/sandbox/payment-feed.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { eventually, openTestHub, quietLogger, TEST_KEYS, testRedisUrl, type TestHub } from '../helpers/hub.js';

/**
 * The demo's payment sandboxes against config/demo.yaml itself (on the suite's Redis): Stripe- and
 * Alipay-shaped providers post signed results for 20 orders awaiting payment, one of each story of
 * the feed's cycle, and each order ends where its story says in the shop and in the CRM.
 */
const SHOP_STATUS: Record<PaymentStory, string> = {
  paid: 'paid', 'paid, delivered twice': 'paid', declined: 'awaiting payment', refunded: 'refunded', 'partly refunded': 'partly refunded',
  'refunded in two parts': 'refunded', 'refund before its success': 'refunded', cancelled: 'cancelled',
};
const DEAL_STAGE: Record<PaymentStory, string> = {
  paid: 'closedwon', 'paid, delivered twice': 'closedwon', declined: 'contractsent', refunded: 'closedlost', 'partly refunded': 'closedwon',
  'refunded in two parts': 'closedlost', 'refund before its success': 'closedlost', cancelled: 'closedlost',
};
const ORDERS = 20;

describe('the demo: payment results move orders in the shop and the CRM', () => {
  let sandbox: Awaited<ReturnType<typeof startDemoSandbox>>;
  let t: TestHub;
  let server: RunningServer;

  beforeAll(async () => {
    sandbox = await startDemoSandbox(quietLogger, { customers: 5, orders: 0 });
    const raw = YAML.parse(readFileSync(path.resolve('config/demo.yaml'), 'utf8'));
    raw.redis = { url: testRedisUrl(), prefix: `synchub-demo-${randomUUID().slice(0, 8)}` };
    raw.jobs = { lockDurationMs: 2000, stalledIntervalMs: 1000, backoffMs: 50 };
    const config = buildConfig(raw, path.resolve('config/demo.yaml'), { env: { ...process.env, SYNCHUB_KEYS: TEST_KEYS, SYNCHUB_ADMIN_TOKEN: '', PORT: '0' } });
    t = await openTestHub(config);
    t.startWorkers();
    server = await startServer(t.hub, { port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
    sandbox?.stop();
  });

  it('paid, declined, refunded in full or in part, cancelled; duplicates and a refund before its success change nothing twice', async () => {
    for (let i = 0; i < ORDERS; i++) sandbox.shop.addOrder(new Date(), { financialStatus: 'pending' });
    const { shop, crm } = sandbox;
    await startRun(t.hub, 'shop-orders-to-crm', true);
    await eventually(() => crm.objects.deals.size === ORDERS);
    expect([...crm.objects.deals.values()].every((d) => d.properties.dealstage === 'contractsent')).toBe(true);

    const feed = new PaymentFeed(shop, sandbox.stripe, sandbox.alipay, {
      stripeUrl: `http://127.0.0.1:${server.port}/webhooks/stripe`, alipayUrl: `http://127.0.0.1:${server.port}/webhooks/alipay`,
      stripeSecret: process.env.SANDBOX_STRIPE_WEBHOOK_SECRET!,
    }, quietLogger);
    for (let i = 0; i < ORDERS; i++) expect(await feed.tick()).toBe(true);
    expect(await feed.tick()).toBe(false);
    expect(feed.counts.refused).toBe(0);
    expect(feed.counts.stripe).toBeGreaterThan(0);
    expect(feed.counts.alipay).toBeGreaterThan(0);

    const orders = shop.orders as Record<string, any>[];
    const expected = orders.map((o, n) => ({ o, ...paymentStory(n) }));
    const deal = (number: string) => [...crm.objects.deals.values()].find((d) => d.properties.synchub_order_number === number);
    const wrong = () => expected.filter(({ o, story }) => shopStatus(o) !== SHOP_STATUS[story] || deal(String(o.order_number))?.properties.dealstage !== DEAL_STAGE[story]);
    await eventually(() => wrong().length === 0, 30_000).catch(() => {
      throw new Error(`not where their story says: ${wrong().map(({ o, story, provider }) => `#${o.order_number} ${provider} ${story}: shop ${shopStatus(o)}, CRM ${deal(String(o.order_number))?.properties.dealstage}`).join('; ')}`);
    });

    // Both providers and every story took part.
    expect(new Set(expected.map((e) => e.provider))).toEqual(new Set(['stripe', 'alipay']));
    expect(new Set(expected.map((e) => e.story)).size).toBe(8);
    // Each order paid once in the shop (a duplicate delivery or a refund before its success pays nothing twice) …
    const everPaid = expected.filter((e) => !['declined', 'cancelled'].includes(e.story)).length;
    expect(shop.writes.counts.markAsPaid).toBe(everPaid);
    expect(shop.writes.counts.cancel).toBe(expected.filter((e) => e.story === 'cancelled').length);
    // … through the GraphQL Admin API, the connection's default: every write was a mutation, none a REST call.
    expect(shop.graphql.mutations.counts).toMatchObject({
      orderMarkAsPaid: shop.writes.counts.markAsPaid, orderCancel: shop.writes.counts.cancel, refundCreate: shop.writes.counts.refund,
    });
    expect(shop.graphql.mutations.counts.tagsAdd).toBe(expected.filter((e) => e.story === 'declined').length);
    // … refunded to the cent of what the provider refunded, and a declined order says why in the shop.
    const refundedCents = (o: Record<string, any>) => (o.refunds ?? []).flatMap((r: any) => r.transactions).reduce((s: number, x: any) => s + Math.round(Number(x.amount) * 100), 0);
    for (const { o, story } of expected) {
      const total = Math.round(Number(o.total_price) * 100);
      if (['refunded', 'refunded in two parts', 'refund before its success'].includes(story)) expect(refundedCents(o)).toBe(total);
      else if (story === 'partly refunded') expect(refundedCents(o)).toBe(Math.floor(total / 2));
      else expect(refundedCents(o)).toBe(0);
      if (story === 'declined') expect(o.tags).toContain('payment-failed');
    }
    // The live summary counts what happened, and nothing was dead-lettered.
    const summary = await demoSummary(t.hub, { shop, crm, payments: feed });
    expect(summary).toContain(`orders synced to the CRM ${ORDERS}`);
    expect(summary).toMatch(/shop: .*\d+ paid.*/);
    expect(summary).toContain('dead letters 0');
    expect(summary).not.toMatch(/@example\.com/);
  });

  it('an Alipay payment whose notification never came is found by the scheduled reconciliation (alipay.trade.query)', async () => {
    const { shop, crm, alipay } = sandbox;
    const o = shop.addOrder(new Date(Date.now() - 10 * 60_000), { financialStatus: 'pending' }) as Record<string, any>;
    await startRun(t.hub, 'shop-orders-to-crm', true);
    const deal = () => [...crm.objects.deals.values()].find((d) => d.properties.synchub_order_number === String(o.order_number));
    await eventually(() => deal()?.properties.dealstage === 'contractsent');
    alipay.succeed({ number: String(o.order_number), total: o.total_price, currency: o.currency }); // paid at Alipay, the notification lost
    const asked = alipay.queries;
    await startRun(t.hub, 'alipay-payments', false);
    await eventually(() => shopStatus(o) === 'paid' && deal()?.properties.dealstage === 'closedwon');
    expect(alipay.queries).toBeGreaterThan(asked);
    expect((await t.hub.store.pipelineStats('alipay-payments')).dead).toBe(0);
  });
});
