import type { ChainableCommander } from 'ioredis';
import type { Pipeline } from '../config/load.js';
import type { CanonicalOrder, CanonicalPayment, Entity } from '../core/canonical/schemas.js';
import { sinkTakes, type NotifyJobData, type OrderEvent } from '../notify/types.js';
import type { Hub } from './hub.js';
import { jobId } from './queues.js';
import { customerIndex } from '../operations/order-types.js';
import { perGroup, type ShardedTx } from '../state/sharded.js';

/**
 * What the engine records about orders and payments as it applies them:
 * - facts behind GET /api/reports/orders (no personal data): per pipeline and day of
 *   creation the figures of each order (amounts, currency, status, times); per payment
 *   pipeline the times of each payment's first success, first refund and first failure,
 *   and of each order number's first successful payment (see PaymentTimes);
 * - events: order status changes and payment results, on a bounded Redis stream
 *   (GET /api/events) and to the pipeline's notification sinks.
 */
export const EVENT_STREAM_MAXLEN = 10_000;
/** Facts of a day are kept this long after their last write (reports reach back at most this far). */
export const FACT_RETENTION_SECONDS = 400 * 24 * 3600;

export interface OrderFact {
  orderNumber: string; currency: string; total: string; status: string; createdAt: string; paidAt?: string; paymentFailed?: boolean;
  /** Order types (src/operations/order-types.ts), for the report's splits; absent in facts written before them. */
  customerType?: 'new' | 'returning'; recurring?: boolean;
  /** The customer's blind index (order-types.ts customerIndex): the report reads their current segment by it. */
  customer?: string;
}
/** A payment's fact as versions before the merged payment facts kept it per day (the last result seen that day); read by reports.ts. */
export interface LegacyPaymentFact { orderNumber: string; provider: string; status: string; amount: string; currency: string; occurredAt: string }

export interface AppliedOrder { key: string; order: CanonicalOrder }

export const eventStreamKey = (hub: Hub) => hub.store.k('events');
/** A day's facts on the hub tag: payments' of earlier versions (reports.ts), and on a cluster hub the orders' written before they were sharded. */
export const factKey = (hub: Hub, kind: 'order' | 'payment', pipeline: string, day: string) => hub.store.k('facts', kind, pipeline, day);
/**
 * The orders' facts of one pipeline and day created, one hash per group (src/state/key-layout.ts),
 * each order's in the group of its key; on one Redis and a one-shard hub the one `factKey`.
 */
export const orderFactKey = (group: string, pipeline: string, day: string) => `${group}:facts:order:${pipeline}:${day}`;
/** Every key a pipeline's order facts of a day may be in: the hub tag's first (written before the facts were sharded), then each group's. */
export const orderFactKeys = (hub: Hub, pipeline: string, day: string): string[] =>
  [...new Set([factKey(hub, 'order', pipeline, day), ...hub.layout.groups().map((g) => orderFactKey(g, pipeline, day))])];
/**
 * A payment pipeline's merged payment facts: sorted sets scored by time (ms), each member
 * written with ZADD LT so it keeps its earliest time whatever the order the results come
 * in, and a duplicate changes nothing:
 * - succeeded / refunded / failed: payment id → its first success (a refund implies one),
 *   first refund, first failure;
 * - paid: order number → the first success of a payment for it;
 * - seen / paid-seen: payment id / order number → its last write, for the retention;
 * - legacy-folded: set once the per-day facts of earlier versions are merged in (reports.ts).
 * The retention script (PRUNE_FACTS) touches a pipeline's seen set with its data sets in one
 * call: in a Redis Cluster they would need one hash slot.
 */
export type PaymentFactSet = 'succeeded' | 'refunded' | 'failed' | 'seen' | 'paid' | 'paid-seen' | 'legacy-folded';
export const paymentFactsKey = (hub: Hub, pipeline: string, set: PaymentFactSet) => hub.store.k('facts', 'payments', pipeline, set);
/**
 * Where each order's fact lives (a payment updates the fact its order's pipeline wrote): a hash
 * of order key → the fact's hash, in the order's group (the hub tag's one holds, on a cluster
 * hub, the homes written before the facts were sharded, which stay where they are).
 */
export const factHomeKey = (group: string) => `${group}:facts:home`;
const legacyFactHome = (hub: Hub) => hub.store.k('facts', 'home');

/** Each order's fact's home (its hash), in its group or else on the hub tag; null when it has none. */
export async function factHomes(hub: Hub, keys: string[]): Promise<(string | null)[]> {
  if (!keys.length) return [];
  const homes = await perGroup(hub.layout, keys, (g, at) => hub.redis.hmget(factHomeKey(g), ...at.map((i) => keys[i])));
  if (!hub.layout.spread) return homes;
  const missing = keys.filter((_, i) => homes[i] === null);
  if (!missing.length) return homes;
  const legacy = await hub.redis.hmget(legacyFactHome(hub), ...missing);
  let at = 0;
  return homes.map((h) => h ?? legacy[at++]);
}

