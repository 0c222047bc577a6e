import type { ChainableCommander } from 'ioredis';
import type { Pipeline } from '../config/load.js';
import type { CanonicalOrder, CanonicalPayment, Entity } from '../core/canonical/schemas.js';
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

export interface AppliedOrder { key: string; order: CanonicalOrder }

export const eventStreamKey = (hub: Hub) => hub.store.k('events');
export const factKey = (hub: Hub, kind: 'order' | 'payment', pipeline: string, day: string) => hub.store.k('facts', kind, pipeline, day);
/** Where each order's fact lives (a payment updates the fact its order's pipeline wrote). */
const factHome = (hub: Hub) => hub.store.k('facts', 'home');
/** The status last announced per order, and per payment, so only changes become events. */
const announced = (hub: Hub, kind: 'order' | 'payment') => hub.store.k('announced', kind);

/**
 * What a batch applied, after the lifecycle and the payments ledger: orders as they
 * now stand (an order pipeline's own orders, or the orders a payment pipeline's
 * results updated) and the payments themselves.
 */
export async function recordApplied(hub: Hub, tx: ChainableCommander, pipeline: Pipeline, entity: Entity, live: { key?: string; record: Record<string, unknown>; update?: { key: string; record: CanonicalOrder } }[]): Promise<OrderEvent[]> {
  if (entity === 'order') return recordOrders(hub, tx, pipeline, live.map((m) => ({ key: m.key!, order: m.record as unknown as CanonicalOrder })), true);
  if (entity !== 'payment') return [];
  const orders = await recordOrders(hub, tx, pipeline, live.filter((m) => m.update).map((m) => ({ key: m.update!.key, order: m.update!.record })), false);
  return [...orders, ...(await recordPayments(hub, tx, pipeline, live.map((m) => m.record as unknown as CanonicalPayment)))];
}

/**
 * Orders as applied: their facts (written by their own pipeline, updated by payments),
 * and an event when an order's status differs from the one last announced.
 */
export async function recordOrders(hub: Hub, tx: ChainableCommander, pipeline: Pipeline, applied: AppliedOrder[], ownPipeline: boolean): Promise<OrderEvent[]> {
  if (!applied.length) return [];
  const keys = applied.map((a) => a.key);
  const [previous, homes] = await Promise.all([hub.redis.hmget(announced(hub, 'order'), ...keys), hub.redis.hmget(factHome(hub), ...keys)]);
  const events: OrderEvent[] = [];
  // Grouped per hash, so a batch costs a few commands rather than a few per order.
  const facts = new Map<string, string[]>();
  const homeOf: string[] = [];
  const statusOf: string[] = [];
  applied.forEach(({ key, order }, i) => {
    const fact: OrderFact = {
      orderNumber: order.orderNumber, currency: order.currency, total: order.total, status: order.status, createdAt: order.createdAt,
      paidAt: order.paidAt, ...(order.paymentFailure ? { paymentFailed: true } : {}),
    };
    const home = ownPipeline ? factKey(hub, 'order', pipeline.name, order.createdAt.slice(0, 10)) : homes[i];
    if (home) {
      let fields = facts.get(home);
      if (!fields) facts.set(home, (fields = []));
      fields.push(key, JSON.stringify(fact));
      if (ownPipeline) homeOf.push(key, home);
    }
    const was = previous[i] ?? undefined;
    if (was === order.status) return;
    statusOf.push(key, order.status);
    events.push({
      id: `order:${key}:${order.status}:${order.updatedAt}`, type: 'order.status', pipeline: pipeline.name, at: order.updatedAt,
      order: { key, orderNumber: order.orderNumber, status: order.status, ...(was ? { previousStatus: was } : {}), currency: order.currency, total: order.total },
    });
  });
  for (const [home, fields] of facts) {
    tx.hset(home, ...fields);
    tx.expire(home, FACT_RETENTION_SECONDS);
  }
  if (homeOf.length) tx.hset(factHome(hub), ...homeOf);
  if (statusOf.length) tx.hset(announced(hub, 'order'), ...statusOf);
  return events;
}

/** Payment results as applied: facts always, an event when the payment's status is new or changed. */
export async function recordPayments(hub: Hub, tx: ChainableCommander, pipeline: Pipeline, payments: CanonicalPayment[]): Promise<OrderEvent[]> {
  if (!payments.length) return [];
  const ids = payments.map((p) => `${p.provider}:${p.externalId}`);
  const last = await hub.redis.hmget(announced(hub, 'payment'), ...ids);
  const events: OrderEvent[] = [];
  payments.forEach((p, i) => {
    const fact: PaymentFact = { orderNumber: p.orderNumber, provider: p.provider, status: p.status, amount: p.amount, currency: p.currency, occurredAt: p.occurredAt };
    const day = factKey(hub, 'payment', pipeline.name, p.occurredAt.slice(0, 10));
    tx.hset(day, ids[i], JSON.stringify(fact));
    tx.expire(day, FACT_RETENTION_SECONDS);
    if (last[i] === p.status) return;
    tx.hset(announced(hub, 'payment'), ids[i], p.status);
    events.push({
      id: `payment:${ids[i]}:${p.status}`, type: 'payment.result', pipeline: pipeline.name, at: p.occurredAt,
      payment: {
        externalId: p.externalId, provider: p.provider, orderNumber: p.orderNumber, status: p.status,
        ...(last[i] ? { previousStatus: last[i]! } : {}), amount: p.amount, currency: p.currency, ...(p.failureCode ? { failureCode: p.failureCode } : {}),
      },
    });
  });
  return events;
}

/** Appends the events to the stream (on the batch's transaction, one call for all). */
export function appendEvents(hub: Hub, tx: ChainableCommander, events: OrderEvent[]): void {
  if (events.length) (tx as any).synchubXaddAll(eventStreamKey(hub), String(EVENT_STREAM_MAXLEN), ...events.map((e) => JSON.stringify(e)));
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
