import { createHash } from 'node:crypto';
import type { Pipeline } from '../config/load.js';
import type { CanonicalOrder } from '../core/canonical/schemas.js';
import { openJson, openJsonBytes, sealJson } from '../core/crypto.js';
import { SynchubError, errorToJson } from '../core/errors.js';
import { approvalGate, approvalSources, type ApprovalState } from '../core/lifecycle.js';
import type { CompiledMapping } from '../mappings/engine.js';
import type { OrderEvent } from '../notify/types.js';
import type { ApprovalRecord } from '../state/approval-store.js';
import type { Hub } from '../jobs/hub.js';
import { appendEvents, queueNotifications } from '../jobs/order-events.js';
import { SNAPSHOT_AAD } from '../jobs/payments.js';

/**
 * Order approval (订单审批): a pipeline's `approval.when` rule holds the orders it matches in
 * `awaiting_approval`, kept from the pipeline's targets, until an admin approves or rejects them
 * (or `timeoutHours` pass and `onTimeout` applies). The order itself is kept sealed as every
 * order is (its snapshot and ledger, src/state/orders.ts); the approval keeps its latest source
 * record sealed, so approving ingests it again through the normal path, now let through.
 * Called by ingest at step 5c (holdForApproval, keepHeldBack); the admin API and the
 * timeout job call decideApproval and expireApproval.
 */
export interface ApprovalRule {
  when: CompiledMapping;
  /** Default 48. */
  timeoutHours: number;
  /** Default 'escalate'. */
  onTimeout: 'reject' | 'approve' | 'escalate';
}

export interface Decision {
  /** Who decided: the name an admin gives, or `synchub` for a timeout or a rule that no longer matches. */
  by: string;
  reason: string;
  via: 'admin' | 'timeout' | 'rule';
}

/** An approval as the admin API shows it: the decision opened, the source record not. */
export interface ApprovalView extends Omit<ApprovalRecord, 'source' | 'decision'> {
  id: string;
  decision?: Decision;
}

const SOURCE_AAD = 'approval:source';
const DECISION_AAD = 'approval:decision';
export const APPROVAL_TIMEOUT_JOB = 'approval-timeout';

/** Ingests one source record of a pipeline again (ingestRecords, passed in to keep this module off the ingest's imports). */
export type IngestAgain = (pipeline: Pipeline, raw: unknown, base: string) => Promise<unknown>;

/** The id of an approval in the API: its order key, base64url (keys hold ':' and source ids of any shape). */
export const approvalId = (key: string) => Buffer.from(key).toString('base64url');
export const approvalKey = (id: string) => Buffer.from(id, 'base64url').toString();

export function approvalView(hub: Hub, a: ApprovalRecord): ApprovalView {
  return {
    id: approvalId(a.key), key: a.key, pipeline: a.pipeline, state: a.state, orderNumber: a.orderNumber, currency: a.currency, total: a.total,
    heldAt: a.heldAt, deadline: a.deadline,
    ...(a.decidedAt ? { decidedAt: a.decidedAt } : {}),
    ...(a.decision ? { decision: openJson<Decision>(hub.config.keyring, a.decision, DECISION_AAD) } : {}),
    ...(a.cancel ? { cancel: a.cancel } : {}),
  };
}

function approvalEvent(pipeline: string, key: string, order: { orderNumber: string; currency: string; total: string }, state: ApprovalState, previous: ApprovalState | null, at: string): OrderEvent {
  return {
    id: `approval:${key}:${state}`, type: 'order.approval', pipeline, at,
    order: { key, orderNumber: order.orderNumber, status: state, ...(previous ? { previousStatus: previous } : {}), currency: order.currency, total: order.total },
  };
}

async function scheduleTimeout(hub: Hub, key: string, deadline: string): Promise<void> {
  await hub.ingestQueue.add(APPROVAL_TIMEOUT_JOB, { key }, {
    jobId: `approval.${createHash('sha256').update(key).digest('hex').slice(0, 32)}`,
    delay: Math.max(0, Date.parse(deadline) - Date.now()), attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 },
  });
}

interface Held { index: number; raw: unknown; key?: string; record: Record<string, unknown> }

/**
 * Step 5c of an order pipeline with an approval rule. An order seen for the first time that the
 * rule matches is held (an event says so); a held order that changes at the source is judged
 * again: still matching, it stays held with its new source record; no longer matching, it is
 * approved by the rule and goes on. An approved order goes on; a rejected one never does.
 * A rule that fails on an order holds it: what the rule cannot judge is not let through.
 */
