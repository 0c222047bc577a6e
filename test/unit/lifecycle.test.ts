import { describe, expect, it } from 'vitest';
import { canTransition, decideTransition } from '../../src/core/lifecycle.js';

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
