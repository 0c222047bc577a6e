import { randomUUID } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { Pipeline, PipelineTarget } from '../config/load.js';
import type { Entity } from '../core/canonical/schemas.js';
import type { Hub } from './hub.js';
import { itemPages, settleItemSources } from './push.js';
import { SOURCE_PAGE_AAD } from './source-pages.js';
import { COALESCED_BATCH_PREFIX } from '../state/push-records.js';
import { coalescedEntryAad as entryAad, coalescedEntryHead as entryHead, parseCoalescedEntry as parseEntry, type CoalescedEntry } from './coalesced-entry.js';
import { itemsDigest, jobId, pushJobOptions, type FlushJobData, type PushItemData, type PushJobData } from './queues.js';

/**
 * Push coalescing: webhook records bound for the same target are pushed together.
 *
 * Webhook events are ingested a few at a time (webhook-batch.ts, the events of the jobs running
 * side by side), so without this every such handful would be a push job and
 * an API call of its own, and a target's rate limit (HubSpot: 100 calls per 10 s) would carry
 * far fewer records than it can in full batches. Instead ingest appends each record's
 * push item, its record sealed, to a Redis list per (pipeline, target connection, entity), in
 * the same transaction that keeps the event's source page, and asks for a flush:
 *
 * - a window flush, a delayed job whose id names the `jobs.pushLingerMs` window the record
 *   was appended in, so every record of a window asks for the same job and none waits longer
 *   than the window (a producer's linger);
 * - a full flush at once, when the list reaches a batch cap (under load batches fill before
 *   their window ends).
 *
 * A flush takes the oldest entries, up to the connector's batch cap, turns them into one push
 * job like any other (records sealed together beside the job, each item naming its own source
 * page) and only then trims them from the list. One flusher at a time holds a list (a lock that
 * expires with a killed worker); a flusher that dies before the trim leaves the entries to the
 * next, which builds the same job under the same id (BullMQ adds it once). Duplicate keys in a
 * batch coalesce to the newest version; the older ones are skipped as superseded. From there
 * the push job keeps every guarantee of push.ts: the per-record lock and versions, records
 * refused alone, retries, dead letters.
 */

/** The connector's batch cap, within the pipeline's batch size (as ingest cuts pulled pages). */
export function pushBatchCap(hub: Hub, pipeline: Pipeline, connection: string): number {
  const def = hub.config.connectorOf(connection);
  return Math.max(1, Math.min(pipeline.batchSize, def.maxPushBatch ?? pipeline.batchSize));
}

export interface Coalescing {
  /** Appends the records to their list: one command, the transaction's last ones (see ingest.ts). */
  append(tx: ChainableCommander): void;
  /** Once the transaction is executed, with the append's answer (the list's new length): asks for the flushes. */
  requestFlushes(length: number): Promise<void>;
}

/** Ingest side: the records handed on to `target`, to be appended to its list and flushed. */
export function coalesceInto(hub: Hub, pipeline: Pipeline, target: PipelineTarget, sourceEntity: Entity, items: PushItemData[], records: string[]): Coalescing {
  const { keyring } = hub.config;
  const key = hub.store.coalesce.coalesceKey(pipeline.name, target.connection, target.entity);
  const at = Date.now();
  const entries = items.map((item, i) => keyring.encryptBytes(records[i], entryAad(target.connection, item.delivery), entryHead({ item, sourceEntity, at })));
  return {
    append(tx) {
      hub.store.coalesce.appendCoalesced(tx, key, entries);
    },
    async requestFlushes(length) {
      const data: FlushJobData = { pipeline: pipeline.name, target: target.connection, entity: target.entity };
      const linger = hub.config.jobs.pushLingerMs;
      // The window is read after the append: its flush runs at the window's end, so after it.
      const now = Date.now();
      const windowEnd = (Math.floor(now / linger) + 1) * linger;
      const adds = [scheduleFlush(hub, data, windowEnd)];
      // This append filled a batch: it goes now (each crossing of a multiple of the cap is one append's).
      const cap = pushBatchCap(hub, pipeline, target.connection);
      if (Math.floor((length - entries.length) / cap) < Math.floor(length / cap)) adds.push(hub.flushQueue.add('flush', { ...data, full: true }, FLUSH_JOB_OPTIONS));
      await Promise.all(adds);
    },
  };
}

