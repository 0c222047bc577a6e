import type { Redis } from 'ioredis';
import type { Entity } from '../core/canonical/schemas.js';
import type { ShardLayout } from './key-layout.js';
import { appendTo, perGroup, type ShardedTx } from './sharded.js';

/** The text that decides a cross-reference's group. */
const xrefText = (connection: string, entity: string, externalId: string) => `${entity}:${connection}:${externalId}`;

/** HSET's field, value, field, value… arguments for many fields: no intermediate object of a batch's keys. */
export function hashFields<T>(items: T[], field: (item: T) => string, value: (item: T) => string): string[] {
  const out: string[] = new Array(items.length * 2);
  for (let i = 0; i < items.length; i++) {
    out[2 * i] = field(items[i]);
    out[2 * i + 1] = value(items[i]);
  }
  return out;
}

/**
 * The state the hub keeps per record and target, in the record's group (src/state/key-layout.ts):
 * links and cross-references between systems, fingerprints of what each target last got, and
 * the push locks. StateStore (store.ts) is this plus the hub's control state. Reads over many
 * records split per group (perGroup); writes go in a ShardedTx, each to its own group's MULTI.
 */
export class RecordStateStore {
  constructor(readonly redis: Redis, readonly layout: ShardLayout) {}

  // ---- links between systems: in the group of the record (link) or of the external id (xref) ----

  /** A record's links, `connection → externalId`, in the record's group. */
  linkKey(key: string): string {
    return `${this.layout.groupOf(key)}:link:${key}`;
  }

  /** The canonical key an external id of a connection is linked to, in the group of `<entity>:<connection>:<externalId>`. */
  xrefKey(connection: string, entity: Entity, externalId: string): string {
    // One group (one Redis, a one-shard hub): no deciding text to make.
    const group = this.layout.spread ? this.layout.groupOf(xrefText(connection, entity, externalId)) : this.layout.groupOf('');
    return `${group}:xref:${connection}:${entity}:${externalId}`;
  }

  /** SCAN patterns of a connection's cross-references, one per group (a batch of one pattern is on one slot). */
  xrefPatterns(connection: string, entity: Entity): string[] {
    return this.layout.groups().map((g) => `${g}:xref:${connection}:${entity}:*`);
  }

  /** Canonical keys already linked to these ids of one connection. */
  async keysForExternalIds(connection: string, entity: Entity, ids: string[]): Promise<(string | null)[]> {
    if (!ids.length) return [];
    // perGroup reads the deciding texts only to split them by group.
    const texts = this.layout.spread ? ids.map((id) => xrefText(connection, entity, id)) : ids;
    return perGroup(this.layout, texts, (_g, at) => this.redis.mget(at.map((i) => this.xrefKey(connection, entity, ids[i]))));
  }

  async externalIdsFor(connection: string, keys: string[]): Promise<(string | null)[]> {
    if (!keys.length) return [];
    return perGroup(this.layout, keys, async (_g, at) => {
      const linkKeys = at.map((i) => this.linkKey(keys[i]));
      return (await (this.redis as any).synchubHgetAll(linkKeys.length, ...linkKeys, connection)) as (string | null)[];
    });
  }

  link(tx: ShardedTx, key: string, connection: string, entity: Entity, externalId: string): void {
    tx.forKey(key).hset(this.linkKey(key), connection, externalId);
    tx.forKey(xrefText(connection, entity, externalId)).set(this.xrefKey(connection, entity, externalId), key);
  }

  /**
   * Many links of one connection and entity (a page's worth): one script on a one-group layout;
   * else an HSET per link and an MSET of cross-references per group. Both are overwrites with the
   * same values when done again, so a commit stopped part-way is completed by its retry.
   */
  linkAll(tx: ShardedTx, connection: string, entity: Entity, links: { key: string; externalId: string }[]): void {
    if (!links.length) return;
    if (!this.layout.spread) {
      // The script's arguments in one array (keys: links, then cross-references; then the connection, the ids, the record keys), not spread from five.
      const n = links.length;
      const args: (string | number)[] = new Array(4 * n + 2);
      args[0] = 2 * n;
      args[2 * n + 1] = connection;
      for (let i = 0; i < n; i++) {
        const l = links[i];
        args[1 + i] = this.linkKey(l.key);
        args[1 + n + i] = this.xrefKey(connection, entity, l.externalId);
        args[2 * n + 2 + i] = l.externalId;
        args[3 * n + 2 + i] = l.key;
      }
      const multi = tx.hub() as any;
      multi.synchubLinkAll.apply(multi, args);
      return;
    }
    const xrefs = new Map<string, string[]>();
    for (const l of links) {
      tx.forKey(l.key).hset(this.linkKey(l.key), connection, l.externalId);
      const group = this.layout.groupOf(xrefText(connection, entity, l.externalId));
      const list = xrefs.get(group) ?? [];
      list.push(this.xrefKey(connection, entity, l.externalId), l.key);
      xrefs.set(group, list);
    }
    for (const [group, pairs] of xrefs) tx.group(group).mset(...pairs);
  }

