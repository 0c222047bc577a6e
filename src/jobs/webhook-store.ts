import type { Queue } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { StoreUnavailableError } from '../core/errors.js';
import type { MetricsStore } from '../state/metrics.js';
import type { StateStore } from '../state/store.js';
import { MAX_EVENTS_PER_INGEST_JOB, WEBHOOK_BATCH_JOB, type WebhookBatchJobData, type WebhookEventData, type WebhookJobData } from './queues.js';
import { indexWebhookJob } from '../operations/erasure-index.js';
import { waitForReplicas, type ReplicaAck } from '../state/replica-wait.js';

export const WEBHOOK_JOB_OPTIONS = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  // Kept an hour after completion, to be looked at, and at most 1,000 (each holds up to 100 sealed
  // events); the events' claims, not the job, keep each ingested once.
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** A verified event of one delivery. `job` builds its stored form; it is called only when the event is new. */
export interface IncomingWebhookEvent {
  id: string;
  /** A second dedupe key (the signed body's hash, see WebhookEvent.contentId): marked and checked beside `id`. */
  contentId?: string;
  job: () => WebhookJobData;
  /** Persons whose data the stored body holds (`customer:<blind index>`): indexed for erasure once the event is stored. */
  persons?: () => string[];
}

export interface WebhookStoreResult {
  stored: number;
  duplicates: number;
}

export interface WebhookEventStoreOptions {
  queue: Queue;
  state: StateStore;
  metrics: MetricsStore;
  /** How long an event id is remembered as seen (config `jobs.webhookDedupeHours`, at least 72). */
  dedupeHours: number;
  /** Replicas that acknowledge a batch's writes before its deliveries are answered (config `redis.waitReplicas`; none by default). */
  replicaAck?: ReplicaAck;
}

/**
 * Batches written at once. With one, every delivery that arrives while a batch is being
 * written waits for it to finish before its own batch starts; a second batch in flight
 * lets Redis work on one while this process prepares the next.
 */
const MAX_BATCHES_IN_FLIGHT = 2;

interface Delivery {
  connection: string;
  events: readonly IncomingWebhookEvent[];
  resolve: (r: WebhookStoreResult) => void;
  reject: (err: Error) => void;
}

/** An event id first met in this batch: the batch writes it. */
interface Entry {
  connection: string;
  id: string;
  /** The dedupe marks of the event: its id, and its content key when it has one. */
  marks: string[];
  event: IncomingWebhookEvent;
  /** Settles true once the event is known stored (now or before), false when the write failed. */
  settle: (stored: boolean) => void;
}

/**
 * Stores the verified events of the deliveries that reach it in the same turn of the event
 * loop with three Redis round trips for the whole batch, however many deliveries it holds:
 * MGET of the dedupe marks, one addBulk of the new events (as one ingest job per connection,
 * see batchJobs), then one MULTI setting their marks (72 h or more) and counting the
 * deliveries for /metrics.
 *
 * Each delivery's promise settles only after those writes are confirmed: a delivery is
 * answered 2xx only once its new events are in the queue. An event id (or content key) met twice in a batch,
 * or while an earlier batch still in flight writes it, is stored once: the later delivery
 * counts it as a duplicate and waits for (and shares) the first write's outcome. Marks are
 * written after the jobs, so a failure in between leaves a job without a mark (the sender
 * retries and the event is queued in a second job), never a mark without a job. Other
 * processes race on an event id only that way too. Either way the event's claims (see
 * WebhookEventMarks.claimWebhookEvents) let only one of its jobs ingest it.
 */
export class WebhookEventStore {
  private pending: Delivery[] = [];
  private scheduled = false;
  private readonly writing = new Set<Promise<void>>();
  /** Event ids that a batch in flight is writing, by `connection\nid`. */
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(private readonly opts: WebhookEventStoreOptions) {}