export async function holdForApproval<M extends Held>(hub: Hub, pipeline: Pipeline, live: M[], skip: (m: M, why: string) => void): Promise<{ live: M[]; events: OrderEvent[] }> {
  const rule = pipeline.approval!;
  const { keyring } = hub.config;
  const states = await hub.store.approvals.states(live.map((m) => m.key!));
  const out: M[] = [];
  const events: OrderEvent[] = [];
  /**
   * A held order's newer source record is kept, then its state read again: an approval decided
   * meanwhile either read this record already (it was kept first) or is seen here, and the
   * order goes on now. Either way the newest record reaches the targets.
   */
  const keepHeldOrPass = async (m: M, source: string) => {
    await hub.store.approvals.keepSource(m.key!, source);
    const [current] = await hub.store.approvals.states([m.key!]);
    if (current === 'approved') out.push(m);
    else skip(m, current === 'rejected' ? 'approval_rejected' : 'awaiting_approval');
  };
  for (const [i, m] of live.entries()) {
    const state = states[i];
    const gate = approvalGate(state);
    if (gate === 'drop') {
      skip(m, 'approval_rejected');
      continue;
    }
    if (state === 'approved') {
      out.push(m);
      continue;
    }
    let matches: boolean;
    try {
      matches = Boolean(await rule.when.evaluate(m.record));
    } catch (err) {
      hub.logger.warn({ pipeline: pipeline.name, key: m.key, err: errorToJson(err).code }, 'the approval rule failed on an order: it is held for a decision');
      matches = true;
    }
    const order = m.record as unknown as CanonicalOrder;
    const now = new Date().toISOString();
    const source = sealJson(keyring, m.raw, SOURCE_AAD);
    if (state === null && !matches) {
      out.push(m);
      continue;
    }
    if (state === null) {
      const deadline = new Date(Date.now() + rule.timeoutHours * 3_600_000).toISOString();
      const created = await hub.store.approvals.hold({
        key: m.key!, pipeline: pipeline.name, state: 'awaiting_approval', orderNumber: order.orderNumber, currency: order.currency, total: order.total,
        heldAt: now, deadline, source,
      });
      if (created) {
        events.push(approvalEvent(pipeline.name, m.key!, order, 'awaiting_approval', null, now));
        await scheduleTimeout(hub, m.key!, deadline);
        hub.logger.info({ pipeline: pipeline.name, key: m.key }, 'order held for approval');
        skip(m, 'awaiting_approval');
      } else await keepHeldOrPass(m, source);
      continue;
    }
    if (matches) {
      await keepHeldOrPass(m, source);
      continue;
    }
    const decision: Decision = { by: 'synchub', reason: 'the order changed at its source and no longer matches the approval rule', via: 'rule' };
    const found = await hub.store.approvals.move(m.key!, 'approved', approvalSources('approved'), { decidedAt: now, decision: sealJson(keyring, decision, DECISION_AAD), source });
    if (found === 'approved' || (found && approvalSources('approved').includes(found))) {
      if (found !== 'approved') events.push(approvalEvent(pipeline.name, m.key!, order, 'approved', found, now));
      out.push(m);
    } else skip(m, found === 'rejected' ? 'approval_rejected' : 'awaiting_approval');
  }
  return { live: out, events };
}

/**
 * Step 5c of a payment pipeline: the payment is in its order's ledger already (applyPayment),
 * but an order held for approval (or rejected) is not handed on to the targets; approving it
 * pushes it with every payment it has by then.
 */
export async function keepHeldBack<M extends { update?: { key: string } }>(hub: Hub, live: M[], skip: (m: M, why: string) => void): Promise<M[]> {
  const withOrder = live.filter((m) => m.update);
  if (!withOrder.length) return live;
  const states = await hub.store.approvals.states(withOrder.map((m) => m.update!.key));
  const held = new Set(withOrder.filter((_, i) => approvalGate(states[i]) !== 'pass'));
  for (const m of held) skip(m, 'awaiting_approval');
  return live.filter((m) => !held.has(m));
}

/**
 * An admin's decision (or a timeout's). Approved: the order's latest source record is ingested
 * again and goes on through the normal path. Rejected: the order is cancelled at its source
 * where the source's connector writes orders, else recorded as rejected only (`cancel:
 * not_supported`). Either way an order.approval event goes to the stream and the sinks.
 */
