import type { Pipeline } from '../config/load.js';
import type { Entity } from '../core/canonical/schemas.js';
import { canonicalProblems } from '../core/canonical/validate.js';
import { ValidationError } from '../core/errors.js';
import { RECORDS_PER_TURN, yieldToEventLoop } from '../core/yield.js';
import type { Hub } from './hub.js';
import { fingerprintMatches, payloadMac } from './fingerprint.js';
import { releaseParked } from './payments.js';
import { appendEvents, recordApplied } from './order-events.js';
import { WEBHOOK_SAMPLES_EVERY_MS, captureSamples } from './samples.js';
import { enforceUniqueness, recordConflicts } from '../operations/uniqueness.js';
import { holdForApproval, keepHeldBack } from '../operations/approval.js';
import { deletedSince } from '../operations/deletions.js';
import { erasedRecord, erasedSince } from '../operations/erasure-index.js';
import { IngestBatch, canonicalKey, type IngestContext, type Mapped } from './ingest-batch.js';
import { applyPayments, keepOrders } from './ingest-orders.js';
import { commitAndQueue, handOn } from './ingest-hand-on.js';

export { canonicalKey, type IngestContext } from './ingest-batch.js';

/**
 * The inbound half of the data path, shared by pulled pages and webhook events:
 *
 *   map in (JSONata) → transform → validate (AJV) → canonical key → lifecycle
 *   → echo check → encrypt → hand on to each target's push queue
 *
 * A record that fails a stage is dead-lettered with its reason and its sealed
 * source record; it never stops the rest of the page.
 *
 * ingestRecords below is that path, step by step; what the steps share is the call's
 * IngestBatch (ingest-batch.ts: its transaction, outcomes, timelines and person index, and
 * dead letters and skips). The order steps are in ingest-orders.ts, encrypt and hand on in
 * ingest-hand-on.ts.
 */

export interface HandOn {
  /** Deliveries (records × targets) this batch accounts for. */
  deliveries: number;
  pushed: number;
  skipped: number;
  dead: number;
}

// Why the per-record steps of an ingest call are loops, not callbacks (`live.forEach((m) => …)`):
// a callback is a new closure on every call, and V8 keeps the optimised code of a function
// literal's closures only while one of them is alive. After each full collection the next page's
// callbacks ran in the interpreter again and TurboFan compiled each of them again, a sixth of the
// worker's CPU in its steady state (bench/RESULTS.md, thirteenth session). Loops are part of
// their step's own code, which stays optimised.

export async function ingestRecords(hub: Hub, pipeline: Pipeline, raws: unknown[], ctx: IngestContext = {}): Promise<HandOn> {
  const batch = new IngestBatch(hub, pipeline, ctx, raws.length);
  const { entity } = batch;
  // 1-3. map in, transform, validate.
  let valid = await mapAndValidate(batch, raws);
  // 4. canonical keys: an id the hub has linked before keeps its key; customers meet by blind-indexed email.
  await keyRecords(batch, valid);
  // 4b. uniqueness rules: a record whose unique key another record holds is rejected or merged into it.
  if (pipeline.unique.length) valid = await applyUniqueness(batch, valid);
  // 4c. erasure and deletions, and the links of the records that go on.
  let live = await dropErasedAndDeleted(batch, raws, valid);

  // 5. orders kept as their own system says, payments laid over them (ingest-orders.ts).
  const segmentCustomers: string[] = [];
  if (entity === 'order') live = await keepOrders(batch, live, segmentCustomers);
  if (entity === 'payment' && batch.targets.some((t) => t.entity === 'order')) live = await applyPayments(batch, live, segmentCustomers);

  // Facts for the order figures; order status changes and payment results, as applied, as events (stream + notification sinks).
  const events = await recordApplied(hub, batch.commit, batch.tx, pipeline, entity, live);
  // 5c. approval: orders the pipeline's rule holds, and payments' updates of held orders, wait for a decision.
  if (entity === 'order' && pipeline.approval) {
    const held = await holdForApproval(hub, pipeline, live, batch.skipOne);
    live = held.live;
    events.push(...held.events);
  } else if (entity === 'payment' && hub.config.approvals) live = await keepHeldBack(hub, live, batch.skipOne);
  appendEvents(hub, batch.tx, events);
  batch.steps.statusChanges(events);

  // 6. echo: the source's own copy of what the hub last pushed to it is not synced back.
  live = await dropEchoes(batch, live);

  // 7-8. encrypt and hand on (ingest-hand-on.ts), once the call's transaction is in.
  const plan = await handOn(batch, raws, valid, live);
  await commitAndQueue(batch, plan, events, segmentCustomers);
  // Orders that payments were waiting for: apply those payments now, through their own pipelines.
  if (entity === 'order' && live.length) {
    const waiting = await hub.store.orders.parkedAmong([...new Set(live.map((m) => String(m.record.orderNumber)))]);
    if (waiting.length) await releaseParked(hub, waiting, (p, raw, base) => ingestRecords(hub, p, [raw], { deliveryBase: base, deadLetterBase: base }));
  }
  return { deliveries: raws.length * batch.targets.length, pushed: live.length * batch.targets.length, skipped: batch.skipped, dead: batch.dead };
}

/**
 * 1-3. map in, transform, validate. One record at a time: JSONata's timeout is wall-clock,
 * so evaluating a page concurrently would charge each record for all the others.
 */
