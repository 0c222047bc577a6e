import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Job } from 'bullmq';
import type { Pipeline, PipelineTarget } from '../config/load.js';
import { decryptRecord, openJson, openJsonBytes, sealJson } from '../core/crypto.js';
import { SOURCE_AAD, openSourcePage } from './source-pages.js';
import { AuthFailedError, DecryptError, RateLimitedError, RemoteRejectedError, SynchubError } from '../core/errors.js';
import { PersonalValues, deadLetterError, scrubThrown } from '../core/redact.js';
import { RECORDS_PER_TURN, yieldToEventLoop } from '../core/yield.js';
import type { PushItem, PushOutcome } from '../connectors/types.js';
import { outcomesWithRest } from '../connectors/shared.js';
import type { ChainableCommander } from 'ioredis';
import type { Outcome, StateStore } from '../state/store.js';
import type { Hub } from './hub.js';
import { fingerprint, parseFingerprint, payloadMac } from './fingerprint.js';
import { pushRecordsAad, type PushItemData, type PushJobData } from './queues.js';
import { coalescedEntryAad, coalescedEntrySealed } from './coalesced-entry.js';
import type { TimelineStep } from '../timeline/steps.js';

/**
 * The outbound half of the data path, one batch for one target:
 *
 *   decrypt → map out (JSONata) → fingerprint check → links → push → record
 *   links, fingerprints and outcomes
 *
 * Retryable failures leave through the thrown error (BullMQ retries with backoff);
 * on the last attempt the batch's records are dead-lettered instead. Permanent
 * refusals of a whole batch are narrowed down record by record.
 */
export interface PushContext {
  hub: Hub;
  pipeline: Pipeline;
  target: PipelineTarget;
  job: Job<PushJobData>;
  signal?: AbortSignal;
}

interface Prepared { item: PushItemData; payload: Record<string, unknown>; mac: string }

/** Another job is pushing one of these records to this target right now: try again shortly (no attempt used). */
export class RecordsBusyError extends Error {
  constructor(readonly connection: string) {
    super(`records of this batch are being pushed to ${connection} by another job`);
    this.name = 'RecordsBusyError';
  }
}

/**
 * One job at a time pushes a given record to a given target: the batch's records are
 * locked (all or none), so the fingerprint read below is the one the previous push left,
 * and an older version that arrives second is skipped instead of overwriting a newer one.
 */
export async function pushBatch(ctx: PushContext): Promise<{ pushed: number; skipped: number; dead: number }> {
  const { hub, target, job } = ctx;
  const keys = [...new Set(job.data.items.map((i) => i.key))];
  const token = `${job.id ?? 'job'}:${randomUUID()}`;
  // Held like the job's own lock: renewed while the job runs, expiring on its own when a worker dies.
  const ttl = hub.config.jobs.lockDurationMs * 2;
  if (!(await hub.store.lockPush(target.connection, keys, token, ttl))) throw new RecordsBusyError(target.connection);
  const renew = setInterval(() => { hub.store.lockPush(target.connection, keys, token, ttl, true).catch(() => {}); }, Math.max(250, hub.config.jobs.lockDurationMs / 2));
  renew.unref();
  try {
    return await pushLocked(ctx);
  } finally {
    clearInterval(renew);
    await hub.store.unlockPush(target.connection, keys, token).catch(() => {});
  }
}