export async function decideApproval(hub: Hub, key: string, to: 'approved' | 'rejected', decision: Decision, ingestAgain: IngestAgain): Promise<ApprovalView> {
  const now = new Date().toISOString();
  const found = await hub.store.approvals.move(key, to, approvalSources(to), { decidedAt: now, decision: sealJson(hub.config.keyring, decision, DECISION_AAD) });
  if (!found) throw new SynchubError('not_found', 'no order held for approval under this id');
  if (!approvalSources(to).includes(found)) throw new SynchubError('conflict', `the order is ${found} already`);
  const a = (await hub.store.approvals.get(key))!;
  const pipeline = hub.config.pipelines.get(a.pipeline);
  const event = approvalEvent(a.pipeline, key, a, to, found, now);
  const tx = hub.store.redis.multi();
  appendEvents(hub, tx, [event]);
  await tx.exec();
  if (pipeline) await queueNotifications(hub, pipeline, [event]);
  hub.logger.info({ pipeline: a.pipeline, key, state: to, via: decision.via }, 'approval decided');
  if (!pipeline) return approvalView(hub, a);
  if (to === 'approved' && a.source) {
    await ingestAgain(pipeline, openJson(hub.config.keyring, a.source, SOURCE_AAD), `approval.${createHash('sha256').update(key).digest('hex').slice(0, 24)}`);
  }
  if (to === 'rejected') await hub.store.approvals.setField(key, 'cancel', await cancelAtSource(hub, pipeline, key));
  return approvalView(hub, (await hub.store.approvals.get(key))!);
}

/** The order cancelled at its source through the source connector's own order write (Shopify's cancel, WooCommerce's status…). */
async function cancelAtSource(hub: Hub, pipeline: Pipeline, key: string): Promise<string> {
  const connection = pipeline.source.connection;
  const mapping = hub.config.connectorOf(connection).entities.order?.push ? hub.config.echoMapping(connection, 'order') : null;
  if (!mapping) return 'not_supported';
  try {
    const sealed = await hub.store.orders.orderSnapshot(key);
    if (!sealed) return 'failed: order_not_found';
    const order = openJsonBytes<CanonicalOrder>(hub.config.keyring, sealed, SNAPSHOT_AAD);
    const payload = (await mapping.evaluate({ ...order, status: 'cancelled' })) as Record<string, unknown>;
    const [externalId] = await hub.store.externalIdsFor(connection, [key]);
    const [outcome] = await hub.client(connection).push('order', [{ key, externalId: externalId ?? undefined, payload }]);
    if (outcome?.ok) return 'cancelled';
    return `failed: ${outcome ? outcome.error.code : 'no_answer'}`;
  } catch (err) {
    // The code only: a remote message may quote the order's personal data.
    hub.logger.warn({ pipeline: pipeline.name, key, code: errorToJson(err).code }, 'a rejected order could not be cancelled at its source');
    return `failed: ${errorToJson(err).code}`;
  }
}

/** The approval's time is up: onTimeout applies if the order still awaits a decision. */
export async function expireApproval(hub: Hub, data: { key: string }, ingestAgain: IngestAgain): Promise<boolean> {
  const a = await hub.store.approvals.get(data.key);
  if (!a || a.state !== 'awaiting_approval') return false;
  const rule = hub.config.pipelines.get(a.pipeline)?.approval;
  const onTimeout = rule?.onTimeout ?? 'escalate';
  const hours = rule?.timeoutHours ?? 0;
  const reason = `no decision within ${hours} h`;
  if (onTimeout === 'approve' || onTimeout === 'reject') {
    await decideApproval(hub, data.key, onTimeout === 'approve' ? 'approved' : 'rejected', { by: 'synchub', reason, via: 'timeout' }, ingestAgain);
    return true;
  }
  const now = new Date().toISOString();
  const found = await hub.store.approvals.move(data.key, 'escalated', approvalSources('escalated'), { escalatedAt: now });
  if (found !== 'awaiting_approval') return false;
  const event = approvalEvent(a.pipeline, data.key, a, 'escalated', found, now);
  const tx = hub.store.redis.multi();
  appendEvents(hub, tx, [event]);
  await tx.exec();
  const pipeline = hub.config.pipelines.get(a.pipeline);
  if (pipeline) await queueNotifications(hub, pipeline, [event]);
  hub.logger.warn({ pipeline: a.pipeline, key: data.key }, 'order approval escalated: no decision in time');
  return true;
}
