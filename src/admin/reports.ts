import type { Hub } from '../jobs/hub.js';
import { factKey, type OrderFact, type PaymentFact } from '../jobs/order-events.js';
import { currencyExponent, fromMinorUnits, toMinorUnits } from '../core/money.js';
import { SynchubError } from '../core/errors.js';

/**
 * Order and payment figures over the records the hub has applied (the facts
 * recorded by jobs/order-events.ts), per pipeline and per day of the order's
 * creation (payments: of the payment). Amounts are exact decimals per currency.
 */
export interface CurrencyFigures { count: number; total: string; average: string }
export interface Figures {
  orders: { count: number; byCurrency: Record<string, CurrencyFigures> };
  payments: { succeeded: number; failed: number; successRate: number | null };
  createdToPaid: { count: number; medianSeconds: number | null; p95Seconds: number | null };
}

export const MAX_REPORT_DAYS = 366;
const PAID_STATUSES = new Set(['paid', 'shipped', 'completed', 'partially_refunded', 'refunded']);
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

class Accumulator {
  count = 0;
  minor = new Map<string, { count: number; total: bigint }>();
  succeeded = 0;
  failed = 0;
  paidSeconds: number[] = [];

  addOrder(f: OrderFact, paidAt: string | undefined) {
    this.count++;
    currencyExponent(f.currency);
    const c = this.minor.get(f.currency) ?? { count: 0, total: 0n };
    c.count++;
    c.total += toMinorUnits(f.total, f.currency);
    this.minor.set(f.currency, c);
    if (paidAt) {
      const s = (Date.parse(paidAt) - Date.parse(f.createdAt)) / 1000;
      if (Number.isFinite(s) && s >= 0) this.paidSeconds.push(s);
    }
  }

  addPayment(ok: boolean | undefined) {
    if (ok === true) this.succeeded++;
    else if (ok === false) this.failed++;
  }

  merge(o: Accumulator) {
    this.count += o.count;
    for (const [cur, v] of o.minor) {
      const c = this.minor.get(cur) ?? { count: 0, total: 0n };
      c.count += v.count;
      c.total += v.total;
      this.minor.set(cur, c);
    }
    this.succeeded += o.succeeded;
    this.failed += o.failed;
    this.paidSeconds.push(...o.paidSeconds);
  }

  figures(): Figures {
    const byCurrency: Record<string, CurrencyFigures> = {};
    for (const [cur, v] of [...this.minor].sort(([a], [b]) => a.localeCompare(b))) {
      byCurrency[cur] = { count: v.count, total: fromMinorUnits(v.total, cur), average: average(v.total, v.count, cur) };
    }
    const tried = this.succeeded + this.failed;
    const sorted = [...this.paidSeconds].sort((a, b) => a - b);
    return {
      orders: { count: this.count, byCurrency },
      payments: { succeeded: this.succeeded, failed: this.failed, successRate: tried ? Math.round((this.succeeded / tried) * 10_000) / 10_000 : null },
      createdToPaid: { count: sorted.length, medianSeconds: percentile(sorted, 50), p95Seconds: percentile(sorted, 95) },
    };
  }
}

async function readFacts<T>(hub: Hub, kind: 'order' | 'payment', pipeline: string, day: string): Promise<T[]> {
  const h = await hub.redis.hgetall(factKey(hub, kind, pipeline, day));
  return Object.values(h).map((v) => JSON.parse(v) as T);
}

export async function orderReport(hub: Hub, opts: { from: string; to: string; pipeline?: string }) {
  const range = days(opts.from, opts.to);
  const all = [...hub.config.pipelines.values()].filter((p) => p.source.entity === 'order' || p.source.entity === 'payment');
  if (opts.pipeline && !hub.config.pipelines.has(opts.pipeline)) throw new SynchubError('not_found', `no pipeline named ${opts.pipeline}`);
  const chosen = opts.pipeline ? all.filter((p) => p.name === opts.pipeline) : all;

  // Successful payments by order number (any payment pipeline, the range and a week after it), for created → paid.
  const paidByOrder = new Map<string, string>();
  const after = days(range[range.length - 1], new Date(Date.parse(`${range[range.length - 1]}T00:00:00Z`) + 7 * DAY).toISOString().slice(0, 10));
  for (const p of all.filter((x) => x.source.entity === 'payment')) {
    for (const day of [...range, ...after.slice(1)]) {
      for (const f of await readFacts<PaymentFact>(hub, 'payment', p.name, day)) {
        if (f.status !== 'succeeded') continue;
        const was = paidByOrder.get(f.orderNumber);
        if (!was || Date.parse(f.occurredAt) < Date.parse(was)) paidByOrder.set(f.orderNumber, f.occurredAt);
      }
    }
  }

  const pipelines = [];
  for (const p of chosen) {
    const total = new Accumulator();
    const perDay = [];
    for (const day of range) {
      const acc = new Accumulator();
      if (p.source.entity === 'order') {
        for (const f of await readFacts<OrderFact>(hub, 'order', p.name, day)) {
          acc.addOrder(f, f.paidAt ?? paidByOrder.get(f.orderNumber));
          // Without payment records, an order's own status says whether it was paid (or its payment failed).
          acc.addPayment(PAID_STATUSES.has(f.status) || f.paidAt || paidByOrder.has(f.orderNumber) ? true : f.paymentFailed ? false : undefined);
        }
      } else {
        for (const f of await readFacts<PaymentFact>(hub, 'payment', p.name, day)) acc.addPayment(f.status === 'succeeded' ? true : f.status === 'failed' ? false : undefined);
      }
      total.merge(acc);
      perDay.push({ day, ...acc.figures() });
    }
    pipelines.push({ pipeline: p.name, entity: p.source.entity, totals: total.figures(), days: perDay });
  }
  return { from: range[0], to: range[range.length - 1], pipelines };
}
