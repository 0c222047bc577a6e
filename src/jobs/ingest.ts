import type { JobsOptions } from 'bullmq';
import type { Pipeline } from '../config/load.js';
import type { CanonicalOrder, CanonicalPayment, Entity } from '../core/canonical/schemas.js';
import { canonicalProblems } from '../core/canonical/validate.js';
import { encryptRecord, sealJson } from '../core/crypto.js';
import { ValidationError, errorToJson, type SynchubError } from '../core/errors.js';
import { decideTransition } from '../core/lifecycle.js';
import type { Outcome } from '../state/store.js';
import type { Hub } from './hub.js';
import { jobId, type PushItemData, type PushJobData } from './queues.js';
import { fingerprintMatches, payloadMac } from './fingerprint.js';
import { appendEvents, queueNotifications, recordOrders, recordPayments, type AppliedOrder } from './order-events.js';
import { captureSamples } from './samples.js';

/**
 * The inbound half of the data path, shared by pulled pages and webhook events:
 *
 *   map in (JSONata) → transform → validate (AJV) → canonical key → lifecycle
 *   → echo check → encrypt → hand on to each target's push queue
 *
 * A record that fails a stage is dead-lettered with its reason and its sealed
 * source record; it never stops the rest of the page.
 */

export const SOURCE_AAD = 'source';

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
}

interface Mapped {
  index: number;
  raw: unknown;
  record: Record<string, unknown>;
  key?: string;
}

export interface HandOn {
  /** Deliveries (records × targets) this batch accounts for. */
  deliveries: number;
  pushed: number;
  skipped: number;
  dead: number;
}

function deliveryId(ctx: IngestContext, index: number, target: string): string {
  return `${ctx.deliveryBase ?? ctx.seq ?? 'once'}.${index}>${target}`;
}

export async function ingestRecords(hub: Hub, pipeline: Pipeline, raws: unknown[], ctx: IngestContext = {}): Promise<HandOn> {
  const { config, store, logger } = hub;
  const { keyring } = config;
  const entity = pipeline.source.entity;
  const targets = ctx.onlyTarget ? pipeline.targets.filter((t) => t.connection === ctx.onlyTarget) : pipeline.targets;
  const outcomes: [string, Outcome][] = [];
  const tx = store.redis.multi();
  let dead = 0;
  let skipped = 0;

  const deadLetter = (m: { index: number; raw: unknown; key?: string }, step: string, err: SynchubError | unknown) => {
    store.addDeadLetter(tx, {
      pipeline: pipeline.name, step, connection: pipeline.source.connection, entity, key: m.key,
      target: ctx.onlyTarget, error: errorToJson(err), attempts: 1,
      source: sealJson(keyring, m.raw, SOURCE_AAD), runId: ctx.runId,
    }, ctx.deadLetterBase ? `${ctx.deadLetterBase}.${m.index}` : undefined);
    for (const t of targets) outcomes.push([deliveryId(ctx, m.index, t.connection), 'dead']);
    dead++;
  };
  const skip = (m: Mapped, why: string) => {
    logger.debug({ pipeline: pipeline.name, key: m.key, why }, 'record skipped');
    for (const t of targets) outcomes.push([deliveryId(ctx, m.index, t.connection), 'skipped']);
    skipped++;
  };

  // Sample inputs for the mapping playground: what the source really sent (a replay is not a new sending).
  if (!ctx.onlyTarget) captureSamples(hub, tx, pipeline.name, raws);

  // 1-3. map in, transform, validate
  const valid: Mapped[] = [];
  await Promise.all(raws.map(async (raw, index) => {
    let record: unknown;
    try {
      record = await pipeline.source.mapIn.evaluate(raw);
    } catch (err) {
      return deadLetter({ index, raw }, 'map_in', err);
    }
    if (pipeline.transform) {
      try {
        record = await pipeline.transform.evaluate(record);
      } catch (err) {
        return deadLetter({ index, raw }, 'transform', err);
      }
    }
    const problems = canonicalProblems(entity, record);
    if (problems.length) return deadLetter({ index, raw }, 'validate', new ValidationError(entity, problems));
    valid.push({ index, raw, record: record as Record<string, unknown> });
  }));
  valid.sort((a, b) => a.index - b.index);

  // 4. canonical keys: an id the hub has linked before keeps its key; customers meet by blind-indexed email.
  const sourceConn = pipeline.source.connection;
  const known = await store.keysForExternalIds(sourceConn, entity, valid.map((m) => String(m.record.externalId)));
  valid.forEach((m, i) => {
    m.key = known[i] ?? canonicalKey(hub, entity, sourceConn, m.record);
    store.link(tx, m.key, sourceConn, entity, String(m.record.externalId));
  });

  // 5. lifecycle: a late event never moves an order back.
  let live = valid;
  const applied: AppliedOrder[] = [];
  if (entity === 'order') live = await applyLifecycle(hub, valid, skip, applied);

  // Facts for the order figures; status changes and payment results as events (stream + notification sinks).
  const events = entity === 'order'
    ? recordOrders(hub, tx, pipeline, applied)
    : entity === 'payment' ? await recordPayments(hub, tx, pipeline, valid.map((m) => m.record as unknown as CanonicalPayment)) : [];
  appendEvents(hub, tx, events);

  // 6. echo: the source's own copy of what the hub last pushed to it is not synced back.
  live = await dropEchoes(hub, sourceConn, entity, live, skip);

  // 7-8. encrypt and hand on
  const jobsByTarget = new Map<string, { name: string; data: PushJobData; opts: JobsOptions }[]>();
  for (const target of targets) {
    const def = config.connectorOf(target.connection);
    const size = Math.max(1, Math.min(pipeline.batchSize, def.maxPushBatch ?? pipeline.batchSize));
    const items: PushItemData[] = live.map((m) => ({
      key: m.key!, delivery: deliveryId(ctx, m.index, target.connection), version: Date.parse(String(m.record.updatedAt)) || 0,
      rec: encryptRecord(keyring, entity, m.record), src: sealJson(keyring, m.raw, SOURCE_AAD),
    }));
    const jobs = [];
    for (let i = 0; i < items.length; i += size) {
      const chunk = items.slice(i, i + size);
      jobs.push({
        name: 'push',
        data: { pipeline: pipeline.name, runId: ctx.runId, target: target.connection, entity: target.entity, sourceEntity: entity, items: chunk },
        opts: {
          ...pushJobOptions(hub, target.connection),
          // Re-handing the same page (a retried pull job) does not queue its batches twice.
          ...(ctx.runId ? { jobId: jobId(ctx.runId, ctx.seq ?? 0, target.connection, i / size) } : {}),
        },
      });
    }
    jobsByTarget.set(target.connection, jobs);
  }

  await tx.exec();
  await Promise.all([...jobsByTarget].map(([conn, jobs]) => (jobs.length ? hub.pushQueue(conn).addBulk(jobs) : undefined)));
  await queueNotifications(hub, pipeline, events);
  await store.recordOutcomes(pipeline.name, ctx.runId, outcomes);
  return { deliveries: raws.length * targets.length, pushed: live.length * targets.length, skipped, dead };
}