  /** Resolves once every new event is stored; rejects with StoreUnavailableError when Redis did not confirm it. */
  store(connection: string, events: readonly IncomingWebhookEvent[]): Promise<WebhookStoreResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ connection, events, resolve, reject });
      this.schedule();
    });
  }

  /** Waits for the deliveries already taken in (for a clean shutdown). */
  async drain(): Promise<void> {
    while (this.writing.size || this.pending.length) {
      if (this.writing.size) await Promise.all(this.writing);
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.writing.size >= MAX_BATCHES_IN_FLIGHT) return;
    this.scheduled = true;
    // setImmediate runs after the poll phase: every request whose body arrived in this turn has joined.
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = [];
      const write: Promise<void> = this.write(batch).finally(() => {
        this.writing.delete(write);
        if (this.pending.length) this.schedule();
      });
      this.writing.add(write);
    });
  }

  private async write(batch: Delivery[]): Promise<void> {
    // Keyed by every mark of an event (id and content key): a second event sharing either is a duplicate.
    const entries = new Map<string, Entry>();
    const all: Entry[] = [];
    const owned = batch.map(() => [] as Entry[]);
    const earlier = batch.map(() => [] as Promise<boolean>[]);
    batch.forEach((d, i) => {
      for (const event of d.events) {
        const marks = event.contentId === undefined ? [event.id] : [event.id, event.contentId];
        const keys = marks.map((m) => `${d.connection}\n${m}`);
        if (keys.some((k) => entries.has(k))) continue;
        const inFlight = keys.map((k) => this.inFlight.get(k)).find((p) => p !== undefined);
        if (inFlight) {
          earlier[i].push(inFlight);
          continue;
        }
        let settle!: (stored: boolean) => void;
        const written = new Promise<boolean>((r) => { settle = r; });
        const e: Entry = { connection: d.connection, id: event.id, marks, event, settle };
        for (const k of keys) {
          this.inFlight.set(k, written);
          entries.set(k, e);
        }
        all.push(e);
        owned[i].push(e);
      }
    });
    let results: WebhookStoreResult[];
    try {
      const marksOf = (es: Entry[]) => es.flatMap((e) => e.marks.map((id) => ({ connection: e.connection, id })));
      const seenMarks = await this.opts.state.webhookEvents.seenWebhookEvents(marksOf(all));
      let at = 0;
      const seen = all.map((e) => seenMarks.slice(at, (at += e.marks.length)).some(Boolean));
      const fresh = new Set(all.filter((_, i) => !seen[i]));
      // Which ingest job holds each new event, for the erasure index (a person's stored bodies).
      const jobOf = new Map<Entry, string>();
      if (fresh.size) {
        const planned = batchJobs([...fresh]);
        const added = await this.opts.queue.addBulk(planned.map((p) => p.job));
        planned.forEach((p, i) => { for (const e of p.entries) jobOf.set(e, String(added[i].id)); });
      }
      results = batch.map((d, i) => {
        const stored = owned[i].filter((e) => fresh.has(e)).length;
        return { stored, duplicates: d.events.length - stored };
      });
      const pipe = this.opts.state.redis.multi();
      this.opts.state.webhookEvents.markWebhookEvents(pipe, marksOf([...fresh]), this.opts.dedupeHours);
      for (const e of fresh) for (const person of e.event.persons?.() ?? []) indexWebhookJob(this.opts.state, pipe, person, jobOf.get(e)!, e.id);
      countDeliveries(this.opts.metrics, pipe, batch, results);
      await execOrThrow(pipe);
      const ack = this.opts.replicaAck;
      if (ack && ack.replicas > 0) {
        // Before any 2xx: the replicas of both primaries written hold the ingest jobs and the marks, so
        // a primary failing over now keeps what its provider was told is stored. The marks' MULTI
        // always writes (its delivery counters), so an all-duplicate batch waits too: for the earlier
        // write of its events on the state's primary.
        await Promise.all([
          fresh.size ? this.opts.queue.client.then((client) => waitForReplicas(client as unknown as Redis, this.opts.queue.toKey('wait'), ack)) : undefined,
          waitForReplicas(this.opts.state.redis, this.opts.state.k('wh'), ack),
        ]);
      }
    } catch (err) {
      this.settle(entries, false);
      const failure = new StoreUnavailableError(`the event could not be stored: ${(err as Error).message}`, err);
      for (const d of batch) d.reject(failure);
      return;
    }
    this.settle(entries, true);
    batch.forEach((d, i) => {
      if (!earlier[i].length) {
        d.resolve(results[i]);
        return;
      }
      // Counted above as a duplicate even if that earlier write fails now: the refusal is counted too.
      void Promise.all(earlier[i]).then((ok) => {
        if (ok.every(Boolean)) d.resolve(results[i]);
        else d.reject(new StoreUnavailableError('the event could not be stored: the write of an earlier delivery of it failed'));
      });
    });
  }

  private settle(entries: Map<string, Entry>, stored: boolean): void {
    for (const [key, e] of entries) {
      this.inFlight.delete(key);
      e.settle(stored);
    }
  }
}

/**
 * The new events of a write as ingest jobs: one per connection and MAX_EVENTS_PER_INGEST_JOB
 * events. A job per event cost ~30 Redis commands per event in BullMQ's own bookkeeping (add,
 * move to active, finish, remove, its event stream), more than ingest itself.
 */
function batchJobs(fresh: Entry[]): { job: { name: string; data: WebhookBatchJobData; opts: typeof WEBHOOK_JOB_OPTIONS }; entries: Entry[] }[] {
  const byConnection = new Map<string, { events: WebhookEventData[]; entries: Entry[] }>();
  for (const e of fresh) {
    const { connection: _, done: __, ...event } = e.event.job();
    let group = byConnection.get(e.connection);
    if (!group) byConnection.set(e.connection, (group = { events: [], entries: [] }));
    group.events.push(event);
    group.entries.push(e);
  }
  const jobs = [];
  for (const [connection, { events, entries }] of byConnection) {
    for (let i = 0; i < events.length; i += MAX_EVENTS_PER_INGEST_JOB) {
      jobs.push({
        job: { name: WEBHOOK_BATCH_JOB, data: { connection, events: events.slice(i, i + MAX_EVENTS_PER_INGEST_JOB) }, opts: WEBHOOK_JOB_OPTIONS },
        entries: entries.slice(i, i + MAX_EVENTS_PER_INGEST_JOB),
      });
    }
  }
  return jobs;
}

/** synchub_webhooks_received_total: `duplicate` when nothing of the delivery was new. */
function countDeliveries(metrics: MetricsStore, pipe: ChainableCommander, batch: Delivery[], results: WebhookStoreResult[]): void {
  const counts = new Map<string, { connection: string; label: string; n: number }>();
  batch.forEach((d, i) => {
    const label = results[i].stored === 0 && results[i].duplicates > 0 ? 'duplicate' : 'stored';
    const key = `${d.connection}\n${label}`;
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { connection: d.connection, label, n: 1 });
  });
  for (const c of counts.values()) metrics.webhooksReceivedIn(pipe, c.connection, c.label, c.n);
}

/** MULTI's exec reports a failed command in its results rather than rejecting. */
async function execOrThrow(pipe: ChainableCommander): Promise<void> {
  const res = await pipe.exec();
  if (!res) throw new Error('the transaction was aborted');
  for (const [err] of res) if (err) throw err;
}
