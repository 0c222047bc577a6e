import { DelayedError, type Job } from 'bullmq';
import type { Pipeline } from '../config/load.js';
import { WebhookMalformedError } from '../core/errors.js';
import { RECORDS_PER_TURN, yieldToEventLoop } from '../core/yield.js';
import type { Hub } from './hub.js';
import { WEBHOOK_BATCH_JOB, jobId, type WebhookBatchJobData, type WebhookEventData, type WebhookJobData } from './queues.js';
import { GONE_AT_SOURCE, recordFetcher, type FetchedRecord } from './record-fetch.js';
import { webhookIngestBatcher } from './webhook-batch.js';
import { openWebhookRecord } from './webhook-sealing.js';
import { eventSourcePage, openSourcePage, SOURCE_PAGE_AAD } from './source-pages.js';
import type { PrivacyRequest } from '../connectors/types.js';
import { applyDeletions } from '../operations/deletions.js';
import { handlePrivacyRequest } from '../operations/privacy-requests.js';
import { WEBHOOK_JOB_OPTIONS } from './webhook-store.js';

/** How often a held event looks again whether its pipeline was resumed. */
export const PAUSED_RECHECK_MS = 2000;

export interface WebhookJobResult {
  events: number;
  /** Events × pipelines ingested by this run of the job. */
  ingested: number;
  /** Events whose record no longer exists at the source. */
  gone: number;
  /** Events that failed here and were queued again each in a job of its own. */
  split: number;
}

/**
 * One event taken by one pipeline; `base` names its deliveries, dead letter and claim; `first`:
 * no job claimed it before, so nothing of it can have been handed on yet.
 */
interface Claim { event: WebhookEventData; pipeline: Pipeline; base: string; first?: boolean }

/**
 * Ingest worker side of stored webhook events: a 'webhooks' job carries the events of one
 * route write (WebhookEventStore), a 'webhook' job (queued before batches) one event.
 *
 * Each event is ingested once per pipeline taking it, however often the job runs: its claims
 * (WebhookEventMarks.claimWebhookEvents) are taken in one call as the job starts, so a copy of an event
 * in a second job (two processes stored it at once, or a store write failed after its job was
 * added and the sender retried) is ingested by one of them. A job that will run again (delayed
 * for a paused pipeline, or with events split off) marks what it ingested done, so that is not
 * ingested again. A job taken up again after its worker died takes its own claims again and
 * ingests those events again: ingest is idempotent per event (its deliveries, dead letter and
 * source page are named by `base`, and what was handed on already is not handed on twice).
 *
 * The records go through the process's ingest batcher (webhook-batch.ts), with those of the
 * other jobs running beside it. An event that fails (its record could not be fetched or opened,
 * its ingest threw) does not hold the others back: in a job of several events it is queued again
 * in a job of its own, which takes over its claim and is retried by BullMQ (rate-limit waits,
 * backoff, attempts) as one event was before batches; a job of one event fails itself. A record
 * refused by mapping or validation is not a failure: ingest dead-letters it alone. The events of
 * a paused pipeline wait: the job is delayed and looks again in PAUSED_RECHECK_MS.
 */
