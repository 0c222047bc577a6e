import type { ChainableCommander, Redis } from 'ioredis';
import type { Entity } from '../core/canonical/schemas.js';
import { CLAIM_UNIQUE, RECORD_CONFLICTS } from './scripts.js';

/** A record that wants a unique key: the blind index of its value under one rule. */
export interface UniqueClaim {
  entity: Entity;
  rule: string;
  /** The source connection for a rule scoped per connection, '*' for a rule across sources. */
  scope: string;
  /** Blind index of the key's value (never the value). */
  index: string;
  connection: string;
  externalId: string;
  /** The canonical key the record has now (a merge links a later record to it). */
  key: string;
  onConflict: 'reject' | 'merge';
  /** Which record of the page (claims of one record are checked together). */
  record: number;
}

export interface UniqueHolder { connection: string; externalId: string; key: string }

/** A conflict as listed in the admin API: records named by connection and id, the shared value never shown. */
export interface UniqueConflict {
  id: string;
  at: string;
  pipeline: string;
  entity: Entity;
  rule: string;
  action: 'rejected' | 'merged';
  connection: string;
  externalId: string;
  holder: UniqueHolder;
  runId?: string;
}

/**
 * Unique keys of uniqueness rules (src/operations/uniqueness.ts) and the conflicts they found.
 * Key layout: `uniq:<entity>:<rule>:<scope>:<blind index>` holds "connection\nexternalId\ncanonical
 * key" of the record holding it; `uniqown:<entity>:<rule>:<connection>:<externalId>` names the
 * claim that record held last, so a record whose value changes releases the old one. Conflicts
 * are a hash by id beside a time index (`uniqconf`, `uniqconf:at`), the newest 1000.
 */
export class UniqueStore {
  constructor(private readonly redis: Redis, private readonly k: (...parts: string[]) => string) {
    redis.defineCommand('synchubClaimUnique', { lua: CLAIM_UNIQUE });
    redis.defineCommand('synchubRecordConflicts', { numberOfKeys: 4, lua: RECORD_CONFLICTS });
  }

  /** Claims in one atomic step, in the order given; per claim null (this record holds it) or the holder. */
  async claim(claims: UniqueClaim[]): Promise<(UniqueHolder | null)[]> {
    if (!claims.length) return [];
    const keys: string[] = [];
    const args: string[] = [];
    for (const c of claims) {
      keys.push(this.k('uniq', c.entity, c.rule, c.scope, c.index), this.k('uniqown', c.entity, c.rule, c.connection, c.externalId));
      args.push(`${c.connection}\n${c.externalId}\n`, c.key, c.onConflict === 'merge' ? 'm' : 'r', String(c.record));
    }
    const out = (await (this.redis as any).synchubClaimUnique(keys.length, ...keys, ...args)) as string[];
    return out.map((v) => {
      if (!v) return null;
      const [connection, externalId, ...key] = v.split('\n');
      return { connection, externalId, key: key.join('\n') };
    });
  }

  /** Adds the conflicts in the caller's transaction, each counted once on the run and the pipeline. */
  recordConflicts(pipe: ChainableCommander, pipeline: string, runId: string | undefined, conflicts: UniqueConflict[]): void {
    if (!conflicts.length) return;
    const args = [String(Date.now()), ...conflicts.flatMap((c) => [c.id, JSON.stringify(c)])];
    (pipe as any).synchubRecordConflicts(this.k('uniqconf'), this.k('uniqconf', 'at'), runId ? this.k('run', runId) : this.k('stats', pipeline), this.k('stats', pipeline), ...args);
  }

  /** Newest first, optionally of one pipeline. */
  async conflicts(opts: { pipeline?: string; offset?: number; limit?: number } = {}): Promise<{ total: number; items: UniqueConflict[] }> {
    const ids = await this.redis.zrevrange(this.k('uniqconf', 'at'), 0, -1);
    if (!ids.length) return { total: 0, items: [] };
    const raws = await this.redis.hmget(this.k('uniqconf'), ...ids);
    const all = raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as UniqueConflict).filter((c) => !opts.pipeline || c.pipeline === opts.pipeline);
    const offset = opts.offset ?? 0;
    return { total: all.length, items: all.slice(offset, offset + (opts.limit ?? 50)) };
  }
}
