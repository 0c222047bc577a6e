import { describe, expect, it } from 'vitest';
import { approvalGate, approvalSources, canMoveApproval, canTransition, decideTransition } from '../../src/core/lifecycle.js';

describe('order lifecycle', () => {
  it.each([
    ['pending_payment', 'paid', true], ['paid', 'shipped', true], ['shipped', 'completed', true],
    ['paid', 'refunded', true], ['completed', 'partially_refunded', true], ['partially_refunded', 'refunded', true],
    ['pending_payment', 'cancelled', true],
    ['paid', 'pending_payment', false], ['refunded', 'paid', false], ['cancelled', 'paid', false],
    ['completed', 'shipped', false], ['shipped', 'paid', false], ['refunded', 'partially_refunded', false],
  ] as const)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
  });

  it('never moves an order back for an older event', () => {
    const current = { status: 'shipped' as const, at: '2025-01-02T00:00:00Z' };
    expect(decideTransition(current, 'completed', '2025-01-01T00:00:00Z')).toEqual({ apply: false, status: 'shipped', reason: 'stale_event' });
    expect(decideTransition(current, 'completed', '2025-01-03T00:00:00Z')).toEqual({ apply: true, status: 'completed' });
    expect(decideTransition({ status: 'refunded', at: '2025-01-01T00:00:00Z' }, 'paid', '2025-01-05T00:00:00Z')).toEqual({ apply: false, status: 'refunded', reason: 'transition_refused' });
    expect(decideTransition(null, 'paid', '2025-01-01T00:00:00Z')).toEqual({ apply: true, status: 'paid' });
  });
});

describe('approval step of the lifecycle', () => {
  it.each([
    [null, 'awaiting_approval', true], [null, 'approved', false], [null, 'rejected', false],
    ['awaiting_approval', 'approved', true], ['awaiting_approval', 'rejected', true], ['awaiting_approval', 'escalated', true],
    ['escalated', 'approved', true], ['escalated', 'rejected', true], ['escalated', 'awaiting_approval', false],
    ['approved', 'rejected', false], ['rejected', 'approved', false], ['approved', 'awaiting_approval', false], ['rejected', 'awaiting_approval', false],
  ] as const)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canMoveApproval(from, to)).toBe(allowed);
  });

  it('a held order goes nowhere whatever its source says; only approval lets it through, rejection keeps it out', () => {
    expect(approvalGate('awaiting_approval')).toBe('hold');
    expect(approvalGate('escalated')).toBe('hold');
    expect(approvalGate('approved')).toBe('pass');
    expect(approvalGate('rejected')).toBe('drop');
    expect(approvalGate(null)).toBe('pass');
    expect(approvalSources('approved').sort()).toEqual(['awaiting_approval', 'escalated']);
    expect(approvalSources('escalated')).toEqual(['awaiting_approval']);
  });
});
