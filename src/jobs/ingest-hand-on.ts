import { randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type { PipelineTarget } from '../config/load.js';
import type { Entity } from '../core/canonical/schemas.js';
import { sealJsonBytes } from '../core/crypto.js';
import type { OrderEvent } from '../notify/types.js';
import { personOf, pushrecRef, srcpageRef } from '../operations/erasure-index.js';
import { queueSegmentUpdates } from '../operations/segments/segments.js';
import { batchRecordsBytes } from '../state/push-records.js';
import { coalesceInto, pushBatchCap, requestWindowFlush, type Coalescing } from './coalesce.js';
import { deliveryId, eventPageId, ownerOf, type IngestBatch, type Mapped } from './ingest-batch.js';
import { queueNotifications } from './order-events.js';
import { itemsDigest, jobId, pushJobOptions, pushRecordsAad, type PushItemData, type PushJobData } from './queues.js';
import { SOURCE_PAGE_AAD } from './source-pages.js';

/**
 * Ingest's steps 7-8 (ingest.ts): encrypt and hand on. Each push batch's records are sealed
 * together (see pushRecordsAad) and kept beside its job (PushRecordStore.keep). The sources stay
 * in Redis, sealed once as a page for every target, beside the push jobs rather than inside them
 * (see StateStore.keepSources). Both are written, with everything else the call wrote, before
 * the jobs are added (commitAndQueue).
 */

/** What handOn prepared: the push jobs to add once the call's transaction is in, and the coalesced appends. */
export interface HandOnPlan {
  jobsByTarget: Map<string, { name: string; data: PushJobData; opts: JobsOptions }[]>;
  coalescing: Coalescing[];
  /** Targets whose coalesced batch's flush an earlier attempt may not have asked for. */
  reflush: PipelineTarget[];
}

/** Prepares the push batches of `live` (and the source pages of the call's records, `valid` of `raws`) on the call's transaction. */
export async function handOn(batch: IngestBatch, raws: unknown[], valid: Mapped[], live: Mapped[]): Promise<HandOnPlan> {
  const { hub, pipeline, ctx, keyring, entity, targets, commit, persons } = batch;
  const { config, store } = hub;
  const jobsByTarget: HandOnPlan['jobsByTarget'] = new Map();
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
    for (const d of batch.deadOwners) for (const owner of d.owners) persons.addRef(owner, srcpageRef(sources.aad, d.index, sources.id));
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
      store.pushRecords.keep(batch.batches, recordsKey, keyring.encryptBytes(batchRecordsBytes(records, i, Math.min(i + size, records.length)), aad));
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

  batch.steps.queued(live.map((m) => (entity === 'payment' && m.update ? m.update.key : m.key!)), targets.map((t) => t.connection), coalesce === true);
  return { jobsByTarget, coalescing, reflush };
}

/**
 * Commits the call's transaction (its groups, then the hub's part, then the push batches'
 * records), and only then adds the push jobs, asks for the coalesced batches' flushes, queues
 * the notifications and segment updates, and counts the outcomes.
 */
export async function commitAndQueue(batch: IngestBatch, plan: HandOnPlan, events: OrderEvent[], segmentCustomers: string[]): Promise<void> {
  const { hub, pipeline, ctx, commit, tx } = batch;
  const { jobsByTarget, coalescing, reflush } = plan;
  batch.steps.write(tx);
  // In the groups' step: the index names the batch's pages and batches before they are written.
  batch.persons.write(hub.store, commit);
  // Coalesced records last, one command each, so their answers are the transaction's last ones.
  for (const c of coalescing) c.append(tx);
  await commit.exec();
  const results = commit.repliesOf(tx);
  const from = results.length - coalescing.length;
  // One list of promises, built in a loop: spreads of arrays that are empty on most calls (no
  // coalescing, no reflush) gave V8 new array shapes to deoptimise the whole ingest on.
  const queued: Promise<unknown>[] = [];
  for (const [conn, jobs] of jobsByTarget) if (jobs.length) queued.push(hub.pushQueue(conn).addBulk(jobs));
  for (let i = 0; i < coalescing.length; i++) queued.push(coalescing[i].requestFlushes(Number(results[from + i][1])));
  for (const target of reflush) queued.push(requestWindowFlush(hub, pipeline, target));
  await Promise.all(queued);
  await queueNotifications(hub, pipeline, events);
  await queueSegmentUpdates(hub, segmentCustomers);
  await hub.store.recordOutcomes(pipeline.name, ctx.runId, batch.outcomes);
}