/** The status last announced per order, and per payment, so only changes become events. */
const announced = (hub: Hub, kind: 'order' | 'payment') => hub.store.k('announced', kind);

/**
 * What a batch applied, after the lifecycle and the payments ledger: orders as they
 * now stand (an order pipeline's own orders, or the orders a payment pipeline's
 * results updated) and the payments themselves.
 */
export async function recordApplied(hub: Hub, commit: ShardedTx, tx: ChainableCommander, pipeline: Pipeline, entity: Entity, live: { key?: string; record: Record<string, unknown>; update?: { key: string; record: CanonicalOrder } }[]): Promise<OrderEvent[]> {
  if (entity === 'order') return recordOrders(hub, commit, tx, pipeline, live.map((m) => ({ key: m.key!, order: m.record as unknown as CanonicalOrder })), true);
  if (entity !== 'payment') return [];
  const orders = await recordOrders(hub, commit, tx, pipeline, live.filter((m) => m.update).map((m) => ({ key: m.update!.key, order: m.update!.record })), false);
  return [...orders, ...(await recordPayments(hub, tx, pipeline, live.map((m) => m.record as unknown as CanonicalPayment)))];
}

/**
 * Orders as applied: their facts (written by their own pipeline, updated by payments), and an
 * event when an order's status differs from the one last announced. The facts and their homes
 * go to the orders' groups in the commit's first step (`commit`): HSETs of the same values when
 * done again, read only by reports and erasure. The statuses announced stay in the hub's
 * transaction (`tx`) with the events they decide: written apart, a retry could find a status
 * announced whose event was never appended.
 */
export async function recordOrders(hub: Hub, commit: ShardedTx, tx: ChainableCommander, pipeline: Pipeline, applied: AppliedOrder[], ownPipeline: boolean): Promise<OrderEvent[]> {
  if (!applied.length) return [];
  const keys = applied.map((a) => a.key);
  const [previous, homes] = await Promise.all([hub.redis.hmget(announced(hub, 'order'), ...keys), ownPipeline ? [] : factHomes(hub, keys)]);
  const events: OrderEvent[] = [];
  // Grouped per hash, so a batch costs a few commands rather than a few per order.
  const facts = new Map<string, { writer: ChainableCommander; fields: string[] }>();
  const homeOf = new Map<string, { writer: ChainableCommander; fields: string[] }>();
  const statusOf: string[] = [];
  const batchStatus = new Map<string, string>();
  // A loop, not a callback: see ingest.ts on closures made for each batch.
  for (let i = 0; i < applied.length; i++) {
    const { key, order } = applied[i];
    // An order's key names its source connection (order:<connection>:<id>).
    const customer = customerIndex(hub, ownPipeline ? pipeline.source.connection : key.split(':')[1] ?? '', order);
    // Fields set one by one in this order (the JSON text as before), not spread from an object made per optional field.
    const fact: OrderFact = {
      orderNumber: order.orderNumber, currency: order.currency, total: order.total, status: order.status, createdAt: order.createdAt, paidAt: order.paidAt,
    };
    if (order.paymentFailure) fact.paymentFailed = true;
    if (order.customerType) fact.customerType = order.customerType;
    if (order.recurring) fact.recurring = true;
    if (customer) fact.customer = customer;
    const group = hub.layout.groupOf(key);
    const home = ownPipeline ? orderFactKey(group, pipeline.name, order.createdAt.slice(0, 10)) : homes[i];
    if (home) {
      let hash = facts.get(home);
      // A home on the hub tag (a cluster hub's fact from before the facts were sharded) is written in the hub's transaction.
      if (!hash) facts.set(home, (hash = { writer: home.startsWith(`${hub.layout.hub}:`) ? tx : commit.forKey(key), fields: [] }));
      hash.fields.push(key, JSON.stringify(fact));
      if (ownPipeline) {
        let homes = homeOf.get(group);
        if (!homes) homeOf.set(group, (homes = { writer: commit.group(group), fields: [] }));
        homes.fields.push(key, home);
      }
    }
    // An order twice in one batch (webhook events ingested together): the second follows the first.
    const was = batchStatus.get(key) ?? previous[i] ?? undefined;
    batchStatus.set(key, order.status);
    if (was === order.status) continue;
    statusOf.push(key, order.status);
    events.push({
      id: `order:${key}:${order.status}:${order.updatedAt}`, type: 'order.status', pipeline: pipeline.name, at: order.updatedAt,
      order: { key, orderNumber: order.orderNumber, status: order.status, ...(was ? { previousStatus: was } : {}), currency: order.currency, total: order.total },
    });
  }
  for (const [home, { writer, fields }] of facts) {
    writer.hset(home, ...fields);
    writer.expire(home, FACT_RETENTION_SECONDS);
  }
  for (const [group, { writer, fields }] of homeOf) writer.hset(factHomeKey(group), ...fields);
  if (statusOf.length) tx.hset(announced(hub, 'order'), ...statusOf);
  return events;
}