export function pushJobOptions(hub: Hub, connection: string): JobsOptions {
  const retry = hub.config.connections.get(connection)?.retry;
  const attempts = retry?.attempts ?? hub.config.jobs.attempts;
  const backoffMs = retry?.backoffMs ?? hub.config.jobs.backoffMs;
  return {
    attempts,
    backoff: { type: 'exponential', delay: backoffMs, jitter: 0.5 },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

function canonicalKey(hub: Hub, entity: Entity, connection: string, record: Record<string, unknown>): string {
  if (entity === 'customer' && typeof record.email === 'string' && record.email) return `customer:${hub.config.keyring.blindIndex(record.email)}`;
  return `${entity}:${connection}:${record.externalId}`;
}

/** `applied` receives each kept order with the status it had before (for facts and events). */
async function applyLifecycle(hub: Hub, records: Mapped[], skip: (m: Mapped, why: string) => void, applied: AppliedOrder[]): Promise<Mapped[]> {
  const kept: Mapped[] = [];
  let pending = records;
  for (let round = 0; pending.length && round < 5; round++) {
    const states = await hub.store.getLifecycle(pending.map((m) => m.key!));
    const retry: Mapped[] = [];
    await Promise.all(pending.map(async (m, i) => {
      const order = m.record as unknown as CanonicalOrder;
      const { raw, state } = states[i];
      const decision = decideTransition(state, order.status, order.updatedAt);
      if (!decision.apply && decision.reason === 'stale_event') return skip(m, 'stale_event');
      if (!decision.apply) {
        hub.logger.info({ key: m.key, from: state?.status, to: order.status }, 'order status change refused by the lifecycle table; the order keeps its state');
        order.status = decision.status;
      }
      const next = { status: decision.status, at: state && Date.parse(state.at) > Date.parse(order.updatedAt) ? state.at : order.updatedAt };
      if (raw === JSON.stringify(next) || (await hub.store.casLifecycle(m.key!, raw, next))) {
        kept.push(m);
        applied.push({ key: m.key!, order, previous: state?.status });
      } else retry.push(m);
    }));
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
  await Promise.all(records.map(async (m, i) => {
    const fp = fps[i];
    if (fp) {
      try {
        const mac = payloadMac(hub.config.keyring, await mapping.evaluate(m.record));
        if (fingerprintMatches(fp, mac)) return skip(m, 'echo');
      } catch {
        // A record the out-mapping cannot map is not an echo of anything we sent.
      }
    }
    kept.push(m);
  }));
  return kept.sort((a, b) => a.index - b.index);
}
