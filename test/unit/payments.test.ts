import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OrderStatus } from '../../src/core/canonical/schemas.js';
import type { CanonicalOrder } from '../../src/core/canonical/schemas.js';
import { combineStatus, ledgerEffect, type PaymentFact } from '../../src/core/payments.js';
import { withPayments } from '../../src/jobs/payments.js';

const ORDER = { total: '100.00', currency: 'USD' };
const fact = (status: PaymentFact['status'], extra: Partial<PaymentFact> = {}): PaymentFact => ({
  paymentId: 'stripe:pi_1', provider: 'stripe', status, amount: '100.00', currency: 'USD', occurredAt: '2025-03-01T10:00:00.000Z', ...extra,
});

describe('payment results → order state', () => {
  it.each<[string, PaymentFact[], OrderStatus | null, Record<string, unknown>]>([
    ['no payment yet', [], null, {}],
    ['pending', [fact('pending')], null, {}],
    ['succeeded → paid', [fact('succeeded')], 'paid', { paymentCheck: { result: 'match', expected: '100.00', received: '100.00', currency: 'USD' }, paidAt: '2025-03-01T10:00:00.000Z' }],
    ['failed → stays pending, failure recorded', [fact('failed', { failureCode: 'card_declined', failureReason: 'Your card was declined.' })], null, { paymentFailure: { code: 'card_declined', reason: 'Your card was declined.', at: '2025-03-01T10:00:00.000Z' } }],
    ['failed then succeeded → paid, no failure', [fact('failed', { paymentId: 'stripe:pi_0' }), fact('succeeded')], 'paid', { paymentFailure: undefined }],
    ['refunded in full → refunded', [fact('succeeded'), fact('refunded', { refundedAmount: '100.00' })], 'refunded', { refundedAmount: '100.00' }],
    ['refunded in part → partially_refunded with the amount', [fact('succeeded'), fact('partially_refunded', { refundedAmount: '30.00' })], 'partially_refunded', { refundedAmount: '30.00' }],
    ['two partial refunds: the larger cumulative amount counts', [fact('succeeded'), fact('partially_refunded', { refundedAmount: '30.00' }), fact('partially_refunded', { refundedAmount: '45.50' })], 'partially_refunded', { refundedAmount: '45.50' }],
    ['partial refunds reaching the total → refunded', [fact('succeeded'), fact('partially_refunded', { refundedAmount: '100.00' })], 'refunded', {}],
    ['cancelled, never paid → cancelled', [fact('cancelled')], 'cancelled', {}],
    ['cancelled after a success → paid stays', [fact('succeeded'), fact('cancelled', { paymentId: 'stripe:pi_2' })], 'paid', {}],
    ['underpaid → stays pending, mismatch recorded', [fact('succeeded', { amount: '99.99' })], null, { paymentCheck: { result: 'underpaid', expected: '100.00', received: '99.99', currency: 'USD' } }],
    ['overpaid → paid, mismatch recorded', [fact('succeeded', { amount: '100.01' })], 'paid', { paymentCheck: { result: 'overpaid', expected: '100.00', received: '100.01', currency: 'USD' } }],
    ['another currency → not paid, mismatch recorded', [fact('succeeded', { currency: 'EUR' })], null, { paymentCheck: { result: 'currency_mismatch', expected: '100.00', received: '0', currency: 'USD' } }],
    ['refunds reported one by one (refundId) add up', [fact('succeeded'), fact('partially_refunded', { refundId: 'r1', refundedAmount: '5.00' }), fact('partially_refunded', { refundId: 'r2', refundedAmount: '3.00' })], 'partially_refunded', { refundedAmount: '8.00' }],
    ['split payment adding up to the total → paid', [fact('succeeded', { amount: '60.00' }), fact('succeeded', { paymentId: 'stripe:pi_2', amount: '40.00' })], 'paid', {}],
  ])('%s', (_name, facts, status, extra) => {
    const e = ledgerEffect(facts, ORDER);
    expect(e.status).toBe(status);
    for (const [k, v] of Object.entries(extra)) expect((e as unknown as Record<string, unknown>)[k]).toEqual(v);
  });

  it.each<[OrderStatus, OrderStatus | null, OrderStatus]>([
    ['pending_payment', 'paid', 'paid'], ['pending_payment', null, 'pending_payment'], ['pending_payment', 'cancelled', 'cancelled'],
    ['shipped', 'paid', 'shipped'], ['completed', 'paid', 'completed'], ['shipped', 'refunded', 'refunded'],
    ['paid', 'cancelled', 'paid'], ['cancelled', 'paid', 'cancelled'], ['cancelled', 'refunded', 'refunded'],
    ['refunded', 'paid', 'refunded'], ['partially_refunded', 'paid', 'partially_refunded'], ['paid', 'partially_refunded', 'partially_refunded'],
  ])('order %s with payments saying %s → %s', (base, derived, expected) => {
    expect(combineStatus(base, derived)).toBe(expected);
  });

  it('any order and duplication of the same payment events ends in the same state', () => {
    const events = fc.constantFrom<PaymentFact>(
      fact('pending'),
      fact('failed', { paymentId: 'stripe:pi_0', failureCode: 'card_declined', occurredAt: '2025-03-01T09:00:00.000Z' }),
      fact('succeeded'),
      fact('partially_refunded', { refundedAmount: '20.00', occurredAt: '2025-03-02T10:00:00.000Z' }),
      fact('partially_refunded', { refundedAmount: '35.00', occurredAt: '2025-03-03T10:00:00.000Z' }),
      fact('refunded', { refundedAmount: '100.00', occurredAt: '2025-03-04T10:00:00.000Z' }),
      fact('cancelled', { paymentId: 'stripe:pi_9', occurredAt: '2025-03-01T08:00:00.000Z' }),
    );
    fc.assert(fc.property(fc.array(events, { minLength: 1, maxLength: 12 }), fc.constantFrom<OrderStatus>('pending_payment', 'paid', 'shipped'), (list, base) => {
      const shuffled = [...list].reverse();
      const doubled = [...list, ...list.slice(0, Math.ceil(list.length / 2))];
      const a = ledgerEffect(dedupe(list), ORDER);
      for (const other of [shuffled, doubled]) {
        const b = ledgerEffect(dedupe(other), ORDER);
        expect(combineStatus(base, b.status)).toBe(combineStatus(base, a.status));
        expect(b.refundedAmount).toBe(a.refundedAmount);
        expect(b.paymentCheck).toEqual(a.paymentCheck);
      }
    }), { numRuns: 500 });
  });
});

