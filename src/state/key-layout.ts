import { SLOTS, keySlot } from './key-slot.js';

/**
 * Where the hub's keys sit on a Redis Cluster. A cluster hashes each key to one of 16,384 slots by
 * the text between its first `{` and `}` (the hash tag) when it has one, else by the whole key; a
 * transaction (MULTI) or a Lua script must keep every key it names on one slot, or the cluster
 * refuses it (CROSSSLOT).
 *
 * - Queues: `<prefix>:q:{<queue>}:…`, the hash tag is the queue's name (src/jobs/queues.ts:
 *   `{pull}`, `{ingest}`, `{push-flush}`, `{notify}`, one `{push-<connection>}` per target), as
 *   BullMQ requires ("Redis Cluster" in BullMQ's docs: its scripts touch many keys of one queue).
 *   Each queue is on a slot of its own, so the queues, and the jobs they hold, spread over the
 *   primaries. The prefix itself has no braces (the config schema forbids them), so the queue's
 *   name is the first hash tag.
 * - State, control part (cursors, runs and their counters, pipelines, metrics, breakers, rate
 *   windows, the token store, notices, uniqueness claims, webhook marks and claims, timelines,
 *   the stored webhook events' entries of the person index, coalesce lists and the batches copied
 *   from them, the dead letters' indexes (`dlq:all`, `dlq:p:`, `dlq-key:`), source pages' pending
 *   deliveries (`srcpage:<id>:pending`), orders awaiting payment, the order statuses announced,
 *   payment facts, segments, erasures): `{<prefix>}:…`, one hash tag for one hub (`ShardLayout.hub`).
 * - State, record part (`redis.shards` > 1 on a cluster; 16 for a hub new to the cluster): under
 *   one of N shard tags `{<prefix>~<s>.<j>}` (`shardTag`), s = `shardOf(<the text it is about>)`:
 *   - by record key: `link:`, `plock:<conn>:<key>`, the fields of `fp:<conn>:<entity>` (one such
 *     hash per group), and of an order `life:`, `order:` (snapshot), `ledger:`, and its fact for
 *     the reports with its home (fields of `facts:order:<pipeline>:<day>` and `facts:home`, one
 *     such hash per group: src/jobs/order-events.ts);
 *   - by person (`customer:<blind index>`): the person index, `person:<person>:keys` and `:refs`
 *     (src/operations/erasure-index.ts);
 *   - by `<entity>:<connection>:<externalId>`: `xref:`;
 *   - by order number: `ordernum:`, `parked:` and `parked-index` (one per group);
 *   - by batch id: `pushrec:<id>`, a push batch's records beside its job (not a coalesced
 *     batch's, copied from its coalesce list in one script: src/state/push-records.ts);
 *   - by page id: `srcpage:<id>`, a source page's sealed records (its pending deliveries stay on
 *     the hub tag: StateStore.sourcePageKey);
 *   - by dead-letter id: `dlq:<id>`, a dead letter's body (StateStore.deadLetterKey);
 *   - by customer index: `custorders:<index>`, the customer's paid orders for order types
 *     (src/operations/order-types.ts: paidOrdersKey, one script per group).
 *   Each shard tag is picked inside its own 1/N of the slot range, so the balanced contiguous
 *   ranges `redis-cli --cluster create` and managed offerings give each primary hold N/P ± 1
 *   shards. The design (issue 21) also shards outcomes and timelines; they are not sharded yet
 *   and stay on the hub tag, where they are correct, only not spread (docs/production.md,
 *   "Running on Redis Cluster"). A cluster hub whose person index, order facts, source pages,
 *   dead letters or paid-order sets were written on the hub tag before they were sharded keeps
 *   them there: erasure, the data report and the order report read both places, a page or dead
 *   letter is read (and erased, settled, removed) where it is found, a paid-order set read
 *   beside the group's (order-types.ts).
 *
 *   Every sharded write is an overwrite with the same value when done again (HSET of a field,
 *   SET, MSET, DEL), or a lock. So a commit is one MULTI per group it touches (src/state/sharded.ts:
 *   ShardedTx; perGroup for reads and scripts over record keys) in two steps: the record groups
 *   first, in parallel, then the hub's MULTI, which holds everything else (and every write that
 *   is not idempotent: timeline steps, events, counters, appends to coalesce lists) as one
 *   transaction, as before; then the push batches' records (ingest: written, before their jobs
 *   are added; push: released), and the bytes of source pages left with nothing pending
 *   (released: StateStore.releaseSettledPages). A source page's bytes and a dead letter's body
 *   go with the first step, before the hub's part names them (pending deliveries, the dead
 *   letters' indexes). A commit stopped in the first step is completed by its retry;
 *   nothing is handed on, counted or released before the hub's part is in. Where each order is argued:
 *   push.ts (pushLocked), ingest.ts (ingestRecords), operations/erasure.ts, StateStore
 *   (keepPulledPage, releaseSettledPages, addDeadLetter, removeDeadLetter).
 *   `redis.shards: 1` (every cluster hub from before shards, see layout-guard.ts) keeps the whole
 *   state on `{<prefix>}`, one MULTI per commit as before.
 * - On a single Redis the state keeps its plain `<prefix>:…` names: an existing hub's links,
 *   fingerprints and cursors stay where they are.
 *
 * Besides a commit's two steps above, the steps that span slots are those that were already
 * separate round trips on one Redis: BullMQ's writes (its own scripts, through the queue's connection) never join a state transaction
 * or script, so the cluster adds no new non-atomic step, and the orders that were safe stay safe:
 * - the webhook route adds the ingest job (slot `{ingest}`) before it marks the event seen (state):
 *   a failure in between leaves a job without a mark, the sender retries, and the event's claim
 *   (state, WebhookEventMarks) lets one of the two jobs ingest it; never a mark without a job.
 * - ingest commits its transaction (source page, dead letters, timeline steps) and the batches'
 *   records beside the push jobs before it adds the push jobs (slot `{push-<target>}`): a push job
 *   never names a batch that is not written yet. A run page's push jobs have deterministic ids, so
 *   a retried page queues the same jobs again and BullMQ takes them once; a webhook's records go
 *   to the coalesce list inside the transaction itself, and an event taken up again whose records
 *   were handed on is not handed on twice (docs/reliability.md).
 * - push commits links and fingerprints (their groups), then dead letters, timeline steps and the
 *   release of its sources (the hub), then outcomes, before BullMQ completes the job: a completion
 *   lost with a failing primary runs the job again, and the fingerprints make it push nothing twice.
 * With `redis.waitReplicas` every job ends with a WAIT on the primaries it wrote
 * (Hub.replicaBarrier), so a failover does not drop a step the next one relies on.
 *
 * Scale-out comes from the queues spreading, from the record state spreading over the shard
 * groups, from several hubs sharing a cluster, and from failover.
 */
