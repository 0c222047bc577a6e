import type { CanonicalOrder } from '../core/canonical/schemas.js';
import { decideTransition } from '../core/lifecycle.js';
import { combineStatus, ledgerEffect, type PaymentFact } from '../core/payments.js';
import { assignCustomerTypes } from '../operations/order-types.js';
import { recordSegmentOrders } from '../operations/segments/segments.js';
import type { IngestBatch, Mapped } from './ingest-batch.js';
import { SNAPSHOT_AAD, applyPayment, orderVersion, withPayments } from './payments.js';

/**
 * Ingest's step 5 (ingest.ts): orders are kept as their own system says, and payments are laid
 * over them. Each step is a function of its own, taking the call's IngestBatch.
 */

/** A payment fact as the ledger keeps it (JSON text). */
const parsePaymentFact = (text: string) => JSON.parse(text) as PaymentFact;

/**
 * 5. lifecycle: a late event never moves an order back. The order is kept (sealed) as its
 *    own system says, so payments can find it; what its payments say is laid over it.
 * 5a. order types: new or returning customer, from the hub's history across sources (kept with
 *    the order), and the customer's order history for their segment (src/operations/segments),
 *    whose customers go to `segmentCustomers`.
 * Answers the orders that go on.
 */
export async function keepOrders(batch: IngestBatch, records: Mapped[], segmentCustomers: string[]): Promise<Mapped[]> {
  const { hub, keyring, commit, tx } = batch;
  const { store } = hub;
  const sourceConn = batch.pipeline.source.connection;
  const live = await applyLifecycle(batch, records);
  const facts = await store.orders.paymentFacts(live.map((m) => m.key!));
  const snapshots: { key: string; sealed: Buffer; orderNumber: string }[] = [];
  const pending: { orderNumber: string; createdAt: string; pending: boolean }[] = [];
  const effects: ReturnType<typeof ledgerEffect>[] = [];
  const typed: Parameters<typeof assignCustomerTypes>[1] = [];
  for (let i = 0; i < live.length; i++) {
    const order = live[i].record as unknown as CanonicalOrder;
    const effect = ledgerEffect(facts[i].map(parsePaymentFact), order);
    effects.push(effect);
    typed.push({ key: live[i].key!, connection: sourceConn, order, status: combineStatus(order.status, effect.status) });
  }
  await assignCustomerTypes(hub, typed);
  segmentCustomers.push(...recordSegmentOrders(hub, tx, typed));
  for (let i = 0; i < live.length; i++) {
    const m = live[i];
    const base = m.record as unknown as CanonicalOrder;
    const json = JSON.stringify(base);
    snapshots.push({ key: m.key!, sealed: keyring.encryptBytes(json, SNAPSHOT_AAD), orderNumber: base.orderNumber });
    const effect = effects[i];
    m.record = withPayments(base, effect) as unknown as Record<string, unknown>;
    // With no payment the record pushed is the snapshot, field for field.
    if (!facts[i].length) m.json = json;
    m.version = orderVersion(base, effect);
    pending.push({ orderNumber: base.orderNumber, createdAt: base.createdAt, pending: m.record.status === 'pending_payment' });
  }
  // Events of the same order ingested together (webhook-batch.ts): the newest state is the one
  // kept (the lifecycle lets an event equal to the stored state through beside a newer one).
  const newest = new Map<string, number>();
  for (let i = 0; i < live.length; i++) {
    const m = live[i];
    const j = newest.get(m.key!);
    if (j === undefined || m.version! >= live[j].version!) newest.set(m.key!, i);
  }
  const kept = [...newest.values()].sort((a, b) => a - b);
  store.orders.saveOrderSnapshots(commit, kept.map((i) => snapshots[i]));
  store.orders.markPendingAll(tx, kept.map((i) => pending[i]));
  return live;
}

/**
 * 5b. payments: each result is applied to its order (or kept until the order arrives). A
 * payment can make its order paid: the order's type is judged again with it. Answers the
 * payments that updated an order, each with its update.
 */
export async function applyPayments(batch: IngestBatch, live: Mapped[], segmentCustomers: string[]): Promise<Mapped[]> {
  const { hub, pipeline, tx } = batch;
  const applied: Mapped[] = [];
  for (const m of live) {
    const r = await applyPayment(hub, pipeline, m.record as never, m.raw);
    if (r.kind === 'parked') batch.skip(m, 'order_not_seen_yet');
    else {
      batch.steps.payment([m.key!, r.update.key], m.record as never);
      applied.push({ ...m, update: r.update });
      hub.store.orders.markPending(tx, r.update.record.orderNumber, r.update.record.createdAt, r.update.record.status === 'pending_payment');
    }
  }
  // (An order's key names its source connection: order:<connection>:<id>.)
  const typed = applied.map((a) => ({ key: a.update!.key, connection: a.update!.key.split(':')[1] ?? '', order: a.update!.record, status: a.update!.record.status }));
  await assignCustomerTypes(hub, typed);
  segmentCustomers.push(...recordSegmentOrders(hub, tx, typed));
  return applied;
}

async function applyLifecycle(batch: IngestBatch, records: Mapped[]): Promise<Mapped[]> {
  const { hub } = batch;
  const kept: Mapped[] = [];
  let pending = records;
  for (let round = 0; pending.length && round < 5; round++) {
    const states = await hub.store.orders.getLifecycle(pending.map((m) => m.key!));
    const retry: Mapped[] = [];
    const writes: { m: Mapped; key: string; expectedRaw: string | null; next: { status: CanonicalOrder['status']; at: string } }[] = [];
    for (let i = 0; i < pending.length; i++) {
      const m = pending[i];
      const order = m.record as unknown as CanonicalOrder;
      const { raw, state } = states[i];
      const decision = decideTransition(state, order.status, order.updatedAt);
      if (!decision.apply && decision.reason === 'stale_event') {
        batch.skip(m, 'stale_event');
        continue;
      }
      if (!decision.apply) {
        hub.logger.info({ key: m.key, from: state?.status, to: order.status }, 'order status change refused by the lifecycle table; the order keeps its state');
        order.status = decision.status;
      }
      const next = { status: decision.status, at: state && Date.parse(state.at) > Date.parse(order.updatedAt) ? state.at : order.updatedAt };
      if (raw === JSON.stringify(next)) kept.push(m);
      else writes.push({ m, key: m.key!, expectedRaw: raw, next });
    }
    // One compare-and-set call for the page: each order's state is written only if still what was read.
    const written = await hub.store.orders.casLifecycleAll(writes);
    for (let i = 0; i < writes.length; i++) (written[i] ? kept : retry).push(writes[i].m);
    pending = retry;
  }
  for (const m of pending) batch.skip(m, 'lifecycle_contended');
  return kept.sort((a, b) => a.index - b.index);
}
