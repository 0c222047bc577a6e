/**
 * The order figures (GET /api/reports/orders) are a function of the set of payment facts,
 * like the order state: on real Redis, Shopify orders and Stripe results applied in any
 * order, with duplicates and refunds before their successes, give the same report, and
 * created → paid runs to the first payment success, not to the shop's processed_at.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { FACT_RETENTION_SECONDS, factKey, mergePaymentFacts } from '../../src/jobs/order-events.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { fixture, shopifyOrders } from '../helpers/mock-apis.js';
import { rsaKeys } from '../helpers/payment-signing.js';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const day = (ms: number) => iso(ms).slice(0, 10);

/** One order's payments (Stripe: a PaymentIntent per attempt; Alipay: one trade), times in seconds after the order's creation. */
interface Plan {
  provider: 'stripe' | 'alipay';
  /** Stripe: a first PaymentIntent that only failed (a declined card, then another card). */
  declined?: number;
  /** The payment that went through: (Stripe) an earlier failure on it, its success, and a refund. */
  failedFirst?: number;
  paidAfter: number;
  refund?: { after: number; full: boolean };
}

const plan = fc.record({
  provider: fc.constantFrom('stripe', 'alipay'),
  declined: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
  failedFirst: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
  paidAfter: fc.integer({ min: 100, max: 30_000 }),
  refund: fc.option(fc.record({ after: fc.integer({ min: 1, max: 2 * 86_400 }), full: fc.boolean() }), { nil: undefined }),
}) as fc.Arbitrary<Plan>;