async function pushLocked({ hub, pipeline, target, job, signal }: PushContext): Promise<{ pushed: number; skipped: number; dead: number }> {
  const { keyring } = hub.config;
  const { store } = hub;
  const data = job.data;
  const outcomes: [string, Outcome][] = [];
  // The commit (src/state/sharded.ts), in two steps on a cluster with shards, one MULTI otherwise:
  // 1. each record group: the pushed records' links, cross-references and fingerprints, and the
  //    bodies of the dead letters (in their ids' groups; their indexes go with 2, and a retry
  //    asks deadLettersExist, which goes by the index, so it writes a stopped one again);
  // 2. once every group of 1 is in, the hub's part (`tx`): dead letters, timeline steps, the
  //    release of the batch's records and the settling of its sources; then the outcomes.
  // Why this order is safe: stopped during 1, some records have their fingerprints and links and
  // nothing else; the retry finds their fingerprints and skips them (not pushed twice; counted
  // once, as skipped), pushes the others again (at least once, as a worker killed after its
  // call; the links it reads make it an update), and still has the batch's records and sources,
  // which only step 2 lets go. Stopped between 1 and 2, the same with every record. Sources
  // are settled in the MULTI that writes the dead letters copying them. Done the other way round,
  // a retry would find the sources settled and the records gone while the target has them with
  // no link: a second create.
  // 3. on a cluster with shards, once the hub's part is in, the release of the batch's records
  //    in their group (`batches`, PushRecordStore; on one Redis, in the one MULTI as before).
  //    Stopped before 3, the job is retried (or taken up again), finds every record settled and
  //    releases them then; until then they keep their time to live. Released in 2 or before it,
  //    a retry coming later than the hour after the release would find the records gone while
  //    its sources and dead letters were not yet written: the records would be dead-lettered.
  const stx = store.tx('push');
  const tx = stx.afterwards().hub();
  const batches = stx.afterwards().afterwards('push release');
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  // Dead letters are written at commit, once their sealed sources are read (see settle()).
  const dead: { item: PushItemData; step: string; err: unknown }[] = [];
  /** Pushed or skipped: their sources are no longer needed once the job completes. */
  const settled: PushItemData[] = [];
  // The batch's personal values, gathered only when an error needs scrubbing: a target's error
  // text may echo any record of the batch.
  const seen: { record: unknown; payload?: unknown }[] = [];
  let values: PersonalValues | undefined;
  const personal = () => (values ??= batchValues(hub, target, data.sourceEntity, seen));
  // The records' timelines (src/timeline/): pushed, skipped or dead-lettered, written with the commit.
  const steps = hub.timeline.sheet(pipeline.name);
  const unchanged: TimelineStep = { step: 'skipped', why: 'unchanged', target: target.connection };
  const olderVersion: TimelineStep = { step: 'skipped', why: 'older_version', target: target.connection };
  const deadLetter = (item: PushItemData, step: string, err: unknown) => {
    dead.push({ item, step, err });
    outcomes.push([item.delivery, 'dead']);
  };
  // `final`: the job completes with this commit. Before a retry nothing is settled (the next
  // attempt may need any source again). A job taken up again after its final commit finds its
  // dead letters written already, with their sources (see addDeadLetter).
  const commit = async (final: boolean) => {
    const kept = await deadLetterSources(hub, data, dead.map((d) => d.item));
    dead.forEach(({ item, step, err }, i) => {
      const reason = deadLetterError(keyring, err, personal());
      const id = store.addDeadLetter(stx, {
        pipeline: pipeline.name, step, connection: pipeline.source.connection, entity: data.sourceEntity, key: item.key,
        target: target.connection, ...reason, attempts: job.attemptsMade + 1, source: kept[i] ?? '', runId: data.runId,
      }, deadLetterId(job, item));
      steps.add(item.key, { step: 'dead_lettered', stage: step, code: reason.error.code, target: target.connection, deadLetter: id });
    });
    steps.write(tx);
    if (final) {
      if (data.recordsKey) store.pushRecords.release(batches, tx, data.recordsKey);
      // Dead letters hold copies of their sources (written in this same transaction).
      if (data.sources) settleItemSources(store, tx, data.sources, [...settled, ...dead.map((d) => d.item)]);
      else if (data.srcKey) store.pushRecords.dropLegacySources(tx, data.srcKey, settled.flatMap((i) => (i.srcField === undefined ? [] : [i.srcField])));
    }
    await stx.exec();
    // 4. on a cluster with shards, the bytes of the source pages left with nothing pending
    //    (StateStore.releaseSettledPages: a retry of this job releases them if stopped before).
    if (final && data.sources) await store.releaseSettledPages(itemPages(data.sources, [...settled, ...dead.map((d) => d.item)]));
    await store.recordOutcomes(pipeline.name, data.runId, outcomes);
  };

  // 1-3. decrypt, map out, and drop what the target already has.
  const [fps, kept, keptEach] = await Promise.all([
    store.getFingerprints(target.connection, target.entity, data.items.map((i) => i.key)),
    data.recordsKey && !data.recordsEach ? store.pushRecords.read(data.recordsKey) : undefined,
    data.recordsKey && data.recordsEach ? store.pushRecords.readEach(data.recordsKey) : undefined,
  ]);
  const prepared: Prepared[] = [];
  // The batch's records open together; a batch that does not open dead-letters each of its records with the reason.
  let records: Record<string, unknown>[] | undefined;
  let unsealed: unknown;
  // A coalesced batch's records open one by one: one that does not open dead-letters itself alone.
  const unopened: unknown[] = [];
  try {
    const aad = pushRecordsAad(data.target, data.items);
    if (keptEach) {
      if (!keptEach.length) throw new DecryptError(`the records of push batch ${data.recordsKey} are no longer in Redis (kept 30 days unpushed, an hour after their job completed)`);
      records = openCoalescedRecords(keyring, data, keptEach, unopened);
    } else if (data.recordsKey) {
      if (!kept) throw new DecryptError(`the records of push batch ${data.recordsKey} are no longer in Redis (kept 30 days unpushed, an hour after their job completed)`);
      records = openJsonBytes<Record<string, unknown>[]>(keyring, kept, aad);
    } else if (data.records !== undefined) records = openJson<Record<string, unknown>[]>(keyring, data.records, aad);
  } catch (err) {
    unsealed = err;
  }
  // One record at a time: JSONata's timeout is wall-clock (see ingest.ts).
  for (const [i, item] of data.items.entries()) {
    if (i > 0 && i % RECORDS_PER_TURN === 0) await yieldToEventLoop();
    let payload: Record<string, unknown>;
    try {
      if (unsealed) throw unsealed;
      if (unopened[i]) throw unopened[i];
      const record = records ? records[i] : decryptRecord(keyring, data.sourceEntity, item.rec);
      // Erased while queued (src/operations/erasure.ts): nothing is left to push.
      if (record === null) {
        outcomes.push([item.delivery, 'skipped']);
        settled.push(item);
        continue;
      }
      const looked = { record, payload: undefined as unknown };
      seen.push(looked);
      payload = (await target.mapOut.evaluate(record)) as Record<string, unknown>;
      looked.payload = payload;
    } catch (err) {
      deadLetter(item, 'map_out', err);
      continue;
    }
    const mac = payloadMac(keyring, payload);
    const fp = fps[i] ? parseFingerprint(fps[i]!) : null;
    if (fp && (fp.mac === mac || item.version < fp.version)) {
      outcomes.push([item.delivery, 'skipped']);
      steps.add(item.key, fp.mac === mac ? unchanged : olderVersion);
      settled.push(item);
      continue;
    }
    prepared.push({ item, payload, mac });
  }

  // A job taken up again (after a wait, a retry or a stall) leaves alone what an earlier
  // attempt dead-lettered: the target refused those records, they are not sent again.
  if (prepared.length && (job.attemptsStarted ?? 0) > 1) {
    const written = await store.deadLettersExist(prepared.map((p) => deadLetterId(job, p.item)));
    for (const [i, p] of [...prepared.entries()].reverse()) {
      if (!written[i]) continue;
      settled.push(p.item);
      prepared.splice(i, 1);
    }
  }

  // 4-5. links and push
  if (prepared.length) {
    const ids = await store.externalIdsFor(target.connection, prepared.map((p) => p.item.key));
    const items: PushItem[] = prepared.map((p, i) => ({ key: p.item.key, externalId: ids[i] ?? undefined, payload: p.payload }));
    let results: PushOutcome[];
    try {
      results = await pushNarrowing(hub, target, items, personal, signal);
    } catch (err) {
      if (waitsOrRetries(err, lastAttempt)) {
        // Keep what was settled before the call (skips, mapping failures), then let the job layer
        // wait (rate limit), pause the connection (auth) or retry.
        await commit(false);
        throw scrubThrown(err, personal());
      }
      for (const p of prepared) deadLetter(p.item, 'push', err);
      await commit(true);
      return count(outcomes);
    }
    // 6. record. A push that failed part-way (some records throttled or not sent) keeps what
    // succeeded: its links and fingerprints are committed before the job waits or retries, so
    // the next attempt skips those records by their fingerprints and sends only the rest.
    const byKey = new Map(prepared.map((p) => [p.item.key, p]));
    const links: { key: string; externalId: string }[] = [];
    const fingerprints: { key: string; value: string }[] = [];
    const unfinished: SynchubError[] = [];
    for (const r of results) {
      const p = byKey.get(r.key)!;
      if (r.ok) {
        links.push({ key: p.item.key, externalId: r.externalId });
        steps.pushed(p.item.key, target.connection, r.externalId);
        fingerprints.push({ key: p.item.key, value: fingerprint(p.item.version, p.mac) });
        outcomes.push([p.item.delivery, 'pushed']);
        settled.push(p.item);
      } else if (waitsOrRetries(r.error, lastAttempt)) {
        unfinished.push(r.error);
      } else {
        deadLetter(p.item, 'push', r.error);
      }
    }
    store.linkAll(stx, target.connection, target.entity, links);
    store.setFingerprints(stx, target.connection, target.entity, fingerprints);
    if (unfinished.length) {
      await commit(false);
      throw scrubThrown(unfinishedError(unfinished), personal());
    }
  }
  await commit(true);
  return count(outcomes);
}