export function stateKeyPrefix(prefix: string, cluster: boolean): string {
  return cluster ? `{${prefix}}` : prefix;
}

/**
 * The shard (0..n-1) of the text a piece of state is about: FNV-1a (32 bits) of its UTF-8 bytes,
 * mixed by MurmurHash3's finaliser, modulo n; of the whole text, not of its hash tag (an external
 * id may hold a brace). A function of the text and n only, so every process of a hub agrees
 * without asking Redis; fixed once a hub has state (layout-guard.ts), so never change it.
 * Not the cluster's CRC16 modulo n: CRC is linear, and its low bits over keys that differ only in
 * their last digits (`order:shop:5000000` … `order:shop:5000999`) fill 16 shards unevenly (about
 * 2:1 between the fullest and the emptiest).
 */
export function shardOf(text: string, n: number): number {
  if (n <= 1) return 0;
  let h = 0x811c9dc5;
  // FNV-1a over the text's UTF-8 bytes. Keys are ASCII as a rule (ids, blind indexes): their
  // bytes are their char codes, read in place (no Buffer per call: the worker calls this for
  // every key of every record on a cluster). Any other text goes through its UTF-8 bytes. Both
  // give the same shard, which must never change for a stored key.
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) { ascii = false; break; }
    h = Math.imul(h ^ c, 0x01000193);
  }
  if (!ascii) {
    h = 0x811c9dc5;
    const bytes = Buffer.from(text, 'utf8');
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % n;
}

