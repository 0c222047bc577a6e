import { randomUUID } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { Entity } from '../core/canonical/schemas.js';
import type { ErrorJson } from '../core/errors.js';
import { RecordStateStore } from './record-state.js';
import { perGroup, type ShardedTx } from './sharded.js';

export interface DeadLetter {
  id: string;
  pipeline: string;
  /** Stage that failed: map_in, transform, validate, lifecycle, map_out, push. */
  step: string;
  connection: string;
  entity: Entity;
  /** Canonical key, when the record got that far. */
  key?: string;
  /** Only this target is replayed (push-side failures). */
  target?: string;
  /** Why, scrubbed of personal data (see src/core/redact.ts); the remote answer's body is not here. */
  error: ErrorJson;
  /** The error as the remote system gave it (message and body), sealed with the keyring (AAD `dlq:error`). */
  errorSealed?: string;
  attempts: number;
  /** The source record in the API's shape, sealed with the keyring (AAD `dlq:source`). */
  source: string;
  runId?: string;
  createdAt: string;
  /**
   * Its person was erased: what is left is this mark (which erasure, when) beside the pipeline,
   * step, target, error code and dates; no key, no source, no error text. Cannot be replayed.
   */
  erased?: { id: string; at: string };
}

/**
 * Dead letters: each body in the group of its id, its listings (`dlq:all`, `dlq:p:<pipeline>`)
 * and erasure's index (`dlq-key:<record key>`) on the hub tag. The part of the state store
 * (src/state/store.ts) that keeps them; its keys and commits are the store's.
 */
export abstract class DeadLetterStore extends RecordStateStore {
  /** A key under the hub's own prefix (the hub tag on a cluster). */
  abstract k(...parts: string[]): string;
  /** A commit over the state, one MULTI per group it writes. */
  abstract tx(step?: string): ShardedTx;

  /**
   * A dead letter's body (its sealed source and error beside the step, the target and the
   * code): in the group of its id (on one Redis and a one-shard hub, `<prefix>:dlq:<id>` as
   * always). By id rather than by record key: every reader (the listing, the admin API and the
   * CLI by id, erasure by `dlq-key:` and the person index) has the id, and some dead letters
   * have no key.
   */
  deadLetterKey(id: string): string {
    return `${this.layout.groupOf(id)}:dlq:${id}`;
  }

  /**
   * `id` makes a retried stage overwrite its own dead letter instead of adding a second one;
   * one whose source could not be copied (`source` empty) never replaces one written with it.
   * The body goes with the commit's first step, in its group, the indexes with its hub
   * transaction (`index`, the hub's MULTI after every group by default). Why this order is
   * safe: a listed id always has its body; stopped in between, the body has no index entry yet
   * and the stage's retry writes both again under the same id (ids are deterministic: the job
   * and the delivery; a push's retry asks deadLettersExist, which goes by the index). An
   * attempt never retried leaves a body nothing lists: ingest's are named in the person index
   * (written with the first step), which erasure goes by.
   */
  addDeadLetter(commit: ShardedTx, dl: Omit<DeadLetter, 'id' | 'createdAt'>, id: string = randomUUID(), index: ChainableCommander = commit.afterwards().hub()): string {
    const full: DeadLetter = { ...dl, id, createdAt: new Date().toISOString() };
    const body = commit.forKey(id);
    if (dl.source) body.set(this.deadLetterKey(id), JSON.stringify(full));
    else body.set(this.deadLetterKey(id), JSON.stringify(full), 'NX');
    index.zadd(this.k('dlq', 'all'), Date.now(), id);
    index.zadd(this.k('dlq', 'p', dl.pipeline), Date.now(), id);
    // Erasure finds a record's dead letters by its key (src/operations/erasure-index.ts).
    if (dl.key) index.sadd(this.k('dlq-key', dl.key), id);
    return id;
  }

  async listDeadLetters(opts: { pipeline?: string; offset?: number; limit?: number } = {}): Promise<{ total: number; items: DeadLetter[] }> {
    const index = opts.pipeline ? this.k('dlq', 'p', opts.pipeline) : this.k('dlq', 'all');
    const offset = opts.offset ?? 0;
    const limit = opts.limit ?? 50;
    const [total, ids] = await Promise.all([this.redis.zcard(index), this.redis.zrange(index, offset, offset + limit - 1)]);
    return { total, items: await this.deadLetters(ids) };
  }

  /** The dead letters of these ids that have a body, in their order. */
  async deadLetters(ids: string[]): Promise<DeadLetter[]> {
    return (await this.deadLettersAt(ids)).flatMap((d) => (d ? [d.dl] : []));
  }

  /**
   * Each id's dead letter with the key it was found under: its group (one MGET per group), or
   * on the hub tag where a cluster hub wrote it before dead letters were sharded.
   */
  async deadLettersAt(ids: string[]): Promise<({ key: string; dl: DeadLetter } | null)[]> {
    const raws = await perGroup(this.layout, ids, (group, indexes) => this.redis.mget(indexes.map((i) => `${group}:dlq:${ids[i]}`)));
    const found = raws.map((raw, i) => (raw === null ? null : { key: this.deadLetterKey(ids[i]), dl: JSON.parse(raw) as DeadLetter }));
    const missing = ids.filter((_, i) => found[i] === null);
    if (!this.layout.spread || !missing.length) return found;
    const legacy = await this.redis.mget(missing.map((id) => this.k('dlq', id)));
    let m = 0;
    return found.map((f, i) => {
      if (f) return f;
      const raw = legacy[m++];
      return raw === null ? null : { key: this.k('dlq', ids[i]), dl: JSON.parse(raw) as DeadLetter };
    });
  }

  /** Which of these dead letters are written, index and all (a job taken up again finds the ones it already wrote). */
  async deadLettersExist(ids: string[]): Promise<boolean[]> {
    if (!ids.length) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.zscore(this.k('dlq', 'all'), id);
    const res = (await pipe.exec()) ?? [];
    return res.map(([err, score]) => !err && score !== null);
  }

  async getDeadLetter(id: string): Promise<DeadLetter | null> {
    return (await this.deadLettersAt([id]))[0]?.dl ?? null;
  }

  /**
   * Off the listings first, then the body, then the erasure index (on one Redis and a one-shard
   * hub, one MULTI as before). Stopped after the first step, the body is listed nowhere but still
   * named by `dlq-key:`, so an erasure finds it; after the second, `dlq-key:` names an id with no
   * body, which erasure passes over. Never a listed id without a body.
   */
  async removeDeadLetter(dl: DeadLetter): Promise<void> {
    const [at] = this.layout.spread ? await this.deadLettersAt([dl.id]) : [null];
    const listings = this.tx();
    listings.hub().zrem(this.k('dlq', 'all'), dl.id).zrem(this.k('dlq', 'p', dl.pipeline), dl.id);
    const body = listings.afterwards();
    body.forKey(dl.id).del(this.deadLetterKey(dl.id));
    if (at && at.key !== this.deadLetterKey(dl.id)) body.hub().del(at.key);
    if (dl.key) body.afterwards().hub().srem(this.k('dlq-key', dl.key), dl.id);
    await listings.exec();
  }
}
