import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';

/**
 * Facts about a connection an admin should know once, not on every call: the API
 * answering with another version than asked, a missing access scope, fields the
 * provider withholds. A notice is logged as a warning once per connection and kept
 * for admin answers (`GET /api/connections`).
 *
 * Key: `<prefix>:notices:<connection>`, a hash of notice key → JSON `{ message, at, … }`.
 * HSETNX makes the first process to see a notice the one that logs it; the hash lapses
 * NOTICE_TTL_SECONDS after the newest notice, so a fixed cause stops being shown.
 * Notices hold no personal data: versions, scope names, counts.
 */
export interface ConnectionNotice {
  key: string;
  message: string;
  at: string;
  [field: string]: unknown;
}

export const NOTICE_TTL_SECONDS = 7 * 24 * 3600;

export const noticesKey = (prefix: string, connection: string) => `${prefix}:notices:${connection}`;

export class ConnectionNotices {
  /** Keys this process has reported: the common case costs no Redis call. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly connection: string,
    private readonly logger: Logger,
    private readonly shared?: { redis: Redis; prefix: string },
  ) {}

  /** Logs `message` as a warning the first time `key` is seen for this connection (across processes when Redis is shared), and keeps it. */
  async report(key: string, message: string, fields: Record<string, unknown> = {}): Promise<void> {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    let first = true;
    if (this.shared) {
      const hash = noticesKey(this.shared.prefix, this.connection);
      try {
        const [[, set]] = (await this.shared.redis.multi()
          .hsetnx(hash, key, JSON.stringify({ message, at: new Date().toISOString(), ...fields }))
          .expire(hash, NOTICE_TTL_SECONDS)
          .exec()) as [[Error | null, number]];
        first = set === 1;
      } catch (err) {
        // Not kept: the warning is still logged by this process.
        this.logger.debug({ connection: this.connection, err: (err as Error).message }, 'connection notice not stored');
      }
    }
    if (first) this.logger.warn({ connection: this.connection, notice: key, ...fields }, `connection ${this.connection}: ${message}`);
  }
}

/** The notices kept for a connection, oldest first. */
export async function readConnectionNotices(redis: Redis, prefix: string, connection: string): Promise<ConnectionNotice[]> {
  const all = await redis.hgetall(noticesKey(prefix, connection));
  return Object.entries(all)
    .map(([key, json]) => ({ key, ...(JSON.parse(json) as { message: string; at: string }) }))
    .sort((a, b) => a.at.localeCompare(b.at));
}
