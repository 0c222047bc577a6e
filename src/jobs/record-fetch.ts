import type { Entity } from '../core/canonical/schemas.js';
import { RemoteRejectedError } from '../core/errors.js';
import type { ConnectorClient } from '../connectors/types.js';

/** The referenced record no longer exists at the source (fetch answered null, 404 or 410). */
export const GONE_AT_SOURCE = Symbol('gone at source');
export type FetchedRecord = unknown | typeof GONE_AT_SOURCE;

/**
 * How long a webhook job's fetch waits for the fetches of other jobs to join it. The ingest
 * worker starts its jobs one Redis round trip apart, so a delivery's events (up to 100 from
 * Salesforce, a Zoho notification's ids) reach this within a few milliseconds of each other.
 */
export const FETCH_LINGER_MS = 15;
/** Most references read in one fetchMany call (each connector splits further where its API needs). */
export const MAX_FETCH_BATCH = 100;

interface Waiter { ref: string; resolve: (r: FetchedRecord) => void; reject: (err: unknown) => void }
interface Batch { waiters: Waiter[]; signal?: AbortSignal; timer?: NodeJS.Timeout }

/**
 * Reads the records webhook events refer to. Where the connector has `fetchMany`, the
 * fetches of jobs running side by side in this process within FETCH_LINGER_MS are read
 * with one call per MAX_FETCH_BATCH references (Salesforce: one SOQL `Id IN (…)` query;
 * Zoho: one `GET /{module}?ids=…`) instead of one call each. Each job still fetches after
 * it started, so it never gets a record older than its event. Nothing is kept once the
 * batch is answered: the coalescing lives only as long as the call.
 */
export class RecordFetcher {
  private readonly batches = new Map<string, Batch>();

  constructor(private readonly clientOf: (connection: string) => ConnectorClient) {}

  fetch(connection: string, entity: Entity, ref: string, signal?: AbortSignal): Promise<FetchedRecord> {
    const client = this.clientOf(connection);
    if (!client.fetchMany) return fetchOne(client, entity, ref, signal);
    const key = `${connection}\n${entity}`;
    return new Promise<FetchedRecord>((resolve, reject) => {
      let batch = this.batches.get(key);
      if (!batch) {
        batch = { waiters: [], signal };
        this.batches.set(key, batch);
        batch.timer = setTimeout(() => this.run(key, client, entity), FETCH_LINGER_MS);
      }
      batch.waiters.push({ ref, resolve, reject });
      if (batch.waiters.length >= MAX_FETCH_BATCH) {
        clearTimeout(batch.timer);
        this.run(key, client, entity);
      }
    });
  }

  private run(key: string, client: ConnectorClient, entity: Entity): void {
    const batch = this.batches.get(key);
    if (!batch) return;
    this.batches.delete(key);
    const refs = [...new Set(batch.waiters.map((w) => w.ref))];
    client.fetchMany!(entity, refs, batch.signal).then(
      (found) => {
        for (const w of batch.waiters) w.resolve(found.has(w.ref) && found.get(w.ref) != null ? found.get(w.ref) : GONE_AT_SOURCE);
      },
      (err) => {
        for (const w of batch.waiters) w.reject(err);
      },
    );
  }
}

/** One record by id: null, 404 and 410 all mean the source has it no more. */
async function fetchOne(client: ConnectorClient, entity: Entity, ref: string, signal?: AbortSignal): Promise<FetchedRecord> {
  try {
    const record = await client.fetch(entity, ref, signal);
    return record === null || record === undefined ? GONE_AT_SOURCE : record;
  } catch (err) {
    if (err instanceof RemoteRejectedError && (err.status === 404 || err.status === 410)) return GONE_AT_SOURCE;
    throw err;
  }
}

const fetchers = new WeakMap<object, RecordFetcher>();

/** The fetcher of one hub (one per process or worker thread, like the hub's clients). */
export function recordFetcher(hub: { client(connection: string): ConnectorClient }): RecordFetcher {
  let f = fetchers.get(hub);
  if (!f) fetchers.set(hub, (f = new RecordFetcher((c) => hub.client(c))));
  return f;
}