export async function processWebhookJob(hub: Hub, job: Job<WebhookBatchJobData | WebhookJobData>, signal?: AbortSignal, token?: string): Promise<WebhookJobResult> {
  const d = job.data;
  const { connection } = d;
  const ttlHours = hub.config.jobs.webhookDedupeHours;
  const all: WebhookEventData[] = 'events' in d ? d.events : [d];
  const before = 'events' in d ? [] : d.done ?? [];
  const result: WebhookJobResult = { events: all.length, ingested: 0, gone: 0, split: 0 };
  const failed = new Map<WebhookEventData, unknown>();

  // Data-subject requests (Shopify's compliance topics) concern everything the hub holds, not a
  // pipeline: each is handled here (privacy-requests.ts; erasing twice does nothing the second time).
  const events = all.filter((e) => !e.privacy);
  for (const event of all.filter((e) => e.privacy)) {
    try {
      await handlePrivacyRequest(hub, { ...event, connection }, (await openWebhookRecord(hub, { ...event, connection })) as PrivacyRequest);
    } catch (err) {
      failed.set(event, err);
    }
  }

  const taking = pipelinesTaking(hub, connection);
  const pairs: Claim[] = events.flatMap((event) => (taking.get(event.entity) ?? [])
    .filter((p) => !before.includes(p.name))
    .map((pipeline) => ({ event, pipeline, base: jobId('wh', connection, event.eventId, pipeline.name) })));
  if (!pairs.length && !failed.size) return result;
  const states = !pairs.length ? [] : await hub.store.webhookEvents.claimWebhookEvents(pairs.map((c) => c.base), String(job.id), 'events' in d ? d.from : undefined, ttlHours);
  const byEvent = new Map<WebhookEventData, Claim[]>();
  pairs.forEach((c, i) => {
    if (states[i] !== 'first' && states[i] !== 'again') return;
    // A job queued before claims may have been run by code that took none.
    c.first = states[i] === 'first' && 'events' in d;
    const list = byEvent.get(c.event);
    if (list) list.push(c);
    else byEvent.set(c.event, [c]);
  });

  const batcher = webhookIngestBatcher(hub);
  const done: string[] = [];
  const held: Claim[] = [];
  await Promise.all([...byEvent].map(async ([event, claims], i) => {
    // A job's 100 records opened (decrypted and parsed) in one go would hold the event loop
    // for milliseconds: RECORDS_PER_TURN per turn, as ingest maps them.
    for (let turn = Math.floor(i / RECORDS_PER_TURN); turn > 0; turn--) await yieldToEventLoop();
    // A deletion at the source (docs/deletions-and-erasure.md): 'always' says so by its topic,
    // 'if_gone' when the record it names is no longer there.
    const deleted = async () => {
      const deletion = { id: event.ref ?? '', deletedAt: event.occurredAt ?? event.receivedAt };
      for (const c of claims) await applyDeletions(hub, c.pipeline, [deletion], undefined, signal);
      done.push(...claims.map((c) => c.base));
    };
    let record: FetchedRecord;
    let page: Buffer | undefined;
    try {
      if (event.deletion === 'always' && event.ref) return await deleted();
      // Its source page is its record as the route sealed it, not opened and sealed again; the
      // record is opened from that page, so the stored text is decoded from base64 once.
      if (event.sealed) page = eventSourcePage(connection, event.sealed);
      record = page ? openSourcePage(hub.config.keyring, page, SOURCE_PAGE_AAD).records[0] : await eventRecord(hub, connection, event, signal);
      if (record === GONE_AT_SOURCE && event.deletion === 'if_gone') return await deleted();
    } catch (err) {
      failed.set(event, err);
      return;
    }
    if (record === GONE_AT_SOURCE) {
      // A recorded outcome, not an error: retrying cannot bring the record back.
      hub.logger.info({ connection, entity: event.entity, ref: event.ref }, 'webhook names a record that no longer exists at the source');
      const paused = await Promise.all(claims.map((c) => hub.store.pausedSince(c.pipeline.name)));
      const live = claims.filter((_, i) => !paused[i]);
      if (live.length) await Promise.all(live.map((c) => hub.store.recordOutcomes(c.pipeline.name, undefined, [[c.base, 'gone']])));
      done.push(...claims.map((c) => c.base));
      result.gone++;
      return;
    }
    const outcomes = await Promise.allSettled(claims.map((c) => batcher.ingest(c.pipeline, record, c.base, c.first, page)));
    outcomes.forEach((o, i) => {
      if (o.status === 'rejected') failed.set(event, o.reason);
      else if (o.value === 'paused') held.push(claims[i]);
      else done.push(claims[i].base);
    });
  }));
  // Marked done only when this job or a split of it runs again (a paused pipeline's events wait,
  // a failed event is retried alone): a job that completes is not run again, and one taken up
  // after its worker died ingests again what it had, which ingest does once in effect.
  if (held.length || failed.size) await hub.store.webhookEvents.webhookEventsDone(done, ttlHours);
  result.ingested = done.length;

  if (failed.size) {
    if (all.length === 1) throw failed.values().next().value;
    // Each failed event in a job of its own; the id keeps a retried split from queueing it twice.
    await hub.ingestQueue.addBulk([...failed.keys()].map((event) => ({
      name: WEBHOOK_BATCH_JOB,
      data: { connection, events: [event], from: String(job.id) } satisfies WebhookBatchJobData,
      opts: { ...WEBHOOK_JOB_OPTIONS, jobId: jobId('wh', connection, event.eventId, 'alone') },
    })));
    hub.logger.warn({ connection, job: job.id, events: [...failed.keys()].map((e) => e.eventId), errors: [...new Set([...failed.values()].map(errorCode))] }, 'webhook events failed to ingest in their batch; each is retried in a job of its own');
    result.split = failed.size;
  }
  if (held.length && token) {
    // Its paused pipelines' events wait; what was ingested is marked done and is not ingested again.
    await job.moveToDelayed(Date.now() + PAUSED_RECHECK_MS, token);
    throw new DelayedError();
  }
  return result;
}

/** The event's record: opened from the stored event, or fetched from the source by its reference. */
async function eventRecord(hub: Hub, connection: string, event: WebhookEventData, signal?: AbortSignal): Promise<FetchedRecord> {
  if (event.sealed || event.sealedFor) return openWebhookRecord(hub, { ...event, connection });
  if (event.ref) return recordFetcher(hub).fetch(connection, event.entity, event.ref, signal);
  throw new WebhookMalformedError('stored event has neither a record nor a reference');
}

/** An error's stable code for the log (its message may quote a record's values). */
function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.name : 'unknown';
}

const takingByConfig = new WeakMap<Hub['config'], Map<string, Map<string, Pipeline[]>>>();

/** The pipelines that take a connection's webhooks, by entity (worked out once per config). */
function pipelinesTaking(hub: Hub, connection: string): Map<string, Pipeline[]> {
  let byConnection = takingByConfig.get(hub.config);
  if (!byConnection) takingByConfig.set(hub.config, (byConnection = new Map()));
  let byEntity = byConnection.get(connection);
  if (!byEntity) {
    byEntity = new Map();
    for (const p of hub.config.pipelines.values()) {
      if (!p.webhooks || p.source.connection !== connection) continue;
      const list = byEntity.get(p.source.entity);
      if (list) list.push(p);
      else byEntity.set(p.source.entity, [p]);
    }
    byConnection.set(connection, byEntity);
  }
  return byEntity;
}