/**
 * The hash tag of shard s of n: `<prefix>~<s>.<j>` with j the smallest integer ≥ 0 that puts the
 * tag's slot in [s·16384/n, (s+1)·16384/n). Plain `{prefix:s}` tags land at random (16 of them on
 * 3 primaries often give one primary 8-9); range-aligned tags follow the balanced contiguous slot
 * ranges clusters are created with. About n CRCs per shard, once at start.
 */
export function shardTag(prefix: string, s: number, n: number): string {
  const low = Math.floor((s * SLOTS) / n);
  const high = Math.floor(((s + 1) * SLOTS) / n);
  for (let j = 0; ; j++) {
    const tag = `${prefix}~${s}.${j}`;
    const slot = keySlot(`{${tag}}`);
    if (slot >= low && slot < high) return tag;
  }
}

/**
 * Where the state of one hub goes: `hub`, the key prefix of its control state, and the group (a
 * key prefix, put in front of `:<role>:…` like StateStore.k) of each record's state. On one Redis,
 * and on a cluster hub with one shard, every group is the hub's own prefix: key names are as they
 * always were and there is one group. Callers go over `groups()` (distinct groups), never over
 * shard numbers: on one Redis a sum over N shards would count the same key N times.
 */
export class ShardLayout {
  private readonly tags: string[];

  /**
   * Whether customers' paid-order sets may also be on the hub tag (a cluster hub whose layout
   * marker predates their sharding: layout-guard.ts), so order types read them there too.
   */
  readonly paidOrdersOnHubTag: boolean;

  private constructor(readonly hub: string, private readonly shards: number, tags: string[], paidOrdersOnHubTag = true) {
    this.tags = tags;
    this.paidOrdersOnHubTag = paidOrdersOnHubTag;
  }

  /** One Redis: plain names, one group (`redis.shards` has no effect there). */
  static oneRedis(prefix: string): ShardLayout {
    return new ShardLayout(prefix, 1, [prefix]);
  }

  /** A Redis Cluster hub whose state was written with `shards` shards (layout-guard.ts decides it). */
  static cluster(prefix: string, shards: number, paidOrdersOnHubTag = true): ShardLayout {
    const hub = `{${prefix}}`;
    if (shards <= 1) return new ShardLayout(hub, 1, [hub], paidOrdersOnHubTag);
    return new ShardLayout(hub, shards, Array.from({ length: shards }, (_, s) => `{${shardTag(prefix, s, shards)}}`), paidOrdersOnHubTag);
  }

  /** More than one group: a commit spans slots and runs in per-group steps. */
  get spread(): boolean {
    return this.shards > 1;
  }

  /** The group of the state about a record (its canonical key), or about any other deciding text. */
  groupOf(text: string): string {
    return this.tags[shardOf(text, this.shards)];
  }

  /** SCAN patterns that cover every state key of the hub: its hub tag's and each group's. */
  scanPatterns(): string[] {
    return [...new Set([this.hub, ...this.tags])].map((g) => `${g}:*`);
  }

  /** Distinct groups, each once. */
  groups(): string[] {
    return [...this.tags];
  }
}

/** The queue prefix (BullMQ's `prefix`): never hash-tagged itself, so each queue's name tags its keys. */
export const queueKeyPrefix = (prefix: string): string => `${prefix}:q`;
