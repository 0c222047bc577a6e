import { createHash, randomUUID } from 'node:crypto';
import type { Redis, ChainableCommander } from 'ioredis';
import { CoalesceStore } from './coalesce-store.js';
import { WebhookEventMarks } from './webhook-marks.js';
import { OrderStore } from './orders.js';
import { UniqueStore } from './unique-store.js';
import { ApprovalStore } from './approval-store.js';
import { SegmentStore } from './segment-store.js';
import { PushRecordStore } from './push-records.js';
import type { ShardLayout } from './key-layout.js';
import { ShardedTx, type ShardFaults } from './sharded.js';
import { hashFields } from './record-state.js';
import { DeadLetterStore } from './dead-letters.js';
import { COMPLETE_RUN, RECORD_OUTCOMES, RECORD_PAGE, COMPARE_AND_SET, COMPARE_AND_SET_ALL, HAND_ON_PULLED, HGET_ALL, KEEP_PULLED_PAGE, HVALS_ALL, INDEX_PERSONS, LINK_ALL, LOCK_ALL, RPUSH_EXPIRE, COPY_COALESCED, SETTLE_SOURCES, SETTLE_SOURCES_OF_PAGES, UNLOCK_OWN, XADD_ALL } from './scripts.js';

/**
 * Everything the hub keeps in Redis besides the queues: cursors, runs, links,
 * fingerprints, webhook dedupe marks and dead letters; orders, their lifecycle state
 * and payments in `orders` (src/state/orders.ts).
 * Nothing here holds personal data in plaintext: keys use blind indexes, dead
 * letters hold sealed (encrypted) records.
 */
export type Outcome = 'pushed' | 'skipped' | 'dead';

export interface RunState {
  id: string;
  pipeline: string;
  full: boolean;
  startedAt: string;
  finishedAt?: string;
  pullDone: boolean;
  pages: number;
  expected: number;
  pushed: number;
  skipped: number;
  dead: number;
  /** Records the source reported deleted during this run (recorded as tombstones, not pushed). */
  deleted: number;
  /** Records that met a uniqueness rule's key held by another record (rejected or merged). */
  conflicts: number;
  error?: string;
  /** What the source said the run could not see (e.g. orders older than 60 days); each once. */
  notices?: string[];
}

export interface Tombstone { id: string; deletedAt?: string; runId?: string }

const RUN_TTL_SECONDS = 7 * 24 * 3600;
const NOTICE_FIELD = 'notice:';
const runNotices = (h: Record<string, string>): { notices?: string[] } => {
  const notices = Object.keys(h).filter((f) => f.startsWith(NOTICE_FIELD)).sort().map((f) => h[f]);
  return notices.length ? { notices } : {};
};
/** A pulled page's own field in its pending hash: held until the page is recorded. */
const PULLED_FIELD = 'pulled';
/** Set in a pulled page's pending hash by its first hand-on (see HAND_ON_PULLED); settled with the page's record. */
const HANDED_FIELD = 'handed';
export const pulledPageId = (runId: string, seq: number) => `${runId}.${seq}`;
export type { DeadLetter } from './dead-letters.js';

/** Sealed sources of pushes not settled yet (a paused or failing target): kept 30 days. */
const SOURCE_TTL_SECONDS = 30 * 24 * 3600;

export class StateStore extends DeadLetterStore {
  /** The prefix of the control keys (the hub tag on a cluster). */
  readonly prefix: string;

