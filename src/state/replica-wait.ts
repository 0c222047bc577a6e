import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '../core/errors.js';
import { keySlot } from './key-slot.js';
import { asCluster } from './redis-client.js';

/** `redis.waitReplicas` / `redis.waitTimeoutMs` of the config. */
export interface ReplicaAck {
  replicas: number;
  timeoutMs: number;
}

/**
 * Waits until `ack.replicas` replicas of the primary serving `key` hold every write this client
 * sent that primary (Redis WAIT), or throws StoreUnavailableError after `ack.timeoutMs`.
 *
 * WAIT counts the writes of the connection it is sent on, so on a Cluster it goes to the node
 * connection that carried the writes: the one serving `key`'s slot (a Cluster client would send
 * a keyless command to any node). The primary's replication stream is one ordered log, so the
 * acknowledgement covers every earlier write to that primary too, whoever sent it.
 * WAIT holds its connection until it answers: commands sent behind it on the same connection
 * wait as long (about one round trip to the replica while it is healthy; up to the timeout when
 * it is not).
 */
export async function waitForReplicas(redis: Redis, key: string, ack: ReplicaAck): Promise<void> {
  if (ack.replicas <= 0) return;
  const node = nodeServing(redis, key);
  const acknowledged = await node.wait(ack.replicas, ack.timeoutMs);
  if (acknowledged < ack.replicas) {
    throw new StoreUnavailableError(`the write was acknowledged by ${acknowledged} of the ${ack.replicas} replicas redis.waitReplicas asks for within ${ack.timeoutMs} ms`);
  }
}

function nodeServing(redis: Redis, key: string): Redis {
  const cluster = asCluster(redis);
  if (!cluster) return redis;
  const primary = cluster.slots[keySlot(key)]?.[0];
  const node = primary && cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === primary);
  if (!node) throw new StoreUnavailableError(`no primary of the cluster serves the slot of ${key} (the cluster is failing over)`);
  return node;
}

/**
 * WAIT on every primary connection of these clients at once: a job's commit barrier. Answers the
 * primaries (host:port) whose replicas fell short within the timeout; a primary that does not
 * answer at all rejects (its writes may be gone with it, so the job must not complete). A
 * connection that wrote nothing since its last WAIT answers at once.
 */
export async function waitOnEveryPrimary(clients: Redis[], ack: ReplicaAck): Promise<string[]> {
  const nodes = clients.flatMap((c) => asCluster(c)?.nodes('master') ?? [c]);
  const short = await Promise.all(nodes.map(async (n) => {
    const acknowledged = await n.wait(ack.replicas, ack.timeoutMs);
    return acknowledged < ack.replicas ? `${n.options.host}:${n.options.port}` : undefined;
  }));
  return short.filter((s): s is string => s !== undefined);
}
