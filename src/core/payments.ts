import type { OrderStatus, PaymentStatus } from './canonical/schemas.js';
import { addAmounts, compareAmounts, toMinorUnits } from './money.js';

/**
 * How payment results move an order.
 *
 * Each payment result the hub accepts is kept as a fact in the order's ledger
 * (keyed by payment id and status, so a duplicate is the same fact). The order's
 * payment-derived state is a function of the *set* of facts, never of their
 * arrival order: a success that arrives after a refund does not bring the order
 * back to paid, a duplicate changes nothing, and any order or duplication of the
 * same events ends in the same state.
 */
export interface PaymentFact {
  paymentId: string;
  provider: string;
  status: PaymentStatus;
  amount: string;
  currency: string;
  /** Amount refunded: a running total per payment, or, with refundId, that one refund's amount. */
  refundedAmount?: string;
  refundId?: string;
  failureCode?: string;
  failureReason?: string;
  occurredAt: string;
}

export interface PaymentCheck {
  result: 'match' | 'underpaid' | 'overpaid' | 'currency_mismatch';
  expected: string;
  received: string;
  currency: string;
}

export interface LedgerEffect {
  /** Status the payments say, or null when they say nothing yet (pending, or only failures). */
  status: OrderStatus | null;
  refundedAmount?: string;
  paidAt?: string;
  paymentFailure?: { code?: string; reason?: string; at?: string };
  paymentCheck?: PaymentCheck;
  /** Monotone in the set of facts: a push carrying more facts always has a higher version. */
  version: number;
}

export function factId(f: Pick<PaymentFact, 'paymentId' | 'status' | 'refundedAmount' | 'refundId'>): string {
  return `${f.paymentId}|${f.status}|${f.refundedAmount ?? ''}|${f.refundId ?? ''}`;
}

export function ledgerEffect(facts: PaymentFact[], order: { total: string; currency: string }): LedgerEffect {
  const cur = order.currency;
  const maxTime = facts.reduce((m, f) => Math.max(m, Date.parse(f.occurredAt) || 0), 0);
  const version = maxTime * 1000 + Math.min(facts.length, 999);
  if (!facts.length) return { status: null, version };

  const byTime = [...facts].sort((a, b) => a.occurredAt.localeCompare(b.occurredAt) || factId(a).localeCompare(factId(b)));
  const succeeded = new Map<string, PaymentFact>();
  for (const f of byTime) if (['succeeded', 'refunded', 'partially_refunded'].includes(f.status)) succeeded.set(f.paymentId, succeeded.get(f.paymentId) ?? f);
  const sameCurrency = [...succeeded.values()].filter((f) => f.currency === cur);
  const paid = sameCurrency.length ? addAmounts(cur, ...sameCurrency.map((f) => f.amount)) : '0';
  const otherCurrency = succeeded.size > sameCurrency.length;

  // Refunds: per payment (or per refund, for providers that report each one) the largest amount seen, then summed.
  const refundedBy = new Map<string, string>();
  let fullRefund = false;
  for (const f of facts) {
    if (f.status !== 'refunded' && f.status !== 'partially_refunded') continue;
    if (f.currency !== cur) continue;
    const amount = f.refundedAmount ?? (f.status === 'refunded' ? f.amount : '0');
    const slot = f.refundId ? `${f.paymentId}|${f.refundId}` : f.paymentId;
    const prev = refundedBy.get(slot);
    if (!prev || compareAmounts(amount, prev, cur) > 0) refundedBy.set(slot, amount);
    if (f.status === 'refunded') fullRefund = true;
  }
  const refunded = refundedBy.size ? addAmounts(cur, ...refundedBy.values()) : '0';
  const hasRefund = toMinorUnits(refunded, cur) > 0n;

  let paymentCheck: PaymentCheck | undefined;
  if (succeeded.size) {
    const c = otherCurrency && !sameCurrency.length ? 'currency_mismatch' : compareAmounts(paid, order.total, cur) < 0 ? 'underpaid' : compareAmounts(paid, order.total, cur) > 0 ? 'overpaid' : otherCurrency ? 'currency_mismatch' : 'match';
    paymentCheck = { result: c, expected: order.total, received: paid, currency: cur };
  }
  const paidInFull = sameCurrency.length > 0 && compareAmounts(paid, order.total, cur) >= 0;
  const firstSuccess = [...succeeded.values()].sort((a, b) => a.occurredAt.localeCompare(b.occurredAt))[0];
  const lastFailure = [...byTime].reverse().find((f) => f.status === 'failed');

  let status: OrderStatus | null = null;
  if (fullRefund || (hasRefund && compareAmounts(refunded, paid, cur) >= 0 && sameCurrency.length)) status = 'refunded';
  else if (hasRefund) status = 'partially_refunded';
  else if (paidInFull) status = 'paid';
  else if (!succeeded.size && facts.some((f) => f.status === 'cancelled')) status = 'cancelled';

  return {
    status,
    version,
    refundedAmount: hasRefund ? refunded : undefined,
    paidAt: firstSuccess && paidInFull ? firstSuccess.occurredAt : undefined,
    paymentFailure: !paidInFull && lastFailure ? { code: lastFailure.failureCode, reason: lastFailure.failureReason, at: lastFailure.occurredAt } : undefined,
    paymentCheck,
  };
}

const RANK: Record<OrderStatus, number> = {
  pending_payment: 0, cancelled: 1, paid: 2, shipped: 3, completed: 4, partially_refunded: 5, refunded: 6,
};

/**
 * The order's status from its own system (`base`, already through the lifecycle
 * table) combined with what the payments say. Money facts move an order forward
 * (pending → paid → refunded), never back: a shipped order that a late payment
 * confirms stays shipped; a cancelled order stays cancelled unless it was refunded.
 */
export function combineStatus(base: OrderStatus, derived: OrderStatus | null): OrderStatus {
  if (!derived) return base;
  if (base === 'cancelled') return derived === 'refunded' || derived === 'partially_refunded' ? derived : 'cancelled';
  if (derived === 'cancelled') return base === 'pending_payment' ? 'cancelled' : base;
  return RANK[derived] > RANK[base] ? derived : base;
}