  constructor(redis: Redis, layout: ShardLayout) {
    super(redis, layout);
    this.prefix = layout.hub;
    redis.defineCommand('synchubRecordOutcomes', { numberOfKeys: 3, lua: RECORD_OUTCOMES });
    redis.defineCommand('synchubRecordPage', { numberOfKeys: 3, lua: RECORD_PAGE });
    redis.defineCommand('synchubCas', { numberOfKeys: 1, lua: COMPARE_AND_SET });
    redis.defineCommand('synchubCasAll', { lua: COMPARE_AND_SET_ALL });
    redis.defineCommand('synchubLinkAll', { lua: LINK_ALL });
    redis.defineCommand('synchubLockAll', { lua: LOCK_ALL });
    redis.defineCommand('synchubUnlockOwn', { lua: UNLOCK_OWN });
    redis.defineCommand('synchubKeepPulledPage', { numberOfKeys: 3, lua: KEEP_PULLED_PAGE });
    redis.defineCommand('synchubHandOnPulled', { numberOfKeys: 2, lua: HAND_ON_PULLED });
    redis.defineCommand('synchubSettleSources', { numberOfKeys: 2, lua: SETTLE_SOURCES });
    redis.defineCommand('synchubSettleSourcesOfPages', { lua: SETTLE_SOURCES_OF_PAGES });
    redis.defineCommand('synchubRpushExpire', { numberOfKeys: 1, lua: RPUSH_EXPIRE });
    redis.defineCommand('synchubCopyCoalesced', { numberOfKeys: 2, lua: COPY_COALESCED });
    redis.defineCommand('synchubHvalsAll', { lua: HVALS_ALL });
    redis.defineCommand('synchubHgetAll', { lua: HGET_ALL });
    redis.defineCommand('synchubXaddAll', { numberOfKeys: 1, lua: XADD_ALL });
    redis.defineCommand('synchubIndexPersons', { lua: INDEX_PERSONS });
    this.orders = new OrderStore(redis, (...parts) => this.k(...parts), layout);
    this.coalesce = new CoalesceStore(redis, (...parts) => this.k(...parts), SOURCE_TTL_SECONDS);
    this.webhookEvents = new WebhookEventMarks(redis, (...parts) => this.k(...parts));
    this.unique = new UniqueStore(redis, (...parts) => this.k(...parts));
    this.approvals = new ApprovalStore(redis, (...parts) => this.k(...parts));
    this.segments = new SegmentStore(redis, (...parts) => this.k(...parts));
    this.pushRecords = new PushRecordStore(redis, (...parts) => this.k(...parts), SOURCE_TTL_SECONDS, layout);
  }

  /** A push batch's sealed records beside its job (src/state/push-records.ts). */
  readonly pushRecords: PushRecordStore;

  /** Customer segments (src/state/segment-store.ts). */
  readonly segments: SegmentStore;

  /** Approvals of orders held by a pipeline's approval rule (src/state/approval-store.ts). */
  readonly approvals: ApprovalStore;

  /** Unique keys of uniqueness rules and their conflicts (src/state/unique-store.ts). */
  readonly unique: UniqueStore;

  /** Stored webhook events' dedupe marks and ingest claims (src/state/webhook-marks.ts). */
  readonly webhookEvents: WebhookEventMarks;
  /** Webhook records waiting to be pushed together (src/state/coalesce-store.ts). */
  readonly coalesce: CoalesceStore;

  /** Order lifecycle states, order snapshots and payment ledgers (src/state/orders.ts). */
  readonly orders: OrderStore;