const FLUSH_JOB_OPTIONS = { removeOnComplete: { age: 60, count: 1000 }, removeOnFail: { age: 7 * 24 * 3600 }, attempts: 1000, backoff: { type: 'fixed', delay: 1000 } } as const;

/**
 * A flush at `at` (ms since the epoch), one job for every caller naming the same time. Safe
 * against a flush that has run already only because `at` is later than the caller's records.
 */
function scheduleFlush(hub: Hub, data: FlushJobData, at: number) {
  return hub.flushQueue.add('flush', data, { ...FLUSH_JOB_OPTIONS, jobId: jobId('flush', data.pipeline, data.target, data.entity, at), delay: Math.max(0, at - Date.now()) });
}

/** Asks for the flush of the current window of a list, for records appended to it before (by an ingest that stopped short of asking). */
export function requestWindowFlush(hub: Hub, pipeline: Pipeline, target: PipelineTarget): Promise<unknown> {
  const linger = hub.config.jobs.pushLingerMs;
  return scheduleFlush(hub, { pipeline: pipeline.name, target: target.connection, entity: target.entity }, (Math.floor(Date.now() / linger) + 1) * linger);
}

/** How long a part batch may wait for more records under load, in multiples of jobs.pushLingerMs (see partBatchLook). */
export const MAX_LINGER_UNDER_LOAD = 4;

/**
 * Flush worker side: pushes the records waiting in one list, a batch cap at a time. A part
 * batch goes once its oldest record has waited jobs.pushLingerMs (a producer's linger); if
 * it is younger, a flush is asked for at that time and this one ends.
 */
export async function processFlush(hub: Hub, job: Job<FlushJobData>, token?: string): Promise<{ batches: number; records: number }> {
  const d = job.data;
  const pipeline = hub.config.pipelines.get(d.pipeline);
  const target = pipeline?.targets.find((t) => t.connection === d.target && t.entity === d.entity);
  if (!pipeline || !target) {
    // Not an error to retry: the config changed. The records stay in their list (kept 30 days) should the target come back.
    hub.logger.warn({ pipeline: d.pipeline, target: d.target, entity: d.entity }, 'records wait to be pushed to a target the config no longer has');
    return { batches: 0, records: 0 };
  }
  const { store } = hub;
  const key = store.coalesce.coalesceKey(d.pipeline, d.target, d.entity);
  const cap = pushBatchCap(hub, pipeline, d.target);
  const linger = hub.config.jobs.pushLingerMs;
  const lockToken = `${job.id ?? 'flush'}:${randomUUID()}`;
  const ttl = hub.config.jobs.lockDurationMs * 2;
  if (!(await store.coalesce.lockCoalesce(key, lockToken, ttl))) {
    // Another flusher holds the list. It takes every full batch it finds, and once it lets go it
    // looks at the list again and asks for a flush of whatever it left (below). So a full flush
    // ends here, and a window flush comes back only once the lock would have lapsed, should its
    // holder have died (using no attempt). Coming back every 50-150 ms instead, flushes finding
    // the lock held were most of the flush jobs run under load (282 of 334 runs for 5,000 webhooks).
    if (d.full) return { batches: 0, records: 0 };
    await job.moveToDelayed(Date.now() + ttl + Math.floor(Math.random() * 100), token);
    throw new DelayedError();
  }
  const renew = setInterval(() => { store.coalesce.lockCoalesce(key, lockToken, ttl).catch(() => {}); }, Math.max(250, hub.config.jobs.lockDurationMs / 2));
  renew.unref();
  let batches = 0;
  let records = 0;
  let later: number | undefined;
  try {
    for (;;) {
      const raw = await store.coalesce.coalesced(key, cap);
      if (!raw.length) break;
      const entries = raw.map(parseEntry);
      if (raw.length < cap) {
        // A full flush leaves a part batch, and asks for a flush of it once it lets go (below).
        if (d.full) break;
        const appendedAt = entries.map((e) => e.at ?? 0);
        const lingered = appendedAt[0] + linger;
        // Its oldest record has not waited a linger yet: look again then, nothing to ask Redis.
        const lookAgain = lingered > Date.now() ? lingered : partBatchLook(appendedAt, cap, linger, Date.now(), await queuesBehind(hub, d.target));
        if (lookAgain !== undefined) {
          later = lookAgain;
          break;
        }
      }
      records += await queueCoalescedBatch(hub, pipeline, target, key, raw, entries);
      await store.coalesce.trimCoalesced(key, raw.length);
      batches++;
    }
  } finally {
    clearInterval(renew);
    await store.coalesce.unlockCoalesce(key, lockToken).catch(() => {});
  }
  const data: FlushJobData = { pipeline: d.pipeline, target: d.target, entity: d.entity };
  if (later !== undefined) await scheduleFlush(hub, data, later);
  // Records this flusher left (a full flush leaves a part batch) or that came while it held the
  // list, whose own flushes found it held and went away or wait for the lock to lapse: a flush of
  // their own now, under an id no other flush has.
  else if (await store.coalesce.waiting(key)) await hub.flushQueue.add('flush', data, { ...FLUSH_JOB_OPTIONS, jobId: jobId('flush', d.pipeline, d.target, d.entity, 'after', lockToken) });
  return { batches, records };
}

