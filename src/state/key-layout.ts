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
 * - State (this folder, src/timeline/, src/jobs/breaker.ts, call-window.ts, the token store, the
 *   connection notices, the metrics): `{<prefix>}:…`, one hash tag for one hub. The data path's
 *   transactions commit a whole batch at once: ingest writes every record's source page entry,
 *   lifecycle compare-and-set, timeline steps, person index entries and dead letters in one
 *   MULTI, and push writes the batch's links, fingerprints, outcomes, dead letters and the
 *   release of its sources in one. That atomicity is what keeps "every record ends pushed,
 *   skipped or dead-lettered, nothing lost or doubled" without a recovery log; splitting it per
 *   record would need one. So a hub's state is on one slot (one primary and its replica), and
 *   its queues on others.
 * - On a single Redis the state keeps its plain `<prefix>:…` names: an existing hub's links,
 *   fingerprints and cursors stay where they are.
 *
 * Steps that span slots are exactly those that were already separate round trips on one Redis:
 * BullMQ's writes (its own scripts, through the queue's connection) never join a state transaction
 * or script, so the cluster adds no new non-atomic step, and the orders that were safe stay safe:
 * - the webhook route adds the ingest job (slot `{ingest}`) before it marks the event seen (state):
 *   a failure in between leaves a job without a mark, the sender retries, and the event's claim
 *   (state, WebhookEventMarks) lets one of the two jobs ingest it; never a mark without a job.
 * - ingest commits its transaction (source page, the batch's records beside the push job, dead
 *   letters, timeline steps) before it adds the push jobs (slot `{push-<target>}`): a push job
 *   never names a batch that is not written yet. A run page's push jobs have deterministic ids, so
 *   a retried page queues the same jobs again and BullMQ takes them once; a webhook's records go
 *   to the coalesce list inside the transaction itself, and an event taken up again whose records
 *   were handed on is not handed on twice (docs/reliability.md).
 * - push commits links, fingerprints, outcomes and the release of its sources in one transaction
 *   before BullMQ completes the job: a completion lost with a failing primary runs the job again,
 *   and the fingerprints make it push nothing twice.
 * With `redis.waitReplicas` every job ends with a WAIT on the primaries it wrote
 * (Hub.replicaBarrier), so a failover does not drop a step the next one relies on.
 *
 * Scale-out therefore comes from the queues spreading, from several hubs (one prefix each, one
 * slot each) sharing a cluster, and from failover; not from one hub's state spreading.
 */
export function stateKeyPrefix(prefix: string, cluster: boolean): string {
  return cluster ? `{${prefix}}` : prefix;
}

/** The queue prefix (BullMQ's `prefix`): never hash-tagged itself, so each queue's name tags its keys. */
export const queueKeyPrefix = (prefix: string): string => `${prefix}:q`;
