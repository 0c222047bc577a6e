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

/**
 * The approval step (src/operations/approval.ts) is the lifecycle's second dimension: an order a
 * pipeline's `approval.when` rule matches is held in `awaiting_approval` whatever status its
 * source gives it, and leaves only by a decision. Its source status goes on being tracked by
 * the table above, so an approved order is pushed as it stands then; but no event, however
 * late or early, moves a held order to its targets: only `approved` lets it through, and
 * `rejected` keeps it out for good.
 */
export type ApprovalState = 'awaiting_approval' | 'escalated' | 'approved' | 'rejected';

const APPROVAL_ALLOWED: Record<ApprovalState | 'none', readonly ApprovalState[]> = {
  none: ['awaiting_approval'],
  awaiting_approval: ['escalated', 'approved', 'rejected'],
  escalated: ['approved', 'rejected'],
  approved: [],
  rejected: [],
};

export function canMoveApproval(from: ApprovalState | null, to: ApprovalState): boolean {
  return APPROVAL_ALLOWED[from ?? 'none'].includes(to);
}

/** The states a decision or a timeout may move from to `to` (what the store's compare-and-set accepts). */
export function approvalSources(to: ApprovalState): ApprovalState[] {
  return (Object.keys(APPROVAL_ALLOWED) as (ApprovalState | 'none')[]).filter((s): s is ApprovalState => s !== 'none' && APPROVAL_ALLOWED[s].includes(to));
}

/** What an order event does with the approval step: pushed on, held back, or kept out. */
export function approvalGate(state: ApprovalState | null): 'pass' | 'hold' | 'drop' {
  if (state === 'awaiting_approval' || state === 'escalated') return 'hold';
  if (state === 'rejected') return 'drop';
  return 'pass';
}