/** Webhook events waiting to be ingested (any pipeline's), and push jobs waiting for `connection` (its rate limit, its workers busy). */
async function queuesBehind(hub: Hub, connection: string): Promise<{ ingesting: number; pushing: number }> {
  const [ingesting, pushing] = await Promise.all([hub.ingestQueue.getWaitingCount(), hub.pushQueue(connection).getWaitingCount()]);
  return { ingesting, pushing };
}

/**
 * Whether a part batch whose oldest record has waited a linger goes now (undefined) or waits,
 * and till when it is looked at again. It waits at most MAX_LINGER_UNDER_LOAD lingers from its
 * oldest record, and only while more records are likely on the way or going now gains nothing:
 *
 * - push jobs wait for the target (its rate limit, its workers busy): a part batch queued now
 *   would leave no sooner than a full one, and would spend a call. Looked at again at the end.
 * - its own records keep arriving fast enough to fill it by then (fillsSoon): looked at again a
 *   linger after the newest, so when that was a burst's last the batch goes one linger after it,
 *   not MAX_LINGER_UNDER_LOAD lingers after its oldest (up to a second at the end of every
 *   burst, as measured).
 * - its records came in more than one append and webhook events still wait to be ingested: a
 *   pause in its appends is then a hub behind its traffic (a worker at a lower CPU priority than
 *   the server answering a burst), not the stream's end. Looked at again a linger later.
 *
 * A trickle (one append) or a pipeline whose records stopped arriving once the events are all
 * ingested is not held because another pipeline is busy.
 */
export function partBatchLook(appendedAt: number[], cap: number, linger: number, now: number, behind: { ingesting: number; pushing: number }): number | undefined {
  const first = appendedAt[0] ?? now;
  const until = first + MAX_LINGER_UNDER_LOAD * linger;
  if (until <= now) return undefined;
  if (behind.pushing > 0) return until;
  const newest = appendedAt[appendedAt.length - 1] ?? first;
  if (fillsSoon(appendedAt, cap, linger, now)) return Math.min(until, Math.max(now + 1, newest + linger + 1));
  if (newest !== first && behind.ingesting > 0) return Math.min(until, now + linger);
  return undefined;
}

/** Records came in more than one append, the newest within the last linger. */
export function stillArriving(appendedAt: number[], linger: number, now: number): boolean {
  const first = appendedAt[0];
  const newest = appendedAt[appendedAt.length - 1];
  return first !== undefined && newest !== first && now - newest <= linger;
}