async function mapAndValidate(batch: IngestBatch, raws: unknown[]): Promise<Mapped[]> {
  const { pipeline, entity, steps } = batch;
  const valid: Mapped[] = [];
  for (let index = 0; index < raws.length; index++) {
    if (index > 0 && index % RECORDS_PER_TURN === 0) await yieldToEventLoop();
    const raw = raws[index];
    let record: unknown;
    try {
      record = await pipeline.source.mapIn.evaluate(raw);
    } catch (err) {
      batch.deadLetter({ index, raw }, 'map_in', err);
      continue;
    }
    steps.mapped(index);
    if (pipeline.transform) {
      try {
        record = await pipeline.transform.evaluate(record);
      } catch (err) {
        batch.deadLetter({ index, raw, record }, 'transform', err);
        continue;
      }
    }
    const problems = canonicalProblems(entity, record);
    if (problems.length) {
      batch.deadLetter({ index, raw, record }, 'validate', new ValidationError(entity, problems));
      continue;
    }
    steps.validated(index);
    valid.push({ index, raw, record: record as Record<string, unknown> });
  }
  valid.sort((a, b) => a.index - b.index);
  return valid;
}

/** 4. canonical keys: an id the hub has linked before keeps its key; customers meet by blind-indexed email. */
async function keyRecords(batch: IngestBatch, valid: Mapped[]): Promise<void> {
  const { hub, entity } = batch;
  const sourceConn = batch.pipeline.source.connection;
  const known = await hub.store.keysForExternalIds(sourceConn, entity, valid.map((m) => String(m.record.externalId)));
  for (let i = 0; i < valid.length; i++) {
    const m = valid[i];
    m.key = known[i] ?? canonicalKey(hub, entity, sourceConn, m.record);
    batch.steps.keyed(m.index, m.key);
  }
}

/**
 * 4c. erasure and deletions: a record of an erased person, or one its source deleted, that is
 * not newer than the erasure or the deletion is not synced again (a late webhook, a retried
 * page). Also keeps sample inputs for the mapping playground and links the records that go on.
 */
async function dropErasedAndDeleted(batch: IngestBatch, raws: unknown[], valid: Mapped[]): Promise<Mapped[]> {
  const { hub, pipeline, ctx, entity, keyring } = batch;
  const sourceConn = pipeline.source.connection;
  const [erased, deleted] = await Promise.all([
    erasedSince(hub.store, keyring, valid.map((m) => m.key!)),
    pipeline.deletions === 'ignore' ? [] : deletedSince(hub, sourceConn, entity, valid.map((m) => String(m.record.externalId))),
  ]);
  const live: Mapped[] = [];
  for (let i = 0; i < valid.length; i++) {
    const m = valid[i];
    const at = m.record.updatedAt ?? m.record.occurredAt;
    if (erasedRecord(erased[i], at)) batch.skip(m, 'erased');
    else if (erasedRecord(deleted[i], at)) batch.skip(m, 'deleted');
    else live.push(m);
  }
  // Sample inputs for the mapping playground: what the source really sent (a replay is not a new
  // sending), without the records of erased persons.
  if (!ctx.onlyTarget) {
    const erasedRaws = new Set(valid.filter((_, i) => erasedRecord(erased[i], valid[i].record.updatedAt ?? valid[i].record.occurredAt)).map((m) => m.raw));
    captureSamples(hub, batch.tx, pipeline.name, erasedRaws.size ? raws.filter((r) => !erasedRaws.has(r)) : raws, ctx.events ? WEBHOOK_SAMPLES_EVERY_MS : 0);
  }
  hub.store.linkAll(batch.commit, sourceConn, entity, live.map((m) => ({ key: m.key!, externalId: String(m.record.externalId) })));
  return live;
}

async function applyUniqueness(batch: IngestBatch, records: Mapped[]): Promise<Mapped[]> {
  const { hub, pipeline, ctx } = batch;
  const { kept, rejected, merged } = await enforceUniqueness(hub, pipeline, records, ctx, (m, err) => batch.deadLetter(m, 'unique', err));
  for (const r of rejected) batch.deadLetter(r.m, 'unique', r.error);
  recordConflicts(hub, batch.tx, pipeline.name, ctx.runId, [...rejected.map((r) => r.conflict), ...merged]);
  return kept;
}

/** 6. echo: the source's own copy of what the hub last pushed to it is not synced back. */
async function dropEchoes(batch: IngestBatch, records: Mapped[]): Promise<Mapped[]> {
  if (!records.length) return records;
  const { hub, entity } = batch;
  const connection = batch.pipeline.source.connection;
  const mapping = hub.config.echoMapping(connection, entity);
  if (!mapping) return records;
  const fps = await hub.store.getFingerprints(connection, entity, records.map((m) => m.key!));
  const kept: Mapped[] = [];
  for (let i = 0; i < records.length; i++) {
    const m = records[i];
    const fp = fps[i];
    if (fp) {
      try {
        const mac = payloadMac(hub.config.keyring, await mapping.evaluate(m.record));
        if (fingerprintMatches(fp, mac)) {
          batch.skip(m, 'echo');
          continue;
        }
      } catch {
        // A record the out-mapping cannot map is not an echo of anything we sent.
      }
    }
    kept.push(m);
  }
  return kept;
}