  async getLinks(key: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.linkKey(key));
  }

  /** Drops one link of a record: its link field, the cross-reference and the fingerprint (each in its own group). */
  dropLink(tx: ShardedTx, key: string, connection: string, entity: Entity, externalId: string): void {
    tx.forKey(key).hdel(this.linkKey(key), connection);
    tx.forKey(xrefText(connection, entity, externalId)).del(this.xrefKey(connection, entity, externalId));
    tx.forKey(key).hdel(this.fpKey(connection, entity, this.layout.groupOf(key)), key);
  }

  // ---- fingerprints: `${versionMs}:${mac}` of what a connection last got (or sent); one hash per group ----

  /** The fingerprint hash of one connection and entity in one group (fields: record keys of that group). */
  fpKey(connection: string, entity: Entity | string, group: string): string {
    return `${group}:fp:${connection}:${entity}`;
  }

  /** Every fingerprint hash of one connection and entity (one per group). */
  fpKeys(connection: string, entity: Entity | string): string[] {
    return this.layout.groups().map((g) => this.fpKey(connection, entity, g));
  }

  async getFingerprints(connection: string, entity: Entity, keys: string[]): Promise<(string | null)[]> {
    if (!keys.length) return [];
    return perGroup(this.layout, keys, (g, at) => this.redis.hmget(this.fpKey(connection, entity, g), ...at.map((i) => keys[i])));
  }

  setFingerprints(tx: ShardedTx, connection: string, entity: Entity, values: { key: string; value: string }[]): void {
    if (!values.length) return;
    const byGroup = new Map<string, { key: string; value: string }[]>();
    for (const v of values) appendTo(byGroup, this.layout.groupOf(v.key), v);
    for (const [g, list] of byGroup) tx.group(g).hset(this.fpKey(connection, entity, g), ...hashFields(list, (v) => v.key, (v) => v.value));
  }

  // ---- one push at a time per record and target ----

  /**
   * Takes the push locks of these records on a target, all or none. Two jobs pushing the
   * same record concurrently could land in either order at the target; with the lock the
   * second one reads the fingerprint the first one left and skips an older version.
   * A lock sits in its record's group: one script per group, in parallel. When any group
   * refuses, what the others took is released before answering false (all or none still
   * holds; a release lost with a dying worker expires with the TTL). Two jobs that each took
   * some groups of an overlap both give way and come back after a random delay (workers.ts), so
   * one of them takes all on a later try. `renew`: the job's own
   * locks again, nothing released on a refusal (the job goes on; an expired lock is its loss).
   */
  async lockPush(connection: string, keys: string[], token: string, ttlMs: number, renew = false): Promise<boolean> {
    if (!keys.length) return true;
    const took = await perGroup(this.layout, keys, async (g, at) => {
      const redisKeys = at.map((i) => this.plockKey(connection, keys[i]));
      const ok = (await (this.redis as any).synchubLockAll(redisKeys.length, ...redisKeys, token, ttlMs)) === 1;
      return at.map(() => ok);
    });
    if (took.every(Boolean)) return true;
    if (!renew) await this.unlockPush(connection, keys.filter((_, i) => took[i]), token);
    return false;
  }

  async unlockPush(connection: string, keys: string[], token: string): Promise<void> {
    if (!keys.length) return;
    await perGroup(this.layout, keys, async (g, at) => {
      const redisKeys = at.map((i) => this.plockKey(connection, keys[i]));
      await (this.redis as any).synchubUnlockOwn(redisKeys.length, ...redisKeys, token);
      return at;
    });
  }

  private plockKey(connection: string, key: string): string {
    return `${this.layout.groupOf(key)}:plock:${connection}:${key}`;
  }
}