describe('an order with its payments laid over it', () => {
  const order: CanonicalOrder = {
    externalId: '1', orderNumber: '1001', status: 'paid', currency: 'USD', total: '100.00', lineItems: [],
    createdAt: '2025-03-01T08:00:00.000Z', updatedAt: '2025-03-01T08:00:00.000Z', paidAt: '2025-03-01T08:01:00.000Z',
  } as unknown as CanonicalOrder;

  it('is paid at the first success of its payments, not when its own system says (Shopify processed_at)', () => {
    const facts = [fact('refunded', { refundedAmount: '100.00', occurredAt: '2025-03-02T09:00:00.000Z' }), fact('succeeded', { occurredAt: '2025-03-01T10:09:20.000Z' })];
    expect(withPayments(order, ledgerEffect(facts, order)).paidAt).toBe('2025-03-01T10:09:20.000Z');
    expect(withPayments(order, ledgerEffect([...facts].reverse(), order)).paidAt).toBe('2025-03-01T10:09:20.000Z');
  });

  it('keeps its own paid time when no payment says it is paid', () => {
    expect(withPayments(order, ledgerEffect([fact('failed')], order)).paidAt).toBe('2025-03-01T08:01:00.000Z');
  });
});

/** The ledger keeps each fact once (a duplicate is the same Redis hash field). */
function dedupe(facts: PaymentFact[]): PaymentFact[] {
  return [...new Map(facts.map((f) => [`${f.paymentId}|${f.status}|${f.refundedAmount ?? ''}|${f.refundId ?? ''}`, f])).values()];
}
