import type { OrderStatus } from './canonical/schemas.js';

/**
 * The order lifecycle. A shop shows these as: awaiting payment (pending_payment),
 * awaiting shipment (paid), awaiting receipt (shipped), completed, cancelled;
 * refunded and partially_refunded follow a payment.
 *
 * ALLOWED[from] lists the states an order may move to. Anything else is a move
 * backwards (a late or replayed event) and is refused: the order keeps its state.
 */
const ALLOWED: Record<OrderStatus, readonly OrderStatus[]> = {
  pending_payment: ['paid', 'shipped', 'completed', 'cancelled'],
  paid: ['shipped', 'completed', 'refunded', 'partially_refunded', 'cancelled'],
  shipped: ['completed', 'refunded', 'partially_refunded'],
  completed: ['refunded', 'partially_refunded'],
  partially_refunded: ['partially_refunded', 'refunded', 'shipped', 'completed'],
  refunded: [],
  cancelled: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return from === to || ALLOWED[from].includes(to);
}

export interface LifecycleState {
  status: OrderStatus;
  /** ISO time of the newest event the hub has applied to this order. */
  at: string;
}

export type TransitionDecision =
  | { apply: true; status: OrderStatus }
  | { apply: false; status: OrderStatus; reason: 'stale_event' | 'transition_refused' };

/**
 * Decides what an incoming status does to an order the hub already knows.
 * An event older than the newest one applied never moves the order; a move the
 * table does not allow keeps the current state.
 */
export function decideTransition(current: LifecycleState | null, incoming: OrderStatus, eventAt: string): TransitionDecision {
  if (!current) return { apply: true, status: incoming };
  if (Date.parse(eventAt) < Date.parse(current.at)) return { apply: false, status: current.status, reason: 'stale_event' };
  if (!canTransition(current.status, incoming)) return { apply: false, status: current.status, reason: 'transition_refused' };
  return { apply: true, status: incoming };
}
