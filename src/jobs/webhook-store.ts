import type { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { StoreUnavailableError } from '../core/errors.js';
import type { MetricsStore } from '../state/metrics.js';
import type { StateStore } from '../state/store.js';
import { jobId, type WebhookJobData } from './queues.js';

export const WEBHOOK_JOB_OPTIONS = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  // Kept an hour after completion, so two concurrent deliveries of one event cannot both be queued.
  removeOnComplete: { age: 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** A verified event of one delivery. `job` builds its stored form; it is called only when the event is new. */
export interface IncomingWebhookEvent {
  id: string;
  job: () => WebhookJobData;
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
}

interface Delivery {
  connection: string;
  events: readonly IncomingWebhookEvent[];
  resolve: (r: WebhookStoreResult) => void;
  reject: (err: Error) => void;
}

/** One event id of one connection within a batch; the first delivery that names it owns it. */
interface Entry {
  connection: string;
  id: string;
  owner: Delivery;
  event: IncomingWebhookEvent;
}

/**
 * Stores the verified events of every delivery that reaches it in the same turn of the
 * event loop with three Redis round trips for the whole batch, however many deliveries
 * it holds: MGET of the dedupe marks, one addBulk of the new events, then one MULTI
 * setting their marks (72 h or more) and counting the deliveries for /metrics.
 *
 * Each delivery's promise settles only after those writes are confirmed: a delivery is
 * answered 2xx only once its new events are in the queue. An event id met twice in a
 * batch is stored once; the later delivery is its duplicate and shares its outcome.
 * Marks are written after the jobs, so a failure in between leaves a job without a mark
 * (the sender retries, and the fixed job id keeps the job single), never a mark without
 * a job. A batch waits while the previous one is still being written, so batches grow
 * with the load and one process never races itself on an event id.
 */
export class WebhookEventStore {
  private pending: Delivery[] = [];
  private scheduled = false;
  private writing: Promise<void> | undefined;

  constructor(private readonly opts: WebhookEventStoreOptions) {}

  /** Resolves once every new event is stored; rejects with StoreUnavailableError when Redis did not confirm it. */
  store(connection: string, events: readonly IncomingWebhookEvent[]): Promise<WebhookStoreResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ connection, events, resolve, reject });
      this.schedule();
    });
  }

  /** Waits for the batches already taken in (for a clean shutdown). */
  async drain(): Promise<void> {
    while (this.writing || this.pending.length) {
      if (this.writing) await this.writing;
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    // setImmediate runs after the poll phase: every request whose body arrived in this turn has joined.
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = [];
      this.writing = this.write(batch).finally(() => {
        this.writing = undefined;
        if (this.pending.length) this.schedule();
      });
    });
  }

  private async write(batch: Delivery[]): Promise<void> {
    const entries = new Map<string, Entry>();
    for (const d of batch) {
      for (const event of d.events) {
        const key = `${d.connection}\n${event.id}`;
        if (!entries.has(key)) entries.set(key, { connection: d.connection, id: event.id, owner: d, event });
      }
    }
    const all = [...entries.values()];
    const fresh = new Set<Entry>();
    try {
      const seen = await this.opts.state.seenWebhookEvents(all);
      all.forEach((e, i) => { if (!seen[i]) fresh.add(e); });
      if (fresh.size) {
        await this.opts.queue.addBulk([...fresh].map((e) => ({
          name: 'webhook',
          data: e.event.job(),
          opts: { ...WEBHOOK_JOB_OPTIONS, jobId: jobId('wh', e.connection, e.id) },
        })));
      }
      const results = batch.map((d) => result(d, entries, fresh));
      const pipe = this.opts.state.redis.multi();
      this.opts.state.markWebhookEvents(pipe, [...fresh], this.opts.dedupeHours);
      countDeliveries(this.opts.metrics, pipe, batch, results);
      await execOrThrow(pipe);
      batch.forEach((d, i) => d.resolve(results[i]));
    } catch (err) {
      const failure = new StoreUnavailableError(`the event could not be stored: ${(err as Error).message}`, err);
      for (const d of batch) d.reject(failure);
    }
  }
}

function result(d: Delivery, entries: Map<string, Entry>, fresh: Set<Entry>): WebhookStoreResult {
  let stored = 0;
  for (const event of d.events) {
    const e = entries.get(`${d.connection}\n${event.id}`)!;
    // The same id twice in one delivery counts once as stored, then as a duplicate.
    if (e.owner === d && e.event === event && fresh.has(e)) stored++;
  }
  return { stored, duplicates: d.events.length - stored };
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
