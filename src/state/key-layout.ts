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
 * Scale-out therefore comes from the queues spreading, from several hubs (one prefix each, one
 * slot each) sharing a cluster, and from failover; not from one hub's state spreading.
 */
export function stateKeyPrefix(prefix: string, cluster: boolean): string {
  return cluster ? `{${prefix}}` : prefix;
}

/** The queue prefix (BullMQ's `prefix`): never hash-tagged itself, so each queue's name tags its keys. */
export const queueKeyPrefix = (prefix: string): string => `${prefix}:q`;
