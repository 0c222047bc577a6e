import { createHash } from 'node:crypto';
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { Entity } from '../core/canonical/schemas.js';
import { queueKeyPrefix } from '../state/key-layout.js';
import type { Hub } from './hub.js';

/**
 * Queue names carry a hash tag, so each queue's keys stay in one Redis Cluster slot.
 * - pull:   one page of a pipeline's source per job ('start' opens a run)
 * - ingest: stored webhook events and dead-letter replays
 * - push-<connection>: batches for one target connection, whose limiter holds its rate limit
 * - push-flush: turns webhook records waiting for a target into push batches (coalesce.ts);
 *   apart from the push queues, so a flush uses none of the target's rate limit
 */
export const PULL_QUEUE = '{pull}';
export const INGEST_QUEUE = '{ingest}';
export const pushQueueName = (connection: string) => `{push-${connection}}`;
export const FLUSH_QUEUE = '{push-flush}';

export interface StartJobData { pipeline: string; full: boolean; runId?: string }

export interface PullJobData {
  pipeline: string;
  runId: string;
  /** Page number within the run, from 0. */
  seq: number;
  /** Where this page starts (the connector's opaque cursor). */
  cursor: unknown;
}

export interface PushItemData {
  key: string;
  /** Unique within a run: counts this record's outcome for this target once. */
  delivery: string;
  /** The record's updatedAt in ms: an older version never overwrites a newer one. */
  version: number;
  /** Jobs queued before records were sealed per batch: the canonical record, its sensitive fields encrypted. */
  rec?: Record<string, unknown>;
  /** Index of the item's source record in the job's source page (see StateStore.keepSources). */
  srcIndex?: number;
  /** Coalesced batches (coalesce.ts): the item's own source page, where it is not the job's. */
  srcPage?: string;
  /** Jobs queued before source pages: the sealed source itself, or its field of the job's `srcKey` hash. */
  src?: string;
  srcField?: string;
}

export interface PushJobData {
  pipeline: string;
  runId?: string;
  target: string;
  entity: Entity;
  sourceEntity: Entity;
  items: PushItemData[];
  /** The key of the items' canonical records, in the items' order, sealed together as bytes (see pushRecordsAad, PushRecordStore.keep). */
  recordsKey?: string;
  /**
   * Coalesced batches (coalesce.ts): `recordsKey` is a list of the items' coalesce entries, in the
   * items' order, each record sealed alone (coalescedEntryAad), copied there inside Redis.
   */
  recordsEach?: boolean;
  /** Jobs queued before records were kept beside the job: the same records, sealed as text in the job. */
  records?: string;
  /** The source page holding the items' records in their API's shape, and its associated data. */
  sources?: { page: string; aad: string };
  /** Jobs queued before source pages: the hash holding the items' sealed sources. */
  srcKey?: string;
}

/**
 * One stored webhook event. Since ingest jobs carry batches (WebhookBatchJobData), jobs queued
 * before that are still taken: a 'webhook' job holds one event, with its connection, as this.
 */
export interface WebhookJobData {
  connection: string;
  eventId: string;
  topic: string;
  entity: Entity;
  ref?: string;
  /** The event's record, sealed (AAD `webhook:<connection>`). */
  sealed?: string;
  /** Or sealed for the workers' private keys (JWE compact, encryption.publicKeys; see webhook-sealing.ts). */
  sealedFor?: string;
  receivedAt: string;
  /** A deletion at the source of the record `ref` names (see WebhookEvent.deletion), and when. */
  deletion?: 'always' | 'if_gone';
  occurredAt?: string;
  /** A data-subject request (the sealed record is the PrivacyRequest), handled by src/operations/privacy-requests.ts. */
  privacy?: 'customer_redact' | 'shop_redact' | 'customer_data_request';
  /** Pipelines that already took the event (the rest were paused; the job waits for them). */
  done?: string[];
}

/** A stored webhook event inside a batch job: its connection is the batch's. */
export type WebhookEventData = Omit<WebhookJobData, 'connection' | 'done'>;

/**
 * A 'webhooks' ingest job: the new events of one connection stored in one write of the route
 * (WebhookEventStore), at most MAX_EVENTS_PER_INGEST_JOB. Each event is ingested once per
 * pipeline however often the job runs (claims, see WebhookEventMarks.claimWebhookEvents).
 */
export interface WebhookBatchJobData {
  connection: string;
  events: WebhookEventData[];
  /** A job split off a batch job (its events failed there): it may take over that job's claims. */
  from?: string;
}

/** The name of an ingest job carrying a batch of webhook events ('webhook': one, queued before batches). */
export const WEBHOOK_BATCH_JOB = 'webhooks';

/** Most events one ingest job carries (the work one job can cause stays bounded). */
export const MAX_EVENTS_PER_INGEST_JOB = 100;

/** Push the records waiting for one pipeline's target (coalesce.ts); `full`: only whole batches. */
export interface FlushJobData { pipeline: string; target: string; entity: Entity; full?: boolean }

export interface ReplayJobData { deadLetterId: string }

export function queueOptions(connection: ConnectionOptions, prefix: string) {
  return { connection, prefix: queueKeyPrefix(prefix) };
}

export function openQueue(name: string, connection: ConnectionOptions, prefix: string): Queue {
  return new Queue(name, queueOptions(connection, prefix));
}

/** BullMQ job ids may not contain ':'. */
export function jobId(...parts: (string | number)[]): string {
  return parts.map(String).join('_').replace(/:/g, '.');
}

/**
 * A push batch's canonical records travel sealed as one document: one cipher and one JSON
 * text per batch instead of per record, and nothing of the record readable in Redis. The
 * associated data names the target and the batch's first delivery, so a sealed batch cannot
 * be moved to another job.
 */
export const pushRecordsAad = (target: string, items: PushItemData[]) => `push:${target}:${items[0]?.delivery ?? ''}`;

/** Names a push batch's items (their records' keys, deliveries and versions, in order): 128 bits of SHA-256. */
export const itemsDigest = (items: PushItemData[]): string => {
  const h = createHash('sha256');
  for (const i of items) h.update(`${i.key}\n${i.delivery}\n${i.version}\n`);
  return h.digest('base64url').slice(0, 22);
};

/** Options of a push job to `connection`: its retry policy (the connection's, else jobs.attempts / backoffMs), kept an hour once done. */
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