/**
 * Whether a part batch whose records were appended at `appendedAt` (ms, oldest first) fills to
 * `cap` within MAX_LINGER_UNDER_LOAD lingers of its oldest record, at the rate its records have
 * been arriving: records came in more than one append, the newest within the last linger, and
 * at the rate since the first append the rest of the batch arrives by then.
 */
export function fillsSoon(appendedAt: number[], cap: number, linger: number, now: number): boolean {
  if (!stillArriving(appendedAt, linger, now)) return false;
  const first = appendedAt[0];
  const newest = appendedAt[appendedAt.length - 1];
  const perMs = appendedAt.filter((at) => at > first).length / (newest - first);
  return newest + (cap - appendedAt.length) / perMs <= first + MAX_LINGER_UNDER_LOAD * linger;
}

/**
 * One batch of entries as one push job. Everything here is the same when done again over the
 * same entries (a flusher that died before its trim): the records' key and the job's id are
 * named by the entries, outcomes and settled sources count once.
 */
async function queueCoalescedBatch(hub: Hub, pipeline: Pipeline, target: PipelineTarget, key: string, raw: Buffer[], entries: CoalescedEntry[]): Promise<number> {
  const { store } = hub;
  // A retried ingest may have appended an event's record twice: one delivery, one item.
  const byKey = new Map<string, CoalescedEntry>();
  const superseded: CoalescedEntry[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.item.delivery)) continue;
    seen.add(e.item.delivery);
    const prev = byKey.get(e.item.key);
    if (!prev) byKey.set(e.item.key, e);
    else if (e.item.version >= prev.item.version) {
      superseded.push(prev);
      byKey.set(e.item.key, e);
    } else superseded.push(e);
  }
  const digest = itemsDigest(entries.map((e) => e.item));
  // Not opened here: the push job opens each record alone and dead-letters alone one that does
  // not open (push.ts, openCoalescedRecords); its sealed bytes go on as they are.
  const kept = [...byKey.values()];

  const commit = store.tx('coalesce flush');
  const tx = commit.afterwards().hub();
  // Every item names its own source page, sealed by ingest (SOURCE_PAGE_AAD).
  const pageAad = SOURCE_PAGE_AAD;
  const done = superseded.map((e) => e.item);
  if (done.length) settleItemSources(store, tx, { page: '' }, done);
  let job: { name: string; data: PushJobData; opts: ReturnType<typeof pushJobOptions> & { jobId: string } } | undefined;
  if (kept.length) {
    const items = kept.map((e) => e.item);
    const recordsKey = `${COALESCED_BATCH_PREFIX}${pipeline.name}>${target.connection}.${digest}`;
    // The kept entries copied inside Redis as the batch's records: not sent back re-sealed (~1 KB a record).
    const at = new Map(entries.map((e, i) => [e, i]));
    store.coalesce.keepCoalescedRecords(tx, key, recordsKey, kept.map((e) => ({ index: at.get(e)!, length: raw[at.get(e)!].length })));
    job = {
      name: 'push',
      data: {
        pipeline: pipeline.name, target: target.connection, entity: target.entity, sourceEntity: kept[0].sourceEntity, items, recordsKey, recordsEach: true,
        sources: { page: items[0].srcPage ?? '', aad: pageAad },
      },
      opts: { ...pushJobOptions(hub, target.connection), jobId: jobId('co', pipeline.name, target.connection, digest) },
    };
  }
  // A command that failed in the transaction (the copy found the list changed) fails the flush before its job is queued.
  await commit.exec();
  for (const [err] of commit.repliesOf(tx)) if (err) throw err;
  // The pages settled here, in their groups on a cluster with shards (StateStore.releaseSettledPages).
  if (done.length) await store.releaseSettledPages(itemPages({ page: '' }, done));
  if (job) await hub.pushQueue(target.connection).add(job.name, job.data, job.opts);
  await store.recordOutcomes(pipeline.name, undefined, superseded.map((e): [string, 'skipped'] => [e.item.delivery, 'skipped']));
  return kept.length;
}