/** Dead letters of a push job are named by the job and the delivery: written again by a retry, never twice. */
const deadLetterId = (job: Job<PushJobData>, item: PushItemData) => `${job.id ?? 'job'}.${item.delivery}`.replace(/[^A-Za-z0-9._>-]/g, '_');

/** Whether a failure leaves the record for a later attempt (wait, pause or retry) rather than dead-lettering it now. */
function waitsOrRetries(err: unknown, lastAttempt: boolean): boolean {
  const retryable = err instanceof SynchubError ? err.retryable : true;
  return err instanceof RateLimitedError || err instanceof AuthFailedError || (retryable && !lastAttempt);
}

/** The error the job leaves with for the records not done: an auth failure pauses, a rate limit waits its longest Retry-After, else a retry. */
function unfinishedError(errors: SynchubError[]): SynchubError {
  const auth = errors.find((e) => e instanceof AuthFailedError);
  if (auth) return auth;
  const limits = errors.filter((e): e is RateLimitedError => e instanceof RateLimitedError);
  if (limits.length) return limits.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a));
  return errors[0];
}

/**
 * The sealed sources of the items being dead-lettered, copied from the job's source page
 * (`''` where it is gone: such a dead letter says it cannot be replayed).
 */
export async function deadLetterSources(hub: Hub, data: PushJobData, items: PushItemData[]): Promise<string[]> {
  if (!items.length) return [];
  const { keyring } = hub.config;
  if (data.sources) {
    // A coalesced batch's items come from several pages (coalesce.ts): each is read once.
    const pages = new Map<string, unknown[] | null>();
    for (const page of new Set(items.map((i) => i.srcPage ?? data.sources!.page))) {
      const sealed = await hub.store.sourcePage(page);
      pages.set(page, sealed === null ? null : openSourcePage(keyring, sealed, data.sources.aad).records);
    }
    return items.map((i) => {
      const records = pages.get(i.srcPage ?? data.sources!.page);
      return records && i.srcIndex !== undefined && i.srcIndex < records.length ? sealJson(keyring, records[i.srcIndex], SOURCE_AAD) : '';
    });
  }
  const legacy = data.srcKey ? await hub.store.pushRecords.legacySources(data.srcKey, items.map((i) => i.srcField ?? '')) : [];
  return items.map((i, n) => i.src ?? legacy[n] ?? '');
}

