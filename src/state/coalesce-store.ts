import type { ChainableCommander, Redis } from 'ioredis';
import type { Entity } from '../core/canonical/schemas.js';

/**
 * Webhook records waiting to be pushed together (src/jobs/coalesce.ts): a list per pipeline,
 * target connection and entity, and the flush lock beside it. The Lua commands it calls
 * (synchubRpushExpire, synchubLockAll, synchubUnlockOwn) are defined by StateStore.
 */
export class CoalesceStore {
  constructor(private readonly redis: Redis, private readonly k: (...parts: string[]) => string, private readonly ttlSeconds: number) {}

  /** The list of one pipeline's records waiting for one target connection and entity. */
  coalesceKey(pipeline: string, connection: string, entity: Entity): string {
    return this.k('coalesce', pipeline, connection, entity);
  }

  /** Appends in the caller's transaction, as one command whose answer there is the list's new length. */
  appendCoalesced(pipe: ChainableCommander, key: string, entries: Buffer[]): void {
    (pipe as any).synchubRpushExpire(key, this.ttlSeconds, ...entries);
  }

  /** The oldest `count` entries (as bytes: see coalesce.ts), left in place until trimCoalesced (a flusher that dies leaves them to the next). */
  async coalesced(key: string, count: number): Promise<Buffer[]> {
    return this.redis.lrangeBuffer(key, 0, count - 1);
  }

  /** How many entries wait in the list. */
  async waiting(key: string): Promise<number> {
    return this.redis.llen(key);
  }

  /** Drops the oldest `count` entries: only the flush lock's holder takes from the head, appends go to the tail. */
  async trimCoalesced(key: string, count: number): Promise<void> {
    await this.redis.ltrim(key, count, -1);
  }

  /**
   * In the caller's transaction: copies the entries at `picks` (index in the list and length as
   * read) into the batch's records list `recordsKey` (a `pushrec` key), inside Redis. Its answer
   * is an error when the list is no longer as read.
   */
  keepCoalescedRecords(pipe: ChainableCommander, key: string, recordsKey: string, picks: { index: number; length: number }[]): void {
    (pipe as any).synchubCopyCoalesced(key, this.k('pushrec', recordsKey), this.ttlSeconds, ...picks.flatMap((p) => [p.index, p.length]));
  }

  async lockCoalesce(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await (this.redis as any).synchubLockAll(1, `${key}:lock`, token, ttlMs)) === 1;
  }

  async unlockCoalesce(key: string, token: string): Promise<void> {
    await (this.redis as any).synchubUnlockOwn(1, `${key}:lock`, token);
  }
}
