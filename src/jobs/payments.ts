import { createHash } from 'node:crypto';
import type { Pipeline } from '../config/load.js';
import type { CanonicalOrder, OrderStatus } from '../core/canonical/schemas.js';
import { openJson, openJsonBytes, sealJson } from '../core/crypto.js';
import { SynchubError, errorToJson } from '../core/errors.js';
import { combineStatus, factId, ledgerEffect, type LedgerEffect, type PaymentFact } from '../core/payments.js';
import type { Hub } from './hub.js';
import { INGEST_QUEUE } from './queues.js';

/**
 * Payment results applied to orders (a pipeline whose source entity is `payment` and
 * whose targets take `order`):
 *
 *   payment → find the order by its number → add the result to the order's ledger
 *   → the order's state from its own system combined with the ledger
 *   → hand the updated order on to every target
 *
 * A payment for an order the hub has not seen yet is parked, sealed, and applied
 * when the order arrives; after `jobs.orderWaitMs` it is dead-lettered with the
 * reason "order not found".
 */
export const SNAPSHOT_AAD = 'order-snapshot';
const PARKED_AAD = 'parked-payment';

export interface OrderUpdate { key: string; record: CanonicalOrder; version: number }

interface CanonicalPayment {
  externalId: string; provider: string; orderNumber: string; status: PaymentFact['status']; amount: string; currency: string;
  refundedAmount?: string; refundId?: string; failureCode?: string; failureReason?: string; occurredAt: string;
}

interface Parked { pipeline: string; raw: unknown; parkedAt: string }

/** One version scale for every push of an order: grows with the order's own updates and with each payment fact. */
export function orderVersion(order: { updatedAt: string }, effect?: LedgerEffect): number {
  const own = (Date.parse(order.updatedAt) || 0) * 1000;
  return Math.max(own, effect?.version ?? 0);
}

/**
 * The order as its own system says, with what its payments say laid over it. Paid at the
 * first success of its payments when they say it is paid, whatever its own system says
 * (Shopify's processed_at is when the checkout completed, not when a later payment came).
 */
export function withPayments(base: CanonicalOrder, effect: LedgerEffect): CanonicalOrder {
  const status: OrderStatus = combineStatus(base.status, effect.status);
  const out: CanonicalOrder = { ...base, status };
  if (effect.refundedAmount) out.refundedAmount = effect.refundedAmount;
  if (effect.paidAt) out.paidAt = effect.paidAt;
  if (effect.paymentFailure && status === 'pending_payment') out.paymentFailure = compactObject(effect.paymentFailure);
  if (effect.paymentCheck) out.paymentCheck = effect.paymentCheck;
  return out;
}

function compactObject<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function toFact(p: CanonicalPayment): PaymentFact {
  return compactObject({
    paymentId: `${p.provider}:${p.externalId}`, provider: p.provider, status: p.status, amount: p.amount, currency: p.currency,
    refundedAmount: p.refundedAmount, refundId: p.refundId, failureCode: p.failureCode, failureReason: p.failureReason, occurredAt: p.occurredAt,
  });
}

export type PaymentResult =
  | { kind: 'applied'; update: OrderUpdate }
  | { kind: 'parked' };

export async function applyPayment(hub: Hub, pipeline: Pipeline, payment: CanonicalPayment, raw: unknown): Promise<PaymentResult> {
  const { store, config } = hub;
  const orderKey = await store.orders.orderKeyByNumber(payment.orderNumber);
  const sealed = orderKey ? await store.orders.orderSnapshot(orderKey) : null;
  if (!orderKey || !sealed) {
    await park(hub, pipeline, payment, raw);
    return { kind: 'parked' };
  }
  const fact = toFact(payment);
  const all = await store.orders.addPaymentFacts(orderKey, [[factId(fact), JSON.stringify(fact)]]);
  const base = openJsonBytes<CanonicalOrder>(config.keyring, sealed, SNAPSHOT_AAD);
  const effect = ledgerEffect(all.map((f) => JSON.parse(f) as PaymentFact), base);
  const record = withPayments(base, effect);
  if (effect.paymentCheck && effect.paymentCheck.result !== 'match') {
    hub.logger.warn({ pipeline: pipeline.name, order: orderKey, check: effect.paymentCheck }, 'payments do not match the order total: recorded on the order');
  }
  return { kind: 'applied', update: { key: orderKey, record, version: orderVersion(base, effect) } };
}

async function park(hub: Hub, pipeline: Pipeline, payment: CanonicalPayment, raw: unknown): Promise<void> {
  const id = factId(toFact(payment));
  const value = sealJson(hub.config.keyring, { pipeline: pipeline.name, raw, parkedAt: new Date().toISOString() } satisfies Parked, PARKED_AAD);
  if (!(await hub.store.orders.parkPayment(payment.orderNumber, id, value))) return;
  hub.logger.info({ pipeline: pipeline.name, orderNumber: payment.orderNumber }, 'payment for an order not seen yet: kept until the order arrives');
  const jobId = `park.${createHash('sha256').update(`${payment.orderNumber}|${id}`).digest('hex').slice(0, 32)}`;
  await hub.ingestQueue.add('park-expire', { orderNumber: payment.orderNumber, id }, {
    jobId, delay: hub.config.jobs.orderWaitMs, attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 },
  });
}

/** The order has arrived: re-run its parked payments through their pipelines (and so through the current mappings). */
export async function releaseParked(hub: Hub, orderNumbers: string[], ingest: (pipeline: Pipeline, raw: unknown, base: string) => Promise<unknown>): Promise<number> {
  let released = 0;
  for (const orderNumber of orderNumbers) {
    const parked = await hub.store.orders.parkedPayments(orderNumber);
    const ids = Object.keys(parked);
    if (!ids.length) continue;
    for (const id of ids) {
      const p = openJson<Parked>(hub.config.keyring, parked[id], PARKED_AAD);
      const pipeline = hub.config.pipelines.get(p.pipeline);
      if (pipeline) await ingest(pipeline, p.raw, `parked.${createHash('sha256').update(`${orderNumber}|${id}`).digest('hex').slice(0, 24)}`);
      released++;
    }
    await hub.store.orders.unparkPayments(orderNumber, ids);
  }
  return released;
}

/** The wait is over and the order never came: dead-letter the payment, replayable once the order exists. */
export async function expireParked(hub: Hub, data: { orderNumber: string; id: string }): Promise<boolean> {
  const parked = await hub.store.orders.parkedPayments(data.orderNumber);
  const value = parked[data.id];
  if (!value) return false;
  const p = openJson<Parked>(hub.config.keyring, value, PARKED_AAD);
  const pipeline = hub.config.pipelines.get(p.pipeline);
  const tx = hub.store.tx();
  hub.store.addDeadLetter(tx, {
    pipeline: p.pipeline, step: 'apply', connection: pipeline?.source.connection ?? '', entity: 'payment', key: undefined,
    target: undefined, error: errorToJson(new SynchubError('order_not_found', `order not found: no order numbered ${data.orderNumber} arrived within ${Math.round(hub.config.jobs.orderWaitMs / 60000)} min of the payment`)),
    attempts: 1, source: sealJson(hub.config.keyring, p.raw, 'source'), runId: undefined,
  }, `park.${data.id}`.replace(/[^A-Za-z0-9._>-]/g, '_'));
  await tx.exec();
  await hub.store.orders.unparkPayments(data.orderNumber, [data.id]);
  hub.logger.warn({ pipeline: p.pipeline, orderNumber: data.orderNumber }, 'payment dead-lettered: its order never arrived');
  return true;
}

export { INGEST_QUEUE };
