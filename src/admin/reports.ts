import type { Hub } from '../jobs/hub.js';
import { FACT_RETENTION_SECONDS, factKey, mergePaymentFacts, orderFactKeys, paymentFactsKey, type LegacyPaymentFact, type OrderFact } from '../jobs/order-events.js';
import { currencyExponent, fromMinorUnits, toMinorUnits } from '../core/money.js';
import { scanKeys } from '../state/redis-client.js';
import { SynchubError } from '../core/errors.js';

/**
 * Order and payment figures over the records the hub has applied (the facts
 * recorded by jobs/order-events.ts), per pipeline and per day: orders by the day
 * of their creation; payments by the day of each one's first success, first refund
 * and first failure. Every figure is a function of the set of facts, whatever the
 * order and the duplicates they came in. Amounts are exact decimals per currency.
 */
export interface CurrencyFigures { count: number; total: string; average: string }
export interface OrderFigures { count: number; byCurrency: Record<string, CurrencyFigures> }
export interface Figures {
  orders: OrderFigures & {
    /**
     * The same orders split by order type: customerType new / returning (unknown: no customer, or
     * recorded before order types), recurring true / false.
     */
    byCustomerType: Record<'new' | 'returning' | 'unknown', OrderFigures>;
    byRecurring: Record<'true' | 'false', OrderFigures>;
    /** By the customer's current segment (customer segments configured; `none`: no customer or not computed yet). */
    bySegment?: Record<string, OrderFigures>;
  };
  /**
   * Payment pipelines: payments that succeeded (refunded since or not), that were refunded (in
   * full or in part), that failed and never succeeded; the rate is succeeded / (succeeded + failed).
   * Order pipelines: orders paid, refunded, whose payment failed (see orderReport).
   */
  payments: { succeeded: number; refunded: number; failed: number; successRate: number | null };
  createdToPaid: { count: number; medianSeconds: number | null; p95Seconds: number | null };
}

export const MAX_REPORT_DAYS = 366;
const PAID_STATUSES = new Set(['paid', 'shipped', 'completed', 'partially_refunded', 'refunded']);
const REFUNDED_STATUSES = new Set(['partially_refunded', 'refunded']);
/** Members per ZMSCORE. */
const CHUNK = 1000;
const DAY = 86_400_000;

