import type { ChainableCommander, Redis } from 'ioredis';
import type { ShardLayout } from './key-layout.js';
import type { ShardedTx } from './sharded.js';

/** Ids of coalesced batches (jobs/coalesce.ts), whose records stay on the hub tag beside their coalesce list. */
export const COALESCED_BATCH_PREFIX = 'co:';

/** How long a push batch's records stay after its final commit: as long as BullMQ keeps a completed push job (removeOnComplete's age, see pushJobOptions). */
const PUSH_RECORDS_AFTER_COMMIT_SECONDS = 3600;

/**
 * A push batch's sealed canonical records, kept beside its job (`pushrec:<id>`), and the
 * per-record source hashes of push jobs queued before source pages. Reached as `store.pushRecords`.
 *
 * Where a batch's records sit (`groupOf`): on a cluster with shards, in the group of the batch's
 * id (ShardLayout.groupOf(id)), so the biggest family of a hub's bytes (~1.3 KB an order, kept an
 * hour after its job) spreads over the primaries; a coalesced batch's (`co:` ids) stays on the
 * hub tag, because COPY_COALESCED copies it from its coalesce list (hub tag) in one script. On
 * one Redis and on a one-shard cluster hub every group is the hub's: `<prefix>:pushrec:<id>`, as
 * always. Push jobs queued before batches were sharded name records on the hub tag: read and
 * released there when the group has none (`read`, `release`).
 */
export class PushRecordStore {
  constructor(private readonly redis: Redis, private readonly k: (...parts: string[]) => string, private readonly ttlSeconds: number, private readonly layout: ShardLayout) {}

  /** The group (key prefix, see key-layout.ts) of a batch's records. */
  groupOf(id: string): string {
    return this.layout.spread && !id.startsWith(COALESCED_BATCH_PREFIX) ? this.layout.groupOf(id) : this.layout.hub;
  }

  /** The key of a batch's records in its group. */
  key(id: string): string {
    return `${this.groupOf(id)}:pushrec:${id}`;
  }

  /**
   * A push batch's records sealed as bytes, under their own key rather than inside the BullMQ
   * job: job data is JSON, so bytes there would be base64 text written, read and parsed on
   * every job. Kept like sources (`ttlSeconds`) until the job's final commit.
   */
  keep(tx: ShardedTx, id: string, sealed: Buffer): void {
    tx.group(this.groupOf(id)).set(this.key(id), sealed, 'EX', this.ttlSeconds);
  }

  async read(id: string): Promise<Buffer | null> {
    return (await this.readWhere(id))?.sealed ?? null;
  }

  /** A batch's records and the key they were found under: their group's, else (a job queued before batches were sharded) the hub tag's. */
  async readWhere(id: string): Promise<{ key: string; sealed: Buffer } | undefined> {
    const key = this.key(id);
    const sealed = await this.redis.getBuffer(key);
    if (sealed) return { key, sealed };
    const legacy = this.k('pushrec', id);
    if (legacy === key) return undefined;
    const old = await this.redis.getBuffer(legacy);
    return old ? { key: legacy, sealed: old } : undefined;
  }

  /** A coalesced batch's records as their coalesce entries, one each (`recordsEach`, see CoalesceStore.keepCoalescedRecords). */
  async readEach(id: string): Promise<Buffer[]> {
    return this.redis.lrangeBuffer(this.k('pushrec', id), 0, -1);
  }

  /**
   * After a push job's final commit its records are kept as long as BullMQ keeps the completed
   * job (an hour): a worker that dies between that commit and completing the job leaves it to be
   * taken up again, and that attempt must find its records to skip them as pushed. `batches`
   * is the batch's group's step of the push commit, `hub` the hub's MULTI (push.ts says why
   * the one follows the other).
   */
  release(batches: ShardedTx, hub: ChainableCommander, id: string): void {
    const group = this.groupOf(id);
    if (group !== this.layout.hub) batches.group(group).expire(this.key(id), PUSH_RECORDS_AFTER_COMMIT_SECONDS);
    // On the hub tag: a coalesced batch, any batch on one Redis, and a batch of a job queued
    // before batches were sharded (EXPIRE of a missing key does nothing).
    hub.expire(this.k('pushrec', id), PUSH_RECORDS_AFTER_COMMIT_SECONDS);
  }

  /** Sources kept per record in a hash, by push jobs queued before source pages. */
  async legacySources(key: string, fields: string[]): Promise<(string | null)[]> {
    return fields.length ? this.redis.hmget(key, ...fields) : [];
  }

  dropLegacySources(pipe: ChainableCommander, key: string, fields: string[]): void {
    if (fields.length) pipe.hdel(key, ...fields);
  }
}