  k(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /** Test code only: faults for the next sharded commits (src/state/sharded.ts). */
  testFaults?: ShardFaults;

  /** A commit over the state, one MULTI per group it writes (src/state/sharded.ts); `step` names it for the test fault only. */
  tx(step?: string): ShardedTx {
    return new ShardedTx(this.redis, this.layout, this.testFaults, step);
  }

  // ---- cursors and runs ----

  async getCursor(pipeline: string): Promise<unknown> {
    const v = await this.redis.get(this.k('cursor', pipeline));
    return v === null ? null : JSON.parse(v);
  }

  async setCursor(pipeline: string, cursor: unknown): Promise<void> {
    await this.redis.set(this.k('cursor', pipeline), JSON.stringify(cursor ?? null));
  }

  async resetCursor(pipeline: string): Promise<void> {
    await this.redis.del(this.k('cursor', pipeline));
  }

  /** Claims the pipeline for a new run; returns the run already in progress instead when there is one. */
  async beginRun(pipeline: string, full: boolean): Promise<{ runId: string; started: boolean }> {
    const runId = `${Date.now().toString(36)}${randomUUID().slice(0, 8)}`;
    const ok = await this.redis.set(this.k('running', pipeline), runId, 'EX', 24 * 3600, 'NX');
    if (!ok) return { runId: (await this.redis.get(this.k('running', pipeline)))!, started: false };
    await this.redis
      .multi()
      .hset(this.k('run', runId), { pipeline, full: full ? '1' : '0', startedAt: new Date().toISOString(), pullDone: '0', expected: '0', pages: '0', pushed: '0', skipped: '0', dead: '0' })
      .expire(this.k('run', runId), RUN_TTL_SECONDS)
      .hset(this.k('pipeline', pipeline), 'lastRunId', runId)
      .exec();
    return { runId, started: true };
  }

  /**
   * A page was handed on: its deliveries count towards the run once. `last`: this page is
   * the run's last (its cursor is the next run's start). The pull is done, and that cursor
   * committed, once every page of the run is recorded, whichever finishes last.
   */
  async recordPage(pipeline: string, runId: string, page: { seq: number; deliveries: number; records: number; checkpoint: unknown; last: boolean }): Promise<void> {
    const pipe = this.redis.multi();
    (pipe as any).synchubRecordPage(this.k('run', runId), this.k('run', runId, 'pages'), this.k('cursor', pipeline),
      String(page.seq), String(page.deliveries), String(page.records), JSON.stringify(page.checkpoint ?? null), page.last ? JSON.stringify(page.checkpoint ?? null) : '');
    pipe.expire(this.k('run', runId, 'pages'), RUN_TTL_SECONDS);
    this.settleSources(pipe, pulledPageId(runId, page.seq), [PULLED_FIELD, HANDED_FIELD]);
    await pipe.exec();
    await this.maybeCompleteRun(runId);
    // The page's bytes in its group go after the run has it recorded (and, when this page was
    // its last to settle, completed): stopped before, the job's retry finds the page recorded and
    // releases it then (pull.ts), or it expires; the run is not held up by it.
    await this.releaseSettledPages([pulledPageId(runId, page.seq)]);
  }

  /**
   * A pulled page, sealed, kept until it is recorded and every delivery handed on from it has
   * settled: the next page is queued as soon as this one is pulled, so a retry must ingest the
   * same records rather than pull again, and the page is where its records' sources wait
   * (see keepSources). False, and nothing kept, when the page is recorded already (its job
   * ran to the end meanwhile).
   */
  async keepPulledPage(runId: string, seq: number, sealed: Buffer): Promise<boolean> {
    const id = pulledPageId(runId, seq);
    const keep = (bytes: Buffer | '') => (this.redis as any).synchubKeepPulledPage(this.k('srcpage', id), this.pendingKey(id), this.k('run', runId, 'pages'),
      String(seq), PULLED_FIELD, bytes, String(SOURCE_TTL_SECONDS));
    if (!this.layout.spread) return (await keep(sealed)) === 1;
    // The pulled mark first (on the hub tag, beside the run's pages it is checked against), then
    // the bytes in the page's group. Stopped in between, the mark names a page with no bytes:
    // the job's retry finds none (pulledPage), pulls the same page again from its cursor and
    // keeps it here again; nothing was handed on from it. The other way round, a page recorded
    // meanwhile would have its bytes written again with nothing left to release them.
    if ((await keep('')) !== 1) return false;
    const bytes = this.tx('pulled page');
    bytes.forKey(id).set(this.sourcePageKey(id), sealed, 'EX', SOURCE_TTL_SECONDS);
    await bytes.exec();
    return true;
  }

  /** Whether the page is recorded (its job done): a page job taken up again after that has nothing left to do. */
  async pageRecorded(runId: string, seq: number): Promise<boolean> {
    return (await this.redis.hexists(this.k('run', runId, 'pages'), String(seq))) === 1;
  }

  async pulledPage(runId: string, seq: number): Promise<Buffer | null> {
    return this.sourcePage(pulledPageId(runId, seq));
  }

  async failRun(pipeline: string, runId: string, error: string): Promise<void> {
    await this.redis.multi().hset(this.k('run', runId), { error, finishedAt: new Date().toISOString() }).del(this.k('running', pipeline)).exec();
  }

  async getRun(runId: string): Promise<RunState | null> {
    const h = await this.redis.hgetall(this.k('run', runId));
    if (!h.pipeline) return null;
    return {
      id: runId, pipeline: h.pipeline, full: h.full === '1', startedAt: h.startedAt, finishedAt: h.finishedAt,
      pullDone: h.pullDone === '1', pages: Number(h.pages ?? 0), expected: Number(h.expected ?? 0),
      pushed: Number(h.pushed ?? 0), skipped: Number(h.skipped ?? 0), dead: Number(h.dead ?? 0), deleted: Number(h.deleted ?? 0), conflicts: Number(h.conflicts ?? 0), error: h.error,
      ...runNotices(h),
    };
  }

  /** Keeps what a page said the run could not see, once per text (field `notice:<hash>` of the run's hash). */
  async addRunNotices(runId: string, notices: string[]): Promise<void> {
    if (!notices.length) return;
    await this.redis.hset(this.k('run', runId), Object.fromEntries(notices.map((n) => [`${NOTICE_FIELD}${createHash('sha256').update(n).digest('hex').slice(0, 16)}`, n])));
  }

  /**
   * Deletions the source reported: a tombstone per record (its id and when), so admins
   * see them and nothing treats the record as missing by mistake. A retried page adds
   * no second count: only new tombstones count.
   */
  async recordDeletions(runId: string | undefined, connection: string, entity: string, deletions: { id: string; deletedAt?: string }[]): Promise<number> {
    if (!deletions.length) return 0;
    const key = this.k('deleted', connection, entity);
    const added = await this.redis.hset(key, Object.fromEntries(deletions.map((d) => [d.id, JSON.stringify({ deletedAt: d.deletedAt, runId })])));
    if (runId && added) await this.redis.hincrby(this.k('run', runId), 'deleted', added);
    return added;
  }

  async tombstones(connection: string, entity: string, limit = 100): Promise<Tombstone[]> {
    const [, pairs] = await this.redis.hscan(this.k('deleted', connection, entity), '0', 'COUNT', limit);
    const out: Tombstone[] = [];
    for (let i = 0; i < pairs.length; i += 2) out.push({ id: pairs[i], ...JSON.parse(pairs[i + 1]) });
    return out;
  }

  /**
   * Counts each delivery's outcome once; `runId` undefined for webhook-driven records.
   * `gone`: a webhook named a record its source no longer has (nothing to push).
   */
  async recordOutcomes(pipeline: string, runId: string | undefined, outcomes: [delivery: string, outcome: Outcome | 'gone'][], pipe?: ChainableCommander): Promise<void> {
    if (!outcomes.length) return;
    const target = pipe ?? this.redis.multi();
    const args = outcomes.flat();
    const doneKey = runId ? this.k('run', runId, 'done') : this.k('done', pipeline, new Date().toISOString().slice(0, 10));
    // Outside a run (webhook deliveries) the run key is the stats key itself, counted once: a
    // script's every key must be a key of the same slot on a Redis Cluster ('' hashes to slot 0).
    const statsKey = this.k('stats', pipeline);
    (target as any).synchubRecordOutcomes(runId ? this.k('run', runId) : statsKey, doneKey, statsKey, ...args);
    target.expire(doneKey, RUN_TTL_SECONDS);
    if (!pipe) await target.exec();
    if (runId) await this.maybeCompleteRun(runId);
  }

  async maybeCompleteRun(runId: string): Promise<boolean> {
    const run = await this.getRun(runId);
    if (!run || run.finishedAt || !run.pullDone) return false;
    if (run.pushed + run.skipped + run.dead < run.expected) return false;
    // One script: the run is finished and no longer the pipeline's running one in the same step,
    // so a sync started right after the end never follows the finished run.
    await this.redis.eval(COMPLETE_RUN, 3, this.k('run', runId), this.k('running', run.pipeline), this.k('pipeline', run.pipeline), runId, new Date().toISOString());
    return true;
  }

  async pipelineStats(pipeline: string): Promise<{ pushed: number; skipped: number; dead: number; gone: number; lastRunId?: string; running?: string }> {
    const [stats, meta, running] = await Promise.all([
      this.redis.hgetall(this.k('stats', pipeline)),
      this.redis.hgetall(this.k('pipeline', pipeline)),
      this.redis.get(this.k('running', pipeline)),
    ]);
    return { pushed: Number(stats.pushed ?? 0), skipped: Number(stats.skipped ?? 0), dead: Number(stats.dead ?? 0), gone: Number(stats.gone ?? 0), lastRunId: meta.lastRunId, running: running ?? undefined };
  }

  /** Paused by an admin: no new runs; webhook events for it wait. */
  async setPaused(pipeline: string, paused: boolean): Promise<void> {
    if (paused) await this.redis.hset(this.k('pipeline', pipeline), 'paused', new Date().toISOString());
    else await this.redis.hdel(this.k('pipeline', pipeline), 'paused');
  }

  /** When the pipeline was paused, or null. */
  async pausedSince(pipeline: string): Promise<string | null> {
    return this.redis.hget(this.k('pipeline', pipeline), 'paused');
  }

  // ---- sealed source records waiting for their push (dead letters copy them from here) ----

  /**
   * Source pages: the records of a page (or of one webhook event) in their API's shape,
   * sealed as one document (`{ records }`), kept apart from the push jobs until each delivery
   * handed on from them has settled; a push job names the page and each item its index, and
   * a dead letter copies its record's source from there. `sealed` undefined: the page is kept
   * already (a pulled page). A page left with deliveries that never settle expires after
   * SOURCE_TTL_SECONDS.
   */
  keepSources(commit: ShardedTx, id: string, sealed: Buffer | undefined, deliveries: string[]): void {
    if (!deliveries.length) return;
    // The bytes in the page's group, with the commit's first step; the pending deliveries on the
    // hub tag, in its transaction (see sourcePageKey): a pending hash always has its page.
    const bytes = commit.forKey(id);
    if (sealed !== undefined) bytes.set(this.sourcePageKey(id), sealed, 'EX', SOURCE_TTL_SECONDS);
    else bytes.expire(this.sourcePageKey(id), SOURCE_TTL_SECONDS);
    const tx = commit.afterwards().hub();
    tx.hset(this.pendingKey(id), ...hashFields(deliveries, (d) => d, () => '1'));
    tx.expire(this.pendingKey(id), SOURCE_TTL_SECONDS);
  }

  /** A pulled page's deliveries, made pending by its first hand-on only (see HAND_ON_PULLED). */
  keepPulledSources(commit: ShardedTx, id: string, deliveries: string[]): void {
    if (!deliveries.length) return;
    // The script's time to live reaches the bytes on one Redis (and a page kept on the hub tag by
    // an earlier version); in a group, the same EXPIRE with the commit's first step.
    if (this.layout.spread) commit.forKey(id).expire(this.sourcePageKey(id), SOURCE_TTL_SECONDS);
    (commit.afterwards().hub() as any).synchubHandOnPulled(this.k('srcpage', id), this.pendingKey(id), PULLED_FIELD, HANDED_FIELD, String(SOURCE_TTL_SECONDS), ...deliveries);
  }

  /**
   * Which of these deliveries were handed on already: their page still keeps their source
   * (not settled yet), or their outcome is recorded (today or yesterday, outside a run).
   */
  async handedOnAlready(pipeline: string, entries: { page: string; delivery: string }[]): Promise<boolean[]> {
    if (!entries.length) return [];
    const day = (ms: number) => this.k('done', pipeline, new Date(ms).toISOString().slice(0, 10));
    const done = [day(Date.now()), day(Date.now() - 86_400_000)];
    const pipe = this.redis.pipeline();
    for (const e of entries) {
      pipe.hexists(this.k('srcpage', e.page, 'pending'), e.delivery);
      for (const key of done) pipe.hexists(key, e.delivery);
    }
    const res = (await pipe.exec()) ?? [];
    const per = 1 + done.length;
    return entries.map((_, i) => res.slice(i * per, (i + 1) * per).some(([err, n]) => {
      if (err) throw err;
      return n === 1;
    }));
  }

  /**
   * A source page's sealed records: in the page's group, picked by its id (on one Redis and a
   * one-shard hub, `<prefix>:srcpage:<id>` as always). Only the bytes: the page's pending
   * deliveries (`srcpage:<id>:pending`, a few dozen bytes a delivery against the kilobyte or so
   * of a sealed record) stay on the hub tag, since what must happen once goes with them there:
   * a pulled page's hand-on (HAND_ON_PULLED) against its record in the run, and each delivery's
   * settling in the transaction that writes its dead letter and (webhooks) appends it to its
   * coalesce list, which a retried ingest reads back (handedOnAlready).
   */
  sourcePageKey(id: string): string {
    return `${this.layout.groupOf(id)}:srcpage:${id}`;
  }

  private pendingKey(id: string): string {
    return this.k('srcpage', id, 'pending');
  }

  /** A page's bytes: in its group, or (a cluster hub's page kept before pages were sharded) on the hub tag. */
  async sourcePage(id: string): Promise<Buffer | null> {
    return (await this.sourcePageAt(id))?.sealed ?? null;
  }

  /** As sourcePage, with the key it was found under (erasure rewrites it there). */
  async sourcePageAt(id: string): Promise<{ key: string; sealed: Buffer } | null> {
    const key = this.sourcePageKey(id);
    const sealed = await this.redis.getBuffer(key);
    if (sealed || !this.layout.spread) return sealed ? { key, sealed } : null;
    const legacy = this.k('srcpage', id);
    const old = await this.redis.getBuffer(legacy);
    return old ? { key: legacy, sealed: old } : null;
  }

  /**
   * These deliveries need their sources no more; the page goes once none does: in the same
   * script on one Redis (and a page kept on the hub tag before pages were sharded), else by
   * releaseSettledPages once this transaction is in.
   */
  settleSources(pipe: ChainableCommander, id: string, deliveries: string[]): void {
    (pipe as any).synchubSettleSources(this.k('srcpage', id), this.pendingKey(id), ...deliveries);
  }

  /** settleSources for each page's deliveries, in one script call (every key on the hub tag). */
  settleSourcesOfPages(pipe: ChainableCommander, byPage: ReadonlyMap<string, readonly string[]>): void {
    if (byPage.size === 1) {
      const [[id, deliveries]] = byPage;
      return this.settleSources(pipe, id, [...deliveries]);
    }
    const keys: string[] = [];
    const args: string[] = [];
    for (const [id, deliveries] of byPage) {
      keys.push(this.k('srcpage', id), this.pendingKey(id));
      args.push(String(deliveries.length), ...deliveries);
    }
    if (keys.length) (pipe as any).synchubSettleSourcesOfPages(keys.length, ...keys, ...args);
  }

  /**
   * On a cluster with shards: the bytes of those pages whose pending hash is gone (settled), a
   * step after the hub's transaction that settled them. Why the order is safe: the bytes are
   * read only while a delivery is pending (a dead letter copies its source before the
   * transaction that settles it); stopped before this step, the bytes stay until the retry of
   * the job that settled them releases them (push, coalesce flush and page jobs call this again
   * on their way through), or until their time to live. A page whose hash never comes back
   * after it is gone (a pulled page is never kept again once recorded, KEEP_PULLED_PAGE): the
   * only writer that could write it again is a webhook job ingesting an event anew, which writes
   * its bytes again before its pending deliveries.
   */
  async releaseSettledPages(ids: string[]): Promise<void> {
    if (!this.layout.spread || !ids.length) return;
    const unique = [...new Set(ids)];
    const pipe = this.redis.pipeline();
    for (const id of unique) pipe.exists(this.pendingKey(id));
    const res = (await pipe.exec()) ?? [];
    const settled = unique.filter((_, i) => {
      const [err, n] = res[i];
      if (err) throw err;
      return Number(n) === 0;
    });
    if (!settled.length) return;
    const release = this.tx('page release');
    for (const id of settled) release.forKey(id).del(this.sourcePageKey(id));
    await release.exec();
  }
}