/** The canonical records' x-sensitive values and their payloads' values under the target's personalFields. */
function batchValues(hub: Hub, target: PipelineTarget, entity: PushJobData['sourceEntity'], seen: { record: unknown; payload?: unknown }[]): PersonalValues {
  const fields = hub.config.connectorOf(target.connection).personalFields;
  const values = new PersonalValues();
  for (const s of seen) {
    values.addCanonical(entity, s.record);
    if (s.payload !== undefined) values.addPaths(s.payload, fields);
  }
  return values;
}

/** These items' sources are needed no more: each leaves its own page (the job's, or its own in a coalesced batch). */
export function settleItemSources(store: StateStore, tx: ChainableCommander, sources: { page: string }, items: PushItemData[]): void {
  const byPage = new Map<string, string[]>();
  for (const i of items) {
    const page = i.srcPage ?? sources.page;
    const deliveries = byPage.get(page);
    // Added to in place: a pulled batch's items share one page, and copying its list for each was quadratic.
    if (deliveries) deliveries.push(i.delivery);
    else byPage.set(page, [i.delivery]);
  }
  store.settleSourcesOfPages(tx, byPage);
}

/** The pages these items' sources are in (see settleItemSources). */
export function itemPages(sources: { page: string }, items: PushItemData[]): string[] {
  return [...new Set(items.map((i) => i.srcPage ?? sources.page))];
}

