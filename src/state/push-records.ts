import type { ChainableCommander, Redis } from 'ioredis';

/** How long a push batch's records stay after its final commit: as long as BullMQ keeps a completed push job (removeOnComplete's age, see pushJobOptions). */
const PUSH_RECORDS_AFTER_COMMIT_SECONDS = 3600;

/**
 * A push batch's sealed canonical records, kept beside its job (`pushrec:<id>`), and the
 * per-record source hashes of push jobs queued before source pages. Reached as `store.pushRecords`.
 */
export class PushRecordStore {
  constructor(private readonly redis: Redis, private readonly k: (...parts: string[]) => string, private readonly ttlSeconds: number) {}

  /**
   * A push batch's records sealed as bytes, under their own key rather than inside the BullMQ
   * job: job data is JSON, so bytes there would be base64 text written, read and parsed on
   * every job. Kept like sources (`ttlSeconds`) until the job's final commit.
   */
  keep(pipe: ChainableCommander, id: string, sealed: Buffer): void {
    pipe.set(this.k('pushrec', id), sealed, 'EX', this.ttlSeconds);
  }

  async read(id: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.k('pushrec', id));
  }

  /** A coalesced batch's records as their coalesce entries, one each (`recordsEach`, see CoalesceStore.keepCoalescedRecords). */
  async readEach(id: string): Promise<Buffer[]> {
    return this.redis.lrangeBuffer(this.k('pushrec', id), 0, -1);
  }

  /**
   * After a push job's final commit its records are kept as long as BullMQ keeps the completed
   * job (an hour): a worker that dies between that commit and completing the job leaves it to be
   * taken up again, and that attempt must find its records to skip them as pushed.
   */
  release(pipe: ChainableCommander, id: string): void {
    pipe.expire(this.k('pushrec', id), PUSH_RECORDS_AFTER_COMMIT_SECONDS);
  }

  /** Sources kept per record in a hash, by push jobs queued before source pages. */
  async legacySources(key: string, fields: string[]): Promise<(string | null)[]> {
    return fields.length ? this.redis.hmget(key, ...fields) : [];
  }

  dropLegacySources(pipe: ChainableCommander, key: string, fields: string[]): void {
    if (fields.length) pipe.hdel(key, ...fields);
  }
}
