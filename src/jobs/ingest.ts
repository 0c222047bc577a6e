import { randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type { Pipeline, PipelineTarget } from '../config/load.js';
import type { CanonicalOrder, Entity } from '../core/canonical/schemas.js';
import { canonicalProblems } from '../core/canonical/validate.js';
import { sealJson, sealJsonBytes } from '../core/crypto.js';
import { ValidationError, type SynchubError } from '../core/errors.js';
import { PersonalValues, deadLetterError } from '../core/redact.js';
import { decideTransition } from '../core/lifecycle.js';
import { RECORDS_PER_TURN, yieldToEventLoop } from '../core/yield.js';
import type { Outcome } from '../state/store.js';
import { batchRecordsBytes } from '../state/push-records.js';
import type { Hub } from './hub.js';
import { itemsDigest, jobId, pushJobOptions, pushRecordsAad, type PushItemData, type PushJobData } from './queues.js';
import { SOURCE_AAD, SOURCE_PAGE_AAD } from './source-pages.js';
import { fingerprintMatches, payloadMac } from './fingerprint.js';
import { combineStatus, ledgerEffect, type PaymentFact } from '../core/payments.js';
import { assignCustomerTypes } from '../operations/order-types.js';
import { queueSegmentUpdates, recordSegmentOrders } from '../operations/segments/segments.js';
import { SNAPSHOT_AAD, applyPayment, orderVersion, releaseParked, withPayments, type OrderUpdate } from './payments.js';
import { appendEvents, queueNotifications, recordApplied } from './order-events.js';
import { WEBHOOK_SAMPLES_EVERY_MS, captureSamples } from './samples.js';
import { enforceUniqueness, recordConflicts } from '../operations/uniqueness.js';
import { holdForApproval, keepHeldBack } from '../operations/approval.js';
import { coalesceInto, pushBatchCap, requestWindowFlush, type Coalescing } from './coalesce.js';
import { IngestSteps } from '../timeline/ingest-steps.js';
import { deletedSince } from '../operations/deletions.js';
import { PersonIndex, erasedRecord, erasedSince, personOf, pushrecRef, srcpageRef } from '../operations/erasure-index.js';

/**
 * The inbound half of the data path, shared by pulled pages and webhook events:
 *
 *   map in (JSONata) → transform → validate (AJV) → canonical key → lifecycle
 *   → echo check → encrypt → hand on to each target's push queue
 *
 * A record that fails a stage is dead-lettered with its reason and its sealed
 * source record; it never stops the rest of the page.
 */


export interface IngestContext {
  runId?: string;
  /** Page number within the run; with the record's index it names the record's deliveries. */
  seq?: number;
  /** Names the deliveries outside a run (a webhook event, a replay), so a retried job counts each once. */
  deliveryBase?: string;
  /** Replay: hand on only to this target. */
  onlyTarget?: string;
  /** Stable prefix of dead-letter ids, so a retried job does not dead-letter a record twice. */
  deadLetterBase?: string;
  /** The records are those of a source page kept already (a pulled page), in this order. */
  sourcePage?: { id: string; aad: string };
  /** A webhook event: its records wait up to `jobs.pushLingerMs` to be pushed with others (coalesce.ts). */
  coalesce?: boolean;
  /**
   * Webhook events ingested together (webhook-batch.ts): `raws[i]` is the one record of the
   * event named `events[i]`, and its deliveries, dead letter and source page are named by it
   * as if it were ingested alone (deliveryBase and deadLetterBase both `events[i]`, index 0).
   */
  events?: string[];
  /** With `events`: `eventsFirst[i]` the event was never ingested before, so nothing of it was handed on. */
  eventsFirst?: boolean[];
  /** With `events`: `eventPages[i]` the event's source page as kept already sealed (source-pages.ts eventSourcePage), or undefined to seal its record here. */
  eventPages?: (Buffer | undefined)[];
}

interface Mapped {
  index: number;
  raw: unknown;
  record: Record<string, unknown>;
  key?: string;
  /** Orders: the push version (the order's own updates and its payments, see payments.ts). */
  version?: number;
  /** Payments: the order they updated. */
  update?: OrderUpdate;
  /** Orders without payments: the record's JSON text, made once for its snapshot and its push batch. */
  json?: string;
}

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
// ingestRecords' own code, which stays optimised.

/** A payment fact as the ledger keeps it (JSON text). */
const parsePaymentFact = (text: string) => JSON.parse(text) as PaymentFact;

/** A record's person (an HMAC of its email), computed once per record of the call (`cache`). */
function ownerOf(cache: Map<Mapped, string | undefined>, keyring: Hub['config']['keyring'], entity: Entity, m: Mapped): string | undefined {
  if (!cache.has(m)) cache.set(m, personOf(keyring, entity, m.key, m.record));
  return cache.get(m);
}

function deliveryId(ctx: IngestContext, index: number, target: string): string {
  if (ctx.events) return `${ctx.events[index]}.0>${target}`;
  return `${ctx.deliveryBase ?? ctx.seq ?? 'once'}.${index}>${target}`;
}

/** The id of a record's dead letter, stable across retries (undefined: a new one). */
function deadLetterId(ctx: IngestContext, index: number): string | undefined {
  if (ctx.events) return `${ctx.events[index]}.0`;
  return ctx.deadLetterBase ? `${ctx.deadLetterBase}.${index}` : undefined;
}

/** Source page of a webhook event ingested alone or with others, named by the event (a retry writes the same page). */
const eventPageId = (base: string) => `ingest:${base}`;

export async function ingestRecords(hub: Hub, pipeline: Pipeline, raws: unknown[], ctx: IngestContext = {}): Promise<HandOn> {
  const { config, store, logger } = hub;
  const { keyring } = config;
  const entity = pipeline.source.entity;
  const targets = ctx.onlyTarget ? pipeline.targets.filter((t) => t.connection === ctx.onlyTarget) : pipeline.targets;
  const outcomes: [string, Outcome][] = [];
  // Records' links and order snapshots (with their order-number index), and the source pages'
  // sealed bytes (StateStore.sourcePageKey), go to their groups (src/state/sharded.ts); the rest
  // (a page's pending deliveries too) is the hub's, and commits once every group is in. Those are
  // overwrites with the same values, so an ingest stopped between the two is completed by its
  // retry (which finds the same keys by them); nothing is handed on or counted before the hub's
  // part, which holds every other write, commits whole.
  //
  // On a cluster with shards the push batches' records (`pushrec`, PushRecordStore) are a third
  // step (`batches`), in their batches' groups, after the hub's part and before the push jobs
  // are added; on one Redis they are in the same one MULTI as before. Why this order is safe:
  // - a push job never names a batch that is not fully written: the jobs are added only once
  //   `batches` is in;
  // - stopped before `batches`, no batch is written: nothing names one yet (the person index,
  //   written with the hub's part, may name a batch not there yet: erasure passes over it);
  //   the retry writes every step again, as a retry after the commit and before the jobs did
  //   before (a run page's batches under the same ids, and their jobs under the same job ids);
  // - stopped within `batches`, some are written: each is a SET of a whole batch under its own
  //   id, which the retry writes again (a run page's) or leaves to expire unnamed by any job
  //   (other ids are new on each attempt); it is named in the person index, so an erasure
  //   finds it before then. Written before the hub's part instead, a batch written by an
  //   attempt whose hub part never committed would be named nowhere for erasure to find.
  const commit = store.tx('ingest');
  const tx = commit.afterwards().hub();
  const batches = commit.afterwards().afterwards('ingest batches');
  let dead = 0;
  let skipped = 0;
  // The records' timelines (src/timeline/): written with this call's transaction.
  const steps = new IngestSteps(hub, pipeline, ctx, raws.length);

  const sourceFields = config.connectorOf(pipeline.source.connection).personalFields;
  // The reason is scrubbed of the record's personal values (a mapping error may quote one) and kept sealed as it was.
  // Where this batch puts each person's records, for erasure (src/operations/erasure-index.ts).
  const persons = new PersonIndex();
  const deadOwners: { index: number; owners: string[] }[] = [];
  const deadLetter = (m: { index: number; raw: unknown; key?: string; record?: unknown }, step: string, err: SynchubError | unknown) => {
    const personal = new PersonalValues().addPaths(m.raw, sourceFields);
    if (m.record !== undefined) personal.addCanonical(entity, m.record);
    // A record refused before it had a key (transform, validate) gets the one its id gives, so
    // its timeline shows the refusal and the replay; none when the mapping gave no id.
    const record = m.record as Record<string, unknown> | undefined;
    const key = m.key ?? (record && (typeof record.externalId === 'string' || typeof record.externalId === 'number') ? canonicalKey(hub, entity, pipeline.source.connection, record) : undefined);
    const reason = deadLetterError(keyring, err, personal);
    const id = store.addDeadLetter(commit, {
      pipeline: pipeline.name, step, connection: pipeline.source.connection, entity, key,
      target: ctx.onlyTarget, ...reason, attempts: 1,
      source: sealJson(keyring, m.raw, SOURCE_AAD), runId: ctx.runId,
    }, deadLetterId(ctx, m.index));
    if (key) {
      if (!m.key) steps.keyed(m.index, key);
      steps.deadLettered(m.index, key, step, reason.error.code, id);
    }
    const owners = new Set(personal.emails().map((email) => `customer:${keyring.blindIndex(email)}`));
    if (m.record && typeof m.record === 'object') owners.add(personOf(keyring, entity, key, m.record as Record<string, unknown>) ?? '');
    owners.delete('');
    for (const owner of owners) persons.addKey(owner, `dlq|${id}`);
    deadOwners.push({ index: m.index, owners: [...owners] });
    for (const t of targets) outcomes.push([deliveryId(ctx, m.index, t.connection), 'dead']);
    dead++;
  };
  const skip = (m: Mapped, why: string) => {
    logger.debug({ pipeline: pipeline.name, key: m.key, why }, 'record skipped');
    steps.skipped(m.key!, why);
    for (const t of targets) outcomes.push([deliveryId(ctx, m.index, t.connection), 'skipped']);
    skipped++;
  };

  // 1-3. map in, transform, validate. One record at a time: JSONata's timeout is wall-clock,
  // so evaluating a page concurrently would charge each record for all the others.
  let valid: Mapped[] = [];
  for (let index = 0; index < raws.length; index++) {
    if (index > 0 && index % RECORDS_PER_TURN === 0) await yieldToEventLoop();
    const raw = raws[index];
    let record: unknown;
    try {
      record = await pipeline.source.mapIn.evaluate(raw);
    } catch (err) {
      deadLetter({ index, raw }, 'map_in', err);
      continue;
    }
    steps.mapped(index);
    if (pipeline.transform) {
      try {
        record = await pipeline.transform.evaluate(record);
      } catch (err) {
        deadLetter({ index, raw, record }, 'transform', err);
        continue;
      }
    }
    const problems = canonicalProblems(entity, record);
    if (problems.length) {
      deadLetter({ index, raw, record }, 'validate', new ValidationError(entity, problems));
      continue;
    }
    steps.validated(index);
    valid.push({ index, raw, record: record as Record<string, unknown> });
  }
  valid.sort((a, b) => a.index - b.index);

  // 4. canonical keys: an id the hub has linked before keeps its key; customers meet by blind-indexed email.
  const sourceConn = pipeline.source.connection;
  const known = await store.keysForExternalIds(sourceConn, entity, valid.map((m) => String(m.record.externalId)));
  for (let i = 0; i < valid.length; i++) {
    const m = valid[i];
    m.key = known[i] ?? canonicalKey(hub, entity, sourceConn, m.record);
    steps.keyed(m.index, m.key);
  }
  // 4b. uniqueness rules: a record whose unique key another record holds is rejected or merged into it.
  if (pipeline.unique.length) valid = await applyUniqueness(hub, tx, pipeline, valid, ctx, (m, err) => deadLetter(m, 'unique', err));
  // 4c. erasure and deletions: a record of an erased person, or one its source deleted, that is
  //     not newer than the erasure or the deletion is not synced again (a late webhook, a retried page).
  const [erased, deleted] = await Promise.all([
    erasedSince(store, keyring, valid.map((m) => m.key!)),
    pipeline.deletions === 'ignore' ? [] : deletedSince(hub, sourceConn, entity, valid.map((m) => String(m.record.externalId))),
  ]);
  let live: Mapped[] = [];
  for (let i = 0; i < valid.length; i++) {
    const m = valid[i];
    const at = m.record.updatedAt ?? m.record.occurredAt;
    if (erasedRecord(erased[i], at)) skip(m, 'erased');
    else if (erasedRecord(deleted[i], at)) skip(m, 'deleted');
    else live.push(m);
  }
  // Sample inputs for the mapping playground: what the source really sent (a replay is not a new
  // sending), without the records of erased persons.
  if (!ctx.onlyTarget) {
    const erasedRaws = new Set(valid.filter((_, i) => erasedRecord(erased[i], valid[i].record.updatedAt ?? valid[i].record.occurredAt)).map((m) => m.raw));
    captureSamples(hub, tx, pipeline.name, erasedRaws.size ? raws.filter((r) => !erasedRaws.has(r)) : raws, ctx.events ? WEBHOOK_SAMPLES_EVERY_MS : 0);
  }
  store.linkAll(commit, sourceConn, entity, live.map((m) => ({ key: m.key!, externalId: String(m.record.externalId) })));

  // 5. lifecycle: a late event never moves an order back. The order is kept (sealed) as its
  //    own system says, so payments can find it; what its payments say is laid over it.
  const segmentCustomers: string[] = [];
  if (entity === 'order') {
    live = await applyLifecycle(hub, live, skip);
    const facts = await store.orders.paymentFacts(live.map((m) => m.key!));
    const snapshots: { key: string; sealed: Buffer; orderNumber: string }[] = [];
    const pending: { orderNumber: string; createdAt: string; pending: boolean }[] = [];
    // 5a. order types: new or returning customer, from the hub's history across sources (kept with the order).
    const effects: ReturnType<typeof ledgerEffect>[] = [];
    const typed: Parameters<typeof assignCustomerTypes>[1] = [];
    for (let i = 0; i < live.length; i++) {
      const order = live[i].record as unknown as CanonicalOrder;
      const effect = ledgerEffect(facts[i].map(parsePaymentFact), order);
      effects.push(effect);
      typed.push({ key: live[i].key!, connection: sourceConn, order, status: combineStatus(order.status, effect.status) });
    }
    await assignCustomerTypes(hub, typed);
    // ... and the customer's order history, for their segment (src/operations/segments).
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
  }

  // 5b. payments: each result is applied to its order (or kept until the order arrives).
  if (entity === 'payment' && targets.some((t) => t.entity === 'order')) {
    const applied: Mapped[] = [];
    for (const m of live) {
      const r = await applyPayment(hub, pipeline, m.record as never, m.raw);
      if (r.kind === 'parked') skip(m, 'order_not_seen_yet');
      else {
        steps.payment([m.key!, r.update.key], m.record as never);
        applied.push({ ...m, update: r.update });
        store.orders.markPending(tx, r.update.record.orderNumber, r.update.record.createdAt, r.update.record.status === 'pending_payment');
      }
    }
    // A payment can make its order paid: the order's type is judged again with it.
    // (An order's key names its source connection: order:<connection>:<id>.)
    const typed = applied.map((a) => ({ key: a.update!.key, connection: a.update!.key.split(':')[1] ?? '', order: a.update!.record, status: a.update!.record.status }));
    await assignCustomerTypes(hub, typed);
    segmentCustomers.push(...recordSegmentOrders(hub, tx, typed));
    live = applied;
  }

  // Facts for the order figures; order status changes and payment results, as applied, as events (stream + notification sinks).
  const events = await recordApplied(hub, commit, tx, pipeline, entity, live);
  // 5c. approval: orders the pipeline's rule holds, and payments' updates of held orders, wait for a decision.
  if (entity === 'order' && pipeline.approval) {
    const held = await holdForApproval(hub, pipeline, live, skip);
    live = held.live;
    events.push(...held.events);
  } else if (entity === 'payment' && hub.config.approvals) live = await keepHeldBack(hub, live, skip);
  appendEvents(hub, tx, events);
  steps.statusChanges(events);

  // 6. echo: the source's own copy of what the hub last pushed to it is not synced back.
  live = await dropEchoes(hub, sourceConn, entity, live, skip);

  // 7-8. encrypt and hand on: each push batch's records sealed together (see pushRecordsAad)
  //      and kept beside its job (PushRecordStore.keep). The sources stay in Redis,
  //      sealed once as a page for every target, beside the push jobs rather than inside them
  //      (see StateStore.keepSources). Both are written before the jobs are added.
  const jobsByTarget = new Map<string, { name: string; data: PushJobData; opts: JobsOptions }[]>();
  // Webhook events ingested together keep a page each (eventPageId), named on each item.
  const sources = ctx.sourcePage ?? { id: ctx.events ? `ingest:batch:${randomUUID()}` : `ingest:${ctx.deadLetterBase ?? ctx.deliveryBase ?? (ctx.runId ? `${ctx.runId}.${ctx.seq ?? 0}` : randomUUID())}`, aad: SOURCE_PAGE_AAD };
  const handedOn: string[] = [];
  // Each batch's records are kept under a key of their own job: a page handed on again (a
  // retried page job) finds its jobs queued already under their ids, and must not overwrite
  // their records with a batch of other items, so within a run the key names the batch's
  // items; outside a run every hand-on queues new jobs, and their records a key of their own.
  const batchTag = ctx.runId ? undefined : randomUUID();
  const coalescing: Coalescing[] = [];
  const coalesce = ctx.coalesce && !ctx.runId && config.jobs.pushLingerMs > 0;
  // A webhook job taken up again (its worker died, or the shared ingest it was part of failed
  // after its transaction): what that attempt handed on waits in its list or its push job
  // (its source page keeps the delivery pending) or was pushed already (its outcome is
  // recorded), so it is not appended twice.
  const handedBefore = new Set<string>();
  const reflush: PipelineTarget[] = [];
  if (ctx.events && coalesce && live.length) {
    const asked = live.filter((m) => !ctx.eventsFirst?.[m.index]).flatMap((m) => targets.map((t) => ({ page: eventPageId(ctx.events![m.index]), delivery: deliveryId(ctx, m.index, t.connection) })));
    (await store.handedOnAlready(pipeline.name, asked)).forEach((pending, i) => { if (pending) handedBefore.add(asked[i].delivery); });
  }
  // Each record's person once (an HMAC of its email), for its keys, page and batch entries.
  const personCache = new Map<Mapped, string | undefined>();
  const personOfLive: (string | undefined)[] = [];
  for (const m of live) {
    const person = ownerOf(personCache, keyring, entity, m);
    personOfLive.push(person);
    persons.addKey(person, m.key!);
    if (m.update) persons.addKey(personOf(keyring, 'order', m.update.key, m.update.record as never), m.update.key);
    if (ctx.events) persons.addRef(person, srcpageRef(SOURCE_PAGE_AAD, 0, eventPageId(ctx.events[m.index])));
  }
  // A page (pulled, or kept whole) holds every record of the batch, pushed or not.
  if (!ctx.events) {
    for (const m of valid) persons.addRef(ownerOf(personCache, keyring, entity, m), srcpageRef(sources.aad, m.index, sources.id));
    for (const d of deadOwners) for (const owner of d.owners) persons.addRef(owner, srcpageRef(sources.aad, d.index, sources.id));
  }
  for (const target of targets) {
    // Webhook events ingested together but not coalesced (jobs.pushLingerMs 0) are still pushed each alone.
    const size = ctx.events ? 1 : pushBatchCap(hub, pipeline, target.connection);
    // A payment pipeline hands on the orders its payments updated.
    const asOrder = entity === 'payment' && target.entity === 'order';
    const handEntity: Entity = asOrder ? 'order' : entity;
    const items: PushItemData[] = [];
    const records: string[] = [];
    for (const m of live) {
      items.push({
        key: asOrder ? m.update!.key : m.key!,
        delivery: deliveryId(ctx, m.index, target.connection),
        version: asOrder ? m.update!.version : m.version ?? ((Date.parse(String(m.record.updatedAt)) || 0) * 1000),
        ...(ctx.events ? { srcIndex: 0, srcPage: eventPageId(ctx.events[m.index]) } : { srcIndex: m.index }),
      });
      records.push(asOrder ? JSON.stringify(m.update!.record) : m.json ?? JSON.stringify(m.record));
    }
    for (const item of items) handedOn.push(item.delivery);
    if (coalesce) {
      const fresh = items.flatMap((i, n) => (handedBefore.has(i.delivery) ? [] : [n]));
      if (fresh.length) coalescing.push(coalesceInto(hub, pipeline, target, handEntity, fresh.map((n) => ({ ...items[n], srcPage: items[n].srcPage ?? sources.id })), fresh.map((n) => records[n])));
      // Its flush may not have been asked for before the attempt stopped.
      if (fresh.length < items.length) reflush.push(target);
      continue;
    }
    const jobs = [];
    for (let i = 0; i < items.length; i += size) {
      const chunk = items.slice(i, i + size);
      // The batch's records as one JSON array, from each record's text, sealed as bytes beside the job.
      const recordsKey = `${sources.id}>${target.connection}.${i / size}.${batchTag ?? itemsDigest(chunk)}`;
      const aad = pushRecordsAad(target.connection, chunk);
      store.pushRecords.keep(batches, recordsKey, keyring.encryptBytes(batchRecordsBytes(records, i, Math.min(i + size, records.length)), aad));
      for (let j = i; j < Math.min(i + size, live.length); j++) {
        persons.addRef(asOrder ? personOf(keyring, 'order', live[j].update!.key, live[j].update!.record as never) : personOfLive[j], pushrecRef(aad, j - i, recordsKey));
      }
      jobs.push({
        name: 'push',
        data: { pipeline: pipeline.name, runId: ctx.runId, target: target.connection, entity: target.entity, sourceEntity: handEntity, items: chunk, recordsKey, sources: { page: sources.id, aad: sources.aad } },
        opts: {
          ...pushJobOptions(hub, target.connection),
          // Re-handing the same page (a retried pull job) does not queue its batches twice.
          ...(ctx.runId ? { jobId: jobId(ctx.runId, ctx.seq ?? 0, target.connection, i / size) } : {}),
        },
      });
    }
    jobsByTarget.set(target.connection, jobs);
  }
  if (ctx.events) {
    // One page per event, holding its one record, kept while its own deliveries are pending.
    for (const m of live) {
      const deliveries = targets.map((t) => deliveryId(ctx, m.index, t.connection));
      store.keepSources(commit, eventPageId(ctx.events[m.index]), ctx.eventPages?.[m.index] ?? sealJsonBytes(keyring, { records: [raws[m.index]] }, SOURCE_PAGE_AAD), deliveries);
    }
  } else if (ctx.sourcePage) store.keepPulledSources(commit, sources.id, handedOn);
  else store.keepSources(commit, sources.id, handedOn.length ? sealJsonBytes(keyring, { records: raws }, SOURCE_PAGE_AAD) : undefined, handedOn);

  steps.queued(live.map((m) => (entity === 'payment' && m.update ? m.update.key : m.key!)), targets.map((t) => t.connection), coalesce === true);
  steps.write(tx);
  // In the groups' step: the index names the batch's pages and batches before they are written.
  persons.write(store, commit);
  // Coalesced records last, one command each, so their answers are the transaction's last ones.
  for (const c of coalescing) c.append(tx);
  await commit.exec();
  const results = commit.repliesOf(tx);
  const lengths = results.slice(results.length - coalescing.length).map(([, n]) => Number(n));
  await Promise.all([
    ...[...jobsByTarget].map(([conn, jobs]) => (jobs.length ? hub.pushQueue(conn).addBulk(jobs) : undefined)),
    ...coalescing.map((c, i) => c.requestFlushes(lengths[i])),
    ...reflush.map((target) => requestWindowFlush(hub, pipeline, target)),
  ]);
  await queueNotifications(hub, pipeline, events);
  await queueSegmentUpdates(hub, segmentCustomers);
  await store.recordOutcomes(pipeline.name, ctx.runId, outcomes);
  // Orders that payments were waiting for: apply those payments now, through their own pipelines.
  if (entity === 'order' && live.length) {
    const waiting = await store.orders.parkedAmong([...new Set(live.map((m) => String(m.record.orderNumber)))]);
    if (waiting.length) await releaseParked(hub, waiting, (p, raw, base) => ingestRecords(hub, p, [raw], { deliveryBase: base, deadLetterBase: base }));
  }
  return { deliveries: raws.length * targets.length, pushed: live.length * targets.length, skipped, dead };
}

export function canonicalKey(hub: Hub, entity: Entity, connection: string, record: Record<string, unknown>): string {
  if (entity === 'customer' && typeof record.email === 'string' && record.email) return `customer:${hub.config.keyring.blindIndex(record.email)}`;
  return `${entity}:${connection}:${record.externalId}`;
}

async function applyUniqueness(hub: Hub, tx: ReturnType<Hub['store']['redis']['multi']>, pipeline: Pipeline, records: Mapped[], ctx: IngestContext, deadLetter: (m: Mapped, err: unknown) => void): Promise<Mapped[]> {
  const { kept, rejected, merged } = await enforceUniqueness(hub, pipeline, records, ctx, deadLetter);
  for (const r of rejected) deadLetter(r.m, r.error);
  recordConflicts(hub, tx, pipeline.name, ctx.runId, [...rejected.map((r) => r.conflict), ...merged]);
  return kept;
}

async function applyLifecycle(hub: Hub, records: Mapped[], skip: (m: Mapped, why: string) => void): Promise<Mapped[]> {
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
        skip(m, 'stale_event');
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
  for (const m of pending) skip(m, 'lifecycle_contended');
  return kept.sort((a, b) => a.index - b.index);
}

async function dropEchoes(hub: Hub, connection: string, entity: Entity, records: Mapped[], skip: (m: Mapped, why: string) => void): Promise<Mapped[]> {
  if (!records.length) return records;
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
          skip(m, 'echo');
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