function count(outcomes: [string, Outcome][]) {
  const c = { pushed: 0, skipped: 0, dead: 0 };
  for (const [, o] of outcomes) c[o]++;
  return c;
}

/**
 * Pushes a batch; when the API refuses the whole batch for good, pushes each
 * record alone so only the bad ones are dead-lettered.
 */
async function pushNarrowing(hub: Hub, target: PipelineTarget, items: PushItem[], personal: () => PersonalValues, signal?: AbortSignal): Promise<PushOutcome[]> {
  // Scrubbed as they leave the connector, before the breaker logs them (the original stays for the sealed dead letter).
  const call = (batch: PushItem[]) => hub.client(target.connection).push(target.entity, batch, signal).then(
    (outs) => { for (const o of outs) if (!o.ok) scrubThrown(o.error, personal()); return outs; },
    (err: unknown) => { throw scrubThrown(err, personal()); },
  );
  const push = (batch: PushItem[]) => callThroughBreaker(hub, target.connection, batch.length, () => call(batch));
  try {
    return await push(items);
  } catch (err) {
    if (!(err instanceof RemoteRejectedError) || items.length === 1) throw err;
    const out: PushOutcome[] = [];
    for (const [n, item] of items.entries()) {
      try {
        out.push(...(await push([item])));
      } catch (e) {
        if (e instanceof RemoteRejectedError) out.push({ key: item.key, ok: false, error: e });
        // The records pushed alone so far stay pushed; the rest wait for the next attempt.
        else return outcomesWithRest(out, items.slice(n), e);
      }
    }
    return out;
  }
}

/**
 * Counts the call for the connection's circuit breaker: a transient failure of the
 * connection (network, timeout, 5xx) counts against it; a refusal of a record or a
 * rate limit says nothing about the connection's health.
 */
async function callThroughBreaker(hub: Hub, connection: string, records: number, call: () => Promise<PushOutcome[]>): Promise<PushOutcome[]> {
  const breaker = hub.breaker(connection);
  const started = performance.now();
  const observe = () => hub.metrics.pushObserved(connection, (performance.now() - started) / 1000, records).catch(() => {});
  const isTransient = (err: unknown) => !(err instanceof SynchubError) || (err.retryable && !(err instanceof RateLimitedError));
  let answered: PushOutcome[] | undefined;
  try {
    answered = await call();
    await observe();
    // Answered, but with a transient failure for every record (each operation a 5xx): a failed call.
    const first = answered[0];
    if (first && !first.ok && answered.every((o) => !o.ok && isTransient(o.error))) throw first.error;
    if (await breaker.recordSuccess()) hub.logger.info({ connection }, 'circuit breaker closed: the probe call succeeded');
    return answered;
  } catch (err) {
    if (!answered) await observe();
    const transient = isTransient(err);
    if (transient) {
      const { opened, cooldownMs } = await breaker.recordFailure();
      if (opened) hub.logger.warn({ connection, cooldownMs, err: (err as Error).message }, 'circuit breaker open: pushes to this connection wait for the cool-down, then one probe call');
    }
    if (answered) return answered;
    throw err;
  }
}

/**
 * The records of a coalesced batch (`recordsEach`): its items' coalesce entries, in the items'
 * order, each opened alone; what does not open is noted in `unopened` at its index.
 */
function openCoalescedRecords(keyring: Hub['config']['keyring'], data: PushJobData, kept: Buffer[], unopened: unknown[]): Record<string, unknown>[] {
  return data.items.map((item, i) => {
    try {
      if (!kept[i]) throw new DecryptError(`the record of ${item.delivery} is missing from its push batch ${data.recordsKey}`);
      // Its AAD names its delivery: an entry in the wrong place does not open.
      return JSON.parse(keyring.decryptBytes(coalescedEntrySealed(kept[i]), coalescedEntryAad(data.target, item.delivery)).toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      // Not the parser's message: it may quote the text it read.
      unopened[i] = err instanceof DecryptError ? err : new DecryptError(`the record of ${item.delivery} in push batch ${data.recordsKey} does not open`);
      return {};
    }
  });
}
