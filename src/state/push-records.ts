import type { ChainableCommander, Redis } from 'ioredis';
import type { ShardLayout } from './key-layout.js';
import type { ShardedTx } from './sharded.js';

/** Ids of coalesced batches (jobs/coalesce.ts), whose records stay on the hub tag beside their coalesce list. */
export const COALESCED_BATCH_PREFIX = 'co:';

/** How long a push batch's records stay after its final commit: as long as BullMQ keeps a completed push job (removeOnComplete's age, see pushJobOptions). */
const PUSH_RECORDS_AFTER_COMMIT_SECONDS = 3600;

/**
 * A push batch's records as kept (sealed): `[records[from],…,records[to - 1]]`, each a record's
 * JSON text, as UTF-8 bytes, written straight into one buffer: the same bytes as the joined text
 * encoded, without the text of the whole batch made first (JSON.stringify escapes lone
 * surrogates, so no character is split).
 */
export function batchRecordsBytes(records: string[], from: number, to: number): Buffer {
  let size = 2 + Math.max(0, to - from - 1);
  for (let i = from; i < to; i++) size += Buffer.byteLength(records[i], 'utf8');
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  out[at++] = 0x5b;
  for (let i = from; i < to; i++) {
    if (i > from) out[at++] = 0x2c;
    at += out.write(records[i], at, 'utf8');
  }
  out[at++] = 0x5d;
  if (at !== size) throw new Error(`push batch: wrote ${at} of ${size} bytes`);
  return out;
}

/**
 * A push batch's sealed canonical records, kept beside its job (`pushrec:<id>`), and the
 * per-record source hashes of push jobs queued before source pages. Reached as `store.pushRecords`.
 *
 * Where a batch's records sit (`groupOf`): on a cluster with shards, in the group of the batch's
 * id (ShardLayout.groupOf(id)), so the biggest family of a hub's bytes (~1.3 KB an order, kept an
 * hour after its job) spreads over the primaries; a coalesced batch's (`co:` ids) stays on the
 * hub tag, because COPY_COALESCED copies it from its coalesce list (hub tag) in one script. On
 * one Redis and on a one-shard cluster hub every group is the hub's: `<prefix>:pushrec:<id>`, as
 * always (a cluster hub from before shards stays on one shard: src/state/layout-guard.ts).
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
    return this.redis.getBuffer(this.key(id));
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
    // On the hub tag (a coalesced batch, any batch on one Redis) it goes with the hub's MULTI.
    (group === this.layout.hub ? hub : batches.group(group)).expire(this.key(id), PUSH_RECORDS_AFTER_COMMIT_SECONDS);
  }

  /** Sources kept per record in a hash, by push jobs queued before source pages. */
  async legacySources(key: string, fields: string[]): Promise<(string | null)[]> {
    return fields.length ? this.redis.hmget(key, ...fields) : [];
  }

  dropLegacySources(pipe: ChainableCommander, key: string, fields: string[]): void {
    if (fields.length) pipe.hdel(key, ...fields);
  }
}
