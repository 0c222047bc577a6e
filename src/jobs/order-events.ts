import type { ChainableCommander } from 'ioredis';
import type { Pipeline } from '../config/load.js';
import type { CanonicalOrder, CanonicalPayment, OrderStatus } from '../core/canonical/schemas.js';
import { type NotifyJobData, type OrderEvent } from '../notify/types.js';
import type { Hub } from './hub.js';
import { jobId } from './queues.js';

/**
 * What the engine records about orders and payments as it applies them:
 * - facts: per pipeline and day, the figures of each order and payment (amounts,
 *   currency, status, times; no personal data) behind GET /api/reports/orders;
 * - events: order status changes and payment results, on a bounded Redis stream
 *   (GET /api/events) and to the pipeline's notification sinks.
 */
export const EVENT_STREAM_MAXLEN = 10_000;
/** Facts of a day are kept this long after their last write (reports reach back at most this far). */
export const FACT_RETENTION_SECONDS = 400 * 24 * 3600;

export interface OrderFact { orderNumber: string; currency: string; total: string; status: string; createdAt: string; paidAt?: string; paymentFailed?: boolean }
export interface PaymentFact { orderNumber: string; provider: string; status: string; amount: string; currency: string; occurredAt: string }

export interface AppliedOrder { key: string; order: CanonicalOrder; previous?: OrderStatus }

export const eventStreamKey = (hub: Hub) => hub.store.k('events');
export const factKey = (hub: Hub, kind: 'order' | 'payment', pipeline: string, day: string) => hub.store.k('facts', kind, pipeline, day);

/** Order records kept by the lifecycle: facts always, an event when the status changed. */
export function recordOrders(hub: Hub, tx: ChainableCommander, pipeline: Pipeline, applied: AppliedOrder[]): OrderEvent[] {
  const events: OrderEvent[] = [];
  for (const { key, order, previous } of applied) {
    const fact: OrderFact = { orderNumber: order.orderNumber, currency: order.currency, total: order.total, status: order.status, createdAt: order.createdAt, paidAt: order.paidAt, ...(order.paymentFailure ? { paymentFailed: true } : {}) };
    const day = factKey(hub, 'order', pipeline.name, order.createdAt.slice(0, 10));
    tx.hset(day, key, JSON.stringify(fact));
    tx.expire(day, FACT_RETENTION_SECONDS);
    if (previous === order.status) continue;
    events.push({
      id: `order:${key}:${order.status}:${order.updatedAt}`, type: 'order.status', pipeline: pipeline.name, at: order.updatedAt,
      order: { key, orderNumber: order.orderNumber, status: order.status, ...(previous ? { previousStatus: previous } : {}), currency: order.currency, total: order.total },
    });
  }
  return events;
}

/** Payment records: facts always, an event when the payment's status is new or changed. */
export async function recordPayments(hub: Hub, tx: ChainableCommander, pipeline: Pipeline, payments: CanonicalPayment[]): Promise<OrderEvent[]> {
  if (!payments.length) return [];
  const lastKey = hub.store.k('paystatus', pipeline.name);
  const last = await hub.redis.hmget(lastKey, ...payments.map((p) => p.externalId));
  const events: OrderEvent[] = [];
  payments.forEach((p, i) => {
    const fact: PaymentFact = { orderNumber: p.orderNumber, provider: p.provider, status: p.status, amount: p.amount, currency: p.currency, occurredAt: p.occurredAt };
    const day = factKey(hub, 'payment', pipeline.name, p.occurredAt.slice(0, 10));
    tx.hset(day, p.externalId, JSON.stringify(fact));
    tx.expire(day, FACT_RETENTION_SECONDS);
    tx.hset(lastKey, p.externalId, p.status);
    tx.expire(lastKey, FACT_RETENTION_SECONDS);
    if (last[i] === p.status) return;
    events.push({
      id: `payment:${p.provider}:${p.externalId}:${p.status}`, type: 'payment.result', pipeline: pipeline.name, at: p.occurredAt,
      payment: {
        externalId: p.externalId, provider: p.provider, orderNumber: p.orderNumber, status: p.status,
        ...(last[i] ? { previousStatus: last[i]! } : {}), amount: p.amount, currency: p.currency, ...(p.failureCode ? { failureCode: p.failureCode } : {}),
      },
    });
  });
  return events;
}

/** Appends the events to the stream (on the batch's transaction). */
export function appendEvents(hub: Hub, tx: ChainableCommander, events: OrderEvent[]): void {
  for (const e of events) tx.xadd(eventStreamKey(hub), 'MAXLEN', '~', EVENT_STREAM_MAXLEN, '*', 'event', JSON.stringify(e));
}

/** After the batch is stored: one notification job per event and sink (job id = event id, so a retried batch queues nothing twice). */
export async function queueNotifications(hub: Hub, pipeline: Pipeline, events: OrderEvent[]): Promise<void> {
  if (!events.length || !pipeline.notify.length) return;
  const jobs = events.flatMap((event) => pipeline.notify.map((sink, i) => ({
    name: sink.type,
    data: { pipeline: pipeline.name, sink: i, event } satisfies NotifyJobData,
    opts: notifyJobOptions(sink, jobId('n', pipeline.name, i, event.id)),
  })));
  await hub.notifyQueue.addBulk(jobs);
}

export function notifyJobOptions(sink: { attempts: number; backoffMs: number }, id?: string) {
  return {
    attempts: sink.attempts,
    backoff: { type: 'exponential', delay: sink.backoffMs, jitter: 0.5 },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
    ...(id ? { jobId: id.replace(/[^A-Za-z0-9._>-]/g, '_') } : {}),
  };
}