function days(from: string, to: string): string[] {
  const a = Date.parse(`${from}T00:00:00Z`);
  const b = Date.parse(`${to}T00:00:00Z`);
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw new SynchubError('invalid_request', 'from and to must be dates (YYYY-MM-DD)');
  if (b < a) throw new SynchubError('invalid_request', 'to is before from');
  if ((b - a) / DAY + 1 > MAX_REPORT_DAYS) throw new SynchubError('invalid_request', `at most ${MAX_REPORT_DAYS} days per report`);
  const out: string[] = [];
  for (let t = a; t <= b; t += DAY) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/** Total / count rounded half-up to the currency's minor unit. */
function average(totalMinor: bigint, count: number, currency: string): string {
  if (count === 0) return fromMinorUnits(0n, currency);
  const n = BigInt(count);
  const neg = totalMinor < 0n;
  const abs = neg ? -totalMinor : totalMinor;
  const q = (abs * 2n + n) / (2n * n);
  return fromMinorUnits(neg ? -q : q, currency);
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Orders counted and summed per currency, exactly (minor units). */
class OrderTally {
  count = 0;
  minor = new Map<string, { count: number; total: bigint }>();

  add(f: OrderFact) {
    this.count++;
    currencyExponent(f.currency);
    const c = this.minor.get(f.currency) ?? { count: 0, total: 0n };
    c.count++;
    c.total += toMinorUnits(f.total, f.currency);
    this.minor.set(f.currency, c);
  }

  merge(o: OrderTally) {
    this.count += o.count;
    for (const [cur, v] of o.minor) {
      const c = this.minor.get(cur) ?? { count: 0, total: 0n };
      c.count += v.count;
      c.total += v.total;
      this.minor.set(cur, c);
    }
  }

  figures(): OrderFigures {
    const byCurrency: Record<string, CurrencyFigures> = {};
    for (const [cur, v] of [...this.minor].sort(([a], [b]) => a.localeCompare(b))) {
      byCurrency[cur] = { count: v.count, total: fromMinorUnits(v.total, cur), average: average(v.total, v.count, cur) };
    }
    return { count: this.count, byCurrency };
  }
}

const CUSTOMER_TYPES = ['new', 'returning', 'unknown'] as const;
const RECURRING = ['true', 'false'] as const;

/** Orders (a tally, split by order type and segment), payments and times to payment. */
class Accumulator {
  readonly orders = new OrderTally();
  byCustomerType = new Map<string, OrderTally>(CUSTOMER_TYPES.map((t) => [t, new OrderTally()]));
  byRecurring = new Map<string, OrderTally>(RECURRING.map((t) => [t, new OrderTally()]));
  bySegment?: Map<string, OrderTally>;

  constructor(private readonly segmentOf?: (f: OrderFact) => string) {
    if (segmentOf) this.bySegment = new Map();
  }
  succeeded = 0;
  refunded = 0;
  failed = 0;
  paidSeconds: number[] = [];

  addOrder(f: OrderFact, paidAt: string | undefined) {
    this.orders.add(f);
    this.byCustomerType.get(f.customerType ?? 'unknown')!.add(f);
    this.byRecurring.get(f.recurring ? 'true' : 'false')!.add(f);
    if (this.segmentOf && this.bySegment) {
      const seg = this.segmentOf(f);
      if (!this.bySegment.has(seg)) this.bySegment.set(seg, new OrderTally());
      this.bySegment.get(seg)!.add(f);
    }
    if (paidAt) {
      const s = (Date.parse(paidAt) - Date.parse(f.createdAt)) / 1000;
      if (Number.isFinite(s) && s >= 0) this.paidSeconds.push(s);
    }
  }

  addPayments(p: { succeeded?: number; refunded?: number; failed?: number }) {
    this.succeeded += p.succeeded ?? 0;
    this.refunded += p.refunded ?? 0;
    this.failed += p.failed ?? 0;
  }

  merge(o: Accumulator) {
    this.orders.merge(o.orders);
    for (const [t, tally] of o.byCustomerType) this.byCustomerType.get(t)!.merge(tally);
    for (const [t, tally] of o.byRecurring) this.byRecurring.get(t)!.merge(tally);
    if (this.bySegment && o.bySegment) {
      for (const [t, tally] of o.bySegment) {
        if (!this.bySegment.has(t)) this.bySegment.set(t, new OrderTally());
        this.bySegment.get(t)!.merge(tally);
      }
    }
    this.succeeded += o.succeeded;
    this.refunded += o.refunded;
    this.failed += o.failed;
    this.paidSeconds.push(...o.paidSeconds);
  }

  figures(): Figures {
    const tried = this.succeeded + this.failed;
    const sorted = [...this.paidSeconds].sort((a, b) => a - b);
    return {
      orders: {
        ...this.orders.figures(),
        byCustomerType: Object.fromEntries([...this.byCustomerType].map(([t, tally]) => [t, tally.figures()])) as Figures['orders']['byCustomerType'],
        byRecurring: Object.fromEntries([...this.byRecurring].map(([t, tally]) => [t, tally.figures()])) as Figures['orders']['byRecurring'],
        ...(this.bySegment ? { bySegment: Object.fromEntries([...this.bySegment].sort(([a], [b]) => a.localeCompare(b)).map(([t, tally]) => [t, tally.figures()])) } : {}),
      },
      payments: { succeeded: this.succeeded, refunded: this.refunded, failed: this.failed, successRate: tried ? Math.round((this.succeeded / tried) * 10_000) / 10_000 : null },
      createdToPaid: { count: sorted.length, medianSeconds: percentile(sorted, 50), p95Seconds: percentile(sorted, 95) },
    };
  }
}

/**
 * A day's order facts, from each group's hash (one HGETALL each, in parallel: one on one Redis).
 * On a cluster hub the hub tag's hash, written before the facts were sharded, is read first, so
 * an order whose fact was written again since counts once, as it now stands.
 */
async function readOrderFacts(hub: Hub, pipeline: string, day: string): Promise<OrderFact[]> {
  const hashes = await Promise.all(orderFactKeys(hub, pipeline, day).map((key) => hub.redis.hgetall(key)));
  const byOrder = new Map<string, string>();
  for (const h of hashes) for (const order in h) byOrder.set(order, h[order]);
  return [...byOrder.values()].map((v) => JSON.parse(v) as OrderFact);
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayStart = (day: string) => Date.parse(`${day}T00:00:00Z`);

/** ZMSCORE in chunks: each member's score, or null. */
async function scores(hub: Hub, key: string, members: string[]): Promise<(number | null)[]> {
  const out: (number | null)[] = [];
  for (let i = 0; i < members.length; i += CHUNK) {
    const got = await hub.redis.zmscore(key, ...members.slice(i, i + CHUNK));
    out.push(...got.map((v) => (v === null ? null : Number(v))));
  }
  return out;
}

/** Per day of the range, a payment pipeline's payments: first succeeded, first refunded, failed and never succeeded. */
async function paymentDays(hub: Hub, pipeline: string, range: string[]): Promise<Map<string, { succeeded: number; refunded: number; failed: number }>> {
  const lo = dayStart(range[0]);
  const hi = dayStart(range[range.length - 1]) + DAY;
  const read = (set: 'succeeded' | 'refunded' | 'failed') => hub.redis.zrangebyscore(paymentFactsKey(hub, pipeline, set), lo, `(${hi}`, 'WITHSCORES');
  const [succeeded, refunded, failed] = await Promise.all([read('succeeded'), read('refunded'), read('failed')]);
  const out = new Map<string, { succeeded: number; refunded: number; failed: number }>();
  const bump = (ms: number, what: 'succeeded' | 'refunded' | 'failed') => {
    const d = dayOf(ms);
    const v = out.get(d) ?? { succeeded: 0, refunded: 0, failed: 0 };
    v[what]++;
    out.set(d, v);
  };
  for (let i = 1; i < succeeded.length; i += 2) bump(Number(succeeded[i]), 'succeeded');
  for (let i = 1; i < refunded.length; i += 2) bump(Number(refunded[i]), 'refunded');
  // A failure counts only for a payment that never succeeded (at any time).
  const failedIds = failed.filter((_, i) => i % 2 === 0);
  const later = await scores(hub, paymentFactsKey(hub, pipeline, 'succeeded'), failedIds);
  failedIds.forEach((_, i) => {
    if (later[i] === null) bump(Number(failed[2 * i + 1]), 'failed');
  });
  return out;
}

const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
const isDay = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s);

/**
 * Payment facts kept by earlier versions (per day, the last result of each payment that day)
 * are merged into the payment facts once per pipeline, then deleted.
 */
async function foldLegacyPaymentFacts(hub: Hub, pipeline: string): Promise<void> {
  const done = paymentFactsKey(hub, pipeline, 'legacy-folded');
  if (await hub.redis.exists(done)) return;
  const base = `${factKey(hub, 'payment', pipeline, '')}`;
  for await (const keys of scanKeys(hub.redis, `${globEscape(base)}*`)) {
    const legacy = keys.filter((k) => isDay(k.slice(base.length)));
    for (const key of legacy) {
      const facts = Object.entries(await hub.redis.hgetall(key)).map(([id, v]) => ({ id, ...(JSON.parse(v) as LegacyPaymentFact) }));
      const tx = hub.redis.multi();
      mergePaymentFacts(hub, tx, pipeline, facts);
      tx.del(key);
      await tx.exec();
    }
  }
  await hub.redis.set(done, '1', 'EX', FACT_RETENTION_SECONDS);
}

export async function orderReport(hub: Hub, opts: { from: string; to: string; pipeline?: string }) {
  const range = days(opts.from, opts.to);
  const all = [...hub.config.pipelines.values()].filter((p) => p.source.entity === 'order' || p.source.entity === 'payment');
  if (opts.pipeline && !hub.config.pipelines.has(opts.pipeline)) throw new SynchubError('not_found', `no pipeline named ${opts.pipeline}`);
  const chosen = opts.pipeline ? all.filter((p) => p.name === opts.pipeline) : all;
  const paymentPipelines = all.filter((x) => x.source.entity === 'payment');
  for (const p of paymentPipelines) await foldLegacyPaymentFacts(hub, p.name);

  /** Per order number, the first success of a payment for it (any payment pipeline), for created → paid. */
  const firstPaid = async (orderNumbers: string[]) => {
    const out = new Map<string, number>();
    for (const p of paymentPipelines) {
      const got = await scores(hub, paymentFactsKey(hub, p.name, 'paid'), orderNumbers);
      got.forEach((at, i) => {
        if (at !== null && !(out.get(orderNumbers[i])! <= at)) out.set(orderNumbers[i], at);
      });
    }
    return out;
  };

  // Customers' current segments, read once for every fact that names a customer.
  const segments = new Map<string, string>();
  const segmentOf = hub.config.segments ? (f: OrderFact) => (f.customer && segments.get(f.customer)) || 'none' : undefined;
  const readSegments = async (facts: OrderFact[]) => {
    if (!segmentOf) return;
    const wanted = [...new Set(facts.flatMap((f) => (f.customer && !segments.has(f.customer) ? [f.customer] : [])))];
    const got = await hub.store.segments.segmentsOf(wanted);
    wanted.forEach((c, i) => segments.set(c, got[i] ?? 'none'));
  };

  const pipelines = [];
  for (const p of chosen) {
    const total = new Accumulator(segmentOf);
    const perDay = [];
    const payments = p.source.entity === 'payment' ? await paymentDays(hub, p.name, range) : undefined;
    for (const day of range) {
      const acc = new Accumulator(segmentOf);
      if (!payments) {
        const facts = await readOrderFacts(hub, p.name, day);
        await readSegments(facts);
        const paid = await firstPaid([...new Set(facts.map((f) => f.orderNumber))]);
        for (const f of facts) {
          // Paid at the first success of its payments; without payment records, when its own system says.
          const at = paid.get(f.orderNumber);
          acc.addOrder(f, at !== undefined ? new Date(at).toISOString() : f.paidAt);
          // Without payment records, an order's own status says whether it was paid (or its payment failed).
          const ok = PAID_STATUSES.has(f.status) || f.paidAt !== undefined || at !== undefined;
          acc.addPayments({ succeeded: ok ? 1 : 0, refunded: REFUNDED_STATUSES.has(f.status) ? 1 : 0, failed: !ok && f.paymentFailed ? 1 : 0 });
        }
      } else acc.addPayments(payments.get(day) ?? {});
      total.merge(acc);
      perDay.push({ day, ...acc.figures() });
    }
    pipelines.push({ pipeline: p.name, entity: p.source.entity, totals: total.figures(), days: perDay });
  }
  return { from: range[0], to: range[range.length - 1], pipelines };
}

type OrderReport = Awaited<ReturnType<typeof orderReport>>;

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(v: string | number | null | undefined): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The order report as CSV, one row per pipeline, day (and `total` for the whole range),
 * dimension (all, customerType, recurring, segment), its value and currency, with the payment figures
 * on the `all` rows. Amounts are the report's exact decimals.
 */
export function orderReportCsv(report: OrderReport): string {
  const header = ['pipeline', 'entity', 'day', 'dimension', 'value', 'currency', 'orders', 'total', 'average', 'payments_succeeded', 'payments_refunded', 'payments_failed', 'created_to_paid_median_seconds'];
  const rows: (string | number | null)[][] = [header];
  const ordersRows = (base: (string | number)[], dimension: string, value: string, o: OrderFigures, tail: (string | number | null)[]) => {
    const currencies = Object.entries(o.byCurrency);
    if (!currencies.length) rows.push([...base, dimension, value, '', 0, '', '', ...tail]);
    for (const [cur, f] of currencies) rows.push([...base, dimension, value, cur, f.count, f.total, f.average, ...tail]);
  };
  for (const p of report.pipelines) {
    for (const d of [...p.days, { day: 'total', ...p.totals }]) {
      const base = [p.pipeline, p.entity, d.day];
      ordersRows(base, 'all', '', d.orders, [d.payments.succeeded, d.payments.refunded, d.payments.failed, d.createdToPaid.medianSeconds]);
      if (p.entity !== 'order') continue;
      for (const [t, o] of Object.entries(d.orders.byCustomerType)) if (o.count) ordersRows(base, 'customerType', t, o, ['', '', '', '']);
      for (const [t, o] of Object.entries(d.orders.byRecurring)) if (o.count) ordersRows(base, 'recurring', t, o, ['', '', '', '']);
      for (const [t, o] of Object.entries(d.orders.bySegment ?? {})) if (o.count) ordersRows(base, 'segment', t, o, ['', '', '', '']);
    }
  }
  return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