describe('order figures as a function of the set of payment facts', () => {
  let t: TestHub;
  let api: ReturnType<typeof adminClient>;
  let run = 0;

  beforeAll(async () => {
    t = await openTestHub(testConfig({
      server: { adminToken: ADMIN_TOKEN },
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
        stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x', webhookSecret: 'whsec_x' } },
        ali: { connector: 'alipay', credentials: { appId: '2021000000000001', privateKey: rsaKeys().privatePem, alipayPublicKey: rsaKeys().publicPem } },
      },
      pipelines: {
        orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
        payments: { source: { connection: 'stripe', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }] },
        alipay: { source: { connection: 'ali', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }] },
      },
    }));
    api = adminClient(createApp(t.hub));
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Shopify orders paid in the shop, created at `created[i]`, with processed_at 60 s later (the order's date, not its payment's). */
  function shopOrders(first: number, created: number[], currency: (i: number) => string = () => 'USD') {
    return shopifyOrders(created.length, { startId: 7_000_000 + first }).map((o, i) => Object.assign(o, {
      order_number: first + i, name: `#${first + i}`, currency: currency(i), total_price: '20.00', subtotal_price: '20.00', total_tax: '0.00', total_discounts: '0.00',
      line_items: [], financial_status: 'paid', created_at: iso(created[i]), updated_at: iso(created[i]), processed_at: iso(created[i] + 60_000),
    }));
  }

  const pi = (id: string, orderNumber: number, extra: Record<string, unknown> = {}) => ({ ...fixture<Record<string, any>>('stripe/payment_intent.json'), id, amount: 2000, metadata: { order_number: String(orderNumber) }, ...extra });
  const event = (type: string, object: Record<string, unknown>, at: number) => ({ id: `evt_${type}_${String(object.id)}_${at}`, object: 'event', created: Math.floor(at / 1000), type, livemode: false, data: { object } });
  const failed = (id: string, orderNumber: number, at: number) => event('payment_intent.payment_failed', pi(id, orderNumber, { status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' } }), at);
  const succeeded = (id: string, orderNumber: number, at: number) => event('payment_intent.succeeded', pi(id, orderNumber), at);
  const refunded = (id: string, orderNumber: number, full: boolean, at: number) => event('charge.refunded', {
    ...fixture<Record<string, any>>('stripe/charge.json'), id: `ch_${id}`, amount: 2000, amount_refunded: full ? 2000 : 500, refunded: full, payment_intent: pi(id, orderNumber),
  }, at);

  /** Alipay's notification (times in Beijing time); TRADE_CLOSED with refund_fee after a full refund. */
  const bj = (ms: number) => iso(ms + 8 * 3600_000).slice(0, 19).replace('T', ' ');
  const alipay = (n: number, paid: number, refund?: { at: number; full: boolean }) => ({
    notify_time: bj(refund ? refund.at : paid), notify_id: `n-${n}-${refund ? 'r' : 's'}`, app_id: '2021000000000001', trade_no: `T${n}`, out_trade_no: String(n),
    trade_status: refund?.full ? 'TRADE_CLOSED' : 'TRADE_SUCCESS', total_amount: '20.00', gmt_payment: bj(paid),
    ...(refund ? { refund_fee: refund.full ? '20.00' : '5.00', gmt_refund: bj(refund.at), ...(refund.full ? { gmt_close: bj(refund.at) } : {}) } : {}),
  });

  /** The Stripe and Alipay results of the plans (each with its pipeline), and the figures they should give per pipeline. */
  function scenario(first: number, start: number, plans: Plan[]) {
    const created = plans.map((_, i) => start + i * 600_000);
    const events: { pipeline: 'payments' | 'alipay'; raw: Record<string, unknown> }[] = [];
    const figures = () => ({ succeeded: new Map<string, number>(), refunded: new Map<string, number>(), failed: new Map<string, number>() });
    const expected = { payments: figures(), alipay: figures(), paidSeconds: [] as number[] };
    const bump = (m: Map<string, number>, at: number) => m.set(day(at), (m.get(day(at)) ?? 0) + 1);
    plans.forEach((p, i) => {
      const n = first + i;
      const c = created[i];
      const paid = c + p.paidAfter * 1000;
      expected.paidSeconds.push(p.paidAfter);
      if (p.provider === 'alipay') {
        events.push({ pipeline: 'alipay', raw: alipay(n, paid) });
        bump(expected.alipay.succeeded, paid);
        if (p.refund) {
          events.push({ pipeline: 'alipay', raw: alipay(n, paid, { at: paid + p.refund.after * 1000, full: p.refund.full }) });
          bump(expected.alipay.refunded, paid + p.refund.after * 1000);
        }
        return;
      }
      const stripe = (raw: Record<string, unknown>) => events.push({ pipeline: 'payments', raw });
      const expect1 = expected.payments;
      if (p.declined !== undefined) {
        stripe(failed(`pi_${n}_a`, n, c + p.declined * 1000));
        bump(expect1.failed, c + p.declined * 1000);
      }
      if (p.failedFirst !== undefined) stripe(failed(`pi_${n}_b`, n, c + p.failedFirst * 1000));
      stripe(succeeded(`pi_${n}_b`, n, paid));
      bump(expect1.succeeded, paid);
      if (p.refund) {
        stripe(refunded(`pi_${n}_b`, n, p.refund.full, paid + p.refund.after * 1000));
        bump(expect1.refunded, paid + p.refund.after * 1000);
      }
    });
    return { created, events, expected };
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1];

  it('any order and duplication of the same Stripe and Alipay results gives the same figures, and the ones the payments say', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(plan, { minLength: 1, maxLength: 6 }).chain((plans) => {
        const events = scenario(0, 0, plans).events.length;
        return fc.tuple(
          fc.constant(plans),
          fc.shuffledSubarray([...Array(events).keys()], { minLength: events, maxLength: events }),
          fc.array(fc.nat(events - 1), { maxLength: events }),
          fc.nat(3),
        );
      }),
      async ([plans, order, dups, batch]) => {
        const r = run++;
        const first = 10_000 + r * 100;
        const start = Date.UTC(2025, 0, 1) + r * 5 * DAY;
        const { created, events, expected } = scenario(first, start, plans);
        await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, shopOrders(first, created, (i) => (plans[i].provider === 'alipay' ? 'CNY' : 'USD')));
        // Delivered shuffled, some twice, one or a few to a batch (a batch: consecutive results of one pipeline).
        const delivered = [...order, ...dups].map((i) => events[i]);
        for (let i = 0; i < delivered.length;) {
          const pipeline = delivered[i].pipeline;
          const raws: unknown[] = [];
          while (i < delivered.length && delivered[i].pipeline === pipeline && raws.length <= batch) raws.push(delivered[i++].raw);
          await ingestRecords(t.hub, t.hub.config.pipelines.get(pipeline)!, raws);
        }

        const from = day(start);
        const to = day(start + 4 * DAY);
        const res = await api.get(`/api/reports/orders?from=${from}&to=${to}`);
        expect(res.status).toBe(200);
        const byName = Object.fromEntries(res.body.pipelines.map((p: any) => [p.pipeline, p]));
        for (const name of ['payments', 'alipay'] as const) {
          const want = expected[name];
          for (const d of byName[name].days) {
            const s = want.succeeded.get(d.day) ?? 0;
            const f = want.failed.get(d.day) ?? 0;
            expect(d.payments, `${name} ${d.day}`).toEqual({ succeeded: s, refunded: want.refunded.get(d.day) ?? 0, failed: f, successRate: s + f ? Math.round((s / (s + f)) * 10_000) / 10_000 : null });
          }
        }
        expect(byName.orders.totals.orders.count).toBe(plans.length);
        expect(byName.orders.totals.createdToPaid).toMatchObject({ count: plans.length, medianSeconds: median(expected.paidSeconds) });
      },
    ), { numRuns: 60 });
  }, 120_000);

  it('created → paid runs to the first payment success, not to the shop\'s processed_at', async () => {
    const start = Date.UTC(2024, 5, 1, 10);
    const { created, events } = scenario(20_000, start, [{ provider: 'stripe', paidAfter: 7760, refund: { after: 3600, full: true } }, { provider: 'stripe', paidAfter: 7700 }]);
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, shopOrders(20_000, created));
    // The refund before its success, and the shop's update (processed_at 60 s after creation) after both.
    await ingestRecords(t.hub, t.hub.config.pipelines.get('payments')!, [events[1].raw]);
    await ingestRecords(t.hub, t.hub.config.pipelines.get('payments')!, [events[0].raw, events[2].raw]);
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, shopOrders(20_000, created).map((o) => ({ ...o, updated_at: iso(start + DAY) })));

    const res = await api.get(`/api/reports/orders?from=${day(start)}&to=${day(start)}`);
    const byName = Object.fromEntries(res.body.pipelines.map((p: any) => [p.pipeline, p]));
    expect(byName.orders.totals.createdToPaid).toEqual({ count: 2, medianSeconds: 7700, p95Seconds: 7760 });
    expect(byName.payments.totals.payments).toEqual({ succeeded: 2, refunded: 1, failed: 0, successRate: 1 });
  });

  it('reads the per-day payment facts of an earlier version once, merged with the new ones', async () => {
    const legacy = factKey(t.hub, 'payment', 'payments', '2023-03-01');
    const fact = (status: string, at: string) => JSON.stringify({ orderNumber: '30000', provider: 'stripe', status, amount: '20.00', currency: 'USD', occurredAt: at });
    await t.hub.redis.hset(legacy, 'stripe:pi_old1', fact('succeeded', '2023-03-01T10:00:00.000Z'), 'stripe:pi_old2', fact('refunded', '2023-03-01T12:00:00.000Z'), 'stripe:pi_old3', fact('failed', '2023-03-01T13:00:00.000Z'));
    // The same payment's success, as the new version records it, the day before: the earlier time counts.
    const tx = t.hub.redis.multi();
    mergePaymentFacts(t.hub, tx, 'payments', [{ id: 'stripe:pi_old2', orderNumber: '30001', status: 'succeeded', occurredAt: '2023-02-28T09:00:00.000Z' }]);
    await tx.exec();
    await t.hub.redis.del(`${t.hub.store.k('facts', 'payments', 'payments', 'legacy-folded')}`);

    const report = async () => (await api.get('/api/reports/orders?from=2023-02-28&to=2023-03-01&pipeline=payments')).body.pipelines[0].days.map((d: any) => d.payments);
    const expected = [
      { succeeded: 1, refunded: 0, failed: 0, successRate: 1 },
      { succeeded: 1, refunded: 1, failed: 1, successRate: 0.5 },
    ];
    expect(await report()).toEqual(expected);
    expect(await t.hub.redis.exists(legacy)).toBe(0);
    expect(await report()).toEqual(expected);
  });

  it('keeps a payment\'s facts 400 days after their last write', async () => {
    const write = async (now: number, id: string) => {
      const tx = t.hub.redis.multi();
      mergePaymentFacts(t.hub, tx, 'payments', [{ id, orderNumber: '40000', status: 'partially_refunded', occurredAt: '2022-06-01T10:00:00.000Z' }], now);
      await tx.exec();
    };
    const report = async () => (await api.get('/api/reports/orders?from=2022-06-01&to=2022-06-01&pipeline=payments')).body.pipelines[0].totals.payments;
    const t0 = Date.now();
    await write(t0, 'stripe:pi_quiet');
    await write(t0 + 1000, 'stripe:pi_busy');
    await write(t0 + FACT_RETENTION_SECONDS * 1000 - 1000, 'stripe:pi_busy');
    expect(await report()).toMatchObject({ succeeded: 2, refunded: 2 });
    // The quiet payment's last write is now more than 400 days old; the busy one's is not.
    await write(t0 + FACT_RETENTION_SECONDS * 1000 + 500, 'stripe:pi_busy');
    expect(await report()).toMatchObject({ succeeded: 1, refunded: 1 });
  });
});
