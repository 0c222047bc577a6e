import type { Pipeline } from '../config/load.js';
import type { Hub } from './hub.js';
import { ingestRecords } from './ingest.js';

/**
 * How long a webhook job's record waits for the records of other jobs to join it before they
 * are ingested together. The ingest worker starts its jobs one Redis round trip apart, so the
 * jobs running side by side in one process reach this within a few milliseconds.
 */
export const INGEST_LINGER_MS = 10;
/** Most webhook events ingested in one call. */
export const MAX_INGEST_BATCH = 100;

/** What became of an event in one pipeline: ingested, or held because the pipeline is paused. */
export type BatchedIngest = 'ingested' | 'paused';

interface Waiter { raw: unknown; base: string; first: boolean; page?: Buffer; resolve: (r: BatchedIngest) => void; reject: (err: unknown) => void }
interface Batch { waiters: Waiter[]; timer?: NodeJS.Timeout }

/**
 * Webhook ingest in micro-batches. Each webhook event is its own BullMQ job; the events of
 * jobs active at the same time in this process (or worker thread) for the same pipeline are
 * ingested with one `ingestRecords` call (one source-key lookup, one lifecycle read and
 * compare-and-set, one transaction, one coalesce append) instead of one each. Every record
 * keeps its event's names (`events` in IngestContext): its deliveries, its dead letter and its
 * source page are those it would have had alone, so a retried job counts, dead-letters and
 * hands on nothing twice.
 *
 * Whether the pipeline is paused is read once per batch, as it starts: an event of a paused
 * pipeline is answered `paused` and its job waits (webhooks.ts).
 *
 * Each job completes only once the shared ingest did. Should the shared call fail, each
 * event is ingested again alone (ingest is idempotent per event), so an event that breaks
 * ingest fails only its own job and the others go on; that job is retried by BullMQ like
 * any other. Nothing waits here beyond the linger: a worker killed meanwhile leaves its jobs
 * active, to stall and be taken up again.
 */
export class WebhookIngestBatcher {
  private readonly batches = new Map<string, Batch>();
  constructor(private readonly hub: Hub) {}

  /**
   * Ingests one event's record through `pipeline`, with whatever other events join it. `base`
   * names the event's deliveries; `first`: the event was never ingested before (its claim was
   * free), so ingest need not look for what an earlier attempt handed on. `page`: the event's
   * source page made from its stored record (source-pages.ts eventSourcePage), kept as it is.
   */
  ingest(pipeline: Pipeline, raw: unknown, base: string, first = false, page?: Buffer): Promise<BatchedIngest> {
    return new Promise<BatchedIngest>((resolve, reject) => {
      let batch = this.batches.get(pipeline.name);
      if (!batch) {
        batch = { waiters: [] };
        this.batches.set(pipeline.name, batch);
        batch.timer = setTimeout(() => this.run(pipeline), INGEST_LINGER_MS);
      }
      batch.waiters.push({ raw, base, first, page, resolve, reject });
      if (batch.waiters.length >= MAX_INGEST_BATCH) {
        clearTimeout(batch.timer);
        this.run(pipeline);
      }
    });
  }

  private run(pipeline: Pipeline): void {
    const batch = this.batches.get(pipeline.name);
    if (!batch) return;
    this.batches.delete(pipeline.name);
    void this.ingestAll(pipeline, batch.waiters);
  }

  private async ingestAll(pipeline: Pipeline, waiters: Waiter[]): Promise<void> {
    try {
      if (await this.hub.store.pausedSince(pipeline.name)) {
        for (const w of waiters) w.resolve('paused');
        return;
      }
      await this.call(pipeline, waiters);
      for (const w of waiters) w.resolve('ingested');
      return;
    } catch (err) {
      if (waiters.length === 1) return waiters[0].reject(err);
      this.hub.logger.warn({ pipeline: pipeline.name, events: waiters.length, err: (err as Error).message }, 'a batch of webhook events failed to ingest; each is ingested alone');
    }
    // The failed call may have handed some of them on already.
    await Promise.all(waiters.map((w) => this.call(pipeline, [{ ...w, first: false }]).then(() => w.resolve('ingested'), w.reject)));
  }

  private async call(pipeline: Pipeline, waiters: Waiter[]): Promise<void> {
    await ingestRecords(this.hub, pipeline, waiters.map((w) => w.raw), { events: waiters.map((w) => w.base), eventsFirst: waiters.map((w) => w.first), eventPages: waiters.map((w) => w.page), coalesce: true });
  }
}

const batchers = new WeakMap<Hub, WebhookIngestBatcher>();

/** The batcher of one hub (one per process or worker thread, like its record fetcher). */
export function webhookIngestBatcher(hub: Hub): WebhookIngestBatcher {
  let b = batchers.get(hub);
  if (!b) batchers.set(hub, (b = new WebhookIngestBatcher(hub)));
  return b;
}