/** When a payment result says the payment succeeded, was refunded, failed (ms since the epoch). */
export interface PaymentTimes { succeeded?: number; refunded?: number; failed?: number }

export function paymentTimes(p: { status: string; occurredAt: string }): PaymentTimes {
  const at = Date.parse(p.occurredAt);
  if (!Number.isFinite(at)) return {};
  if (p.status === 'succeeded') return { succeeded: at };
  if (p.status === 'refunded' || p.status === 'partially_refunded') return { succeeded: at, refunded: at };
  if (p.status === 'failed') return { failed: at };
  return {};
}

const PRUNE_FACTS = `
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #old == 0 then return 0 end
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], unpack(old)) end
return #old`;
const PRUNE_BATCH = 500;

/**
 * Merges payment results into the pipeline's payment facts (see paymentFactsKey): commutative
 * and idempotent, so the figures are a function of the set of results. Members not written for
 * FACT_RETENTION_SECONDS are dropped, a few hundred per write.
 */
export function mergePaymentFacts(hub: Hub, tx: ChainableCommander, pipeline: string, payments: { id: string; orderNumber: string; status: string; occurredAt: string }[], now = Date.now()): void {
  const sets: Record<'succeeded' | 'refunded' | 'failed' | 'paid', (string | number)[]> = { succeeded: [], refunded: [], failed: [], paid: [] };
  const seen: (string | number)[] = [];
  const paidSeen: (string | number)[] = [];
  for (const p of payments) {
    const times = paymentTimes(p);
    if (times.succeeded === undefined && times.failed === undefined) continue;
    for (const set of ['succeeded', 'refunded', 'failed'] as const) if (times[set] !== undefined) sets[set].push(times[set]!, p.id);
    seen.push(now, p.id);
    if (times.succeeded !== undefined) {
      sets.paid.push(times.succeeded, p.orderNumber);
      paidSeen.push(now, p.orderNumber);
    }
  }
  if (!seen.length) return;
  const key = (set: PaymentFactSet) => paymentFactsKey(hub, pipeline, set);
  for (const [set, args] of Object.entries(sets)) if (args.length) tx.zadd(key(set as PaymentFactSet), 'LT', ...args);
  tx.zadd(key('seen'), ...seen);
  if (paidSeen.length) tx.zadd(key('paid-seen'), ...paidSeen);
  const cutoff = String(now - FACT_RETENTION_SECONDS * 1000);
  tx.eval(PRUNE_FACTS, 4, key('seen'), key('succeeded'), key('refunded'), key('failed'), cutoff, PRUNE_BATCH);
  tx.eval(PRUNE_FACTS, 2, key('paid-seen'), key('paid'), cutoff, PRUNE_BATCH);
  for (const set of ['succeeded', 'refunded', 'failed', 'seen', 'paid', 'paid-seen'] as const) tx.expire(key(set), FACT_RETENTION_SECONDS);
}

/** Payment results as applied: merged into the payment facts, and an event when the payment's status is new or changed. */
export async function recordPayments(hub: Hub, tx: ChainableCommander, pipeline: Pipeline, payments: CanonicalPayment[]): Promise<OrderEvent[]> {
  if (!payments.length) return [];
  const ids = payments.map((p) => `${p.provider}:${p.externalId}`);
  const last = await hub.redis.hmget(announced(hub, 'payment'), ...ids);
  mergePaymentFacts(hub, tx, pipeline.name, payments.map((p, i) => ({ id: ids[i], orderNumber: p.orderNumber, status: p.status, occurredAt: p.occurredAt })));
  const events: OrderEvent[] = [];
  payments.forEach((p, i) => {
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
  const jobs = events.flatMap((event) => pipeline.notify.flatMap((sink, i) => (sinkTakes(sink, event) ? [{
    name: sink.type,
    data: { pipeline: pipeline.name, sink: i, event } satisfies NotifyJobData,
    opts: notifyJobOptions(sink, jobId('n', pipeline.name, i, event.id)),
  }] : [])));
  if (jobs.length) await hub.notifyQueue.addBulk(jobs);
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
