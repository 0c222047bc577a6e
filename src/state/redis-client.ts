import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { coalesceWrites } from './redis-writes.js';

/** Where the hub's Redis is: one server's `redis://` URL, or the seed nodes of a Redis Cluster. */
export type RedisAddress = string | { cluster: string[] };

/**
 * The address a config names: `redis.cluster` (seed nodes) when set, else `redis.url`.
 * Undefined when neither is set (`synchub start` then looks on 127.0.0.1:6379).
 */
export function configuredAddress(redis: { url?: string; cluster?: string[] }): RedisAddress | undefined {
  if (redis.cluster?.length) return { cluster: redis.cluster };
  return redis.url;
}

export const isClusterAddress = (address: RedisAddress): address is { cluster: string[] } => typeof address !== 'string';

/** For messages: the address without credentials. */
export function describeAddress(address: RedisAddress): string {
  const hide = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');
  return isClusterAddress(address) ? `the Redis Cluster at ${address.cluster.map(hide).join(', ')}` : `Redis at ${hide(address)}`;
}

/**
 * One client for either kind of address. A Cluster is returned behind the `Redis` type: every
 * command the hub sends exists on both with the same arguments and replies, and ioredis routes a
 * Cluster's commands, transactions and scripts to the node serving their keys' slot (a
 * transaction or script whose keys span slots fails with CROSSSLOT, which is why the key layout
 * in src/state/key-layout.ts keeps each one on one slot). `isClusterClient` tells them apart.
 *
 * Every read goes to the primary (`scaleReads: 'master'`): replicas are written asynchronously, and
 * no read of the hub is harmless when stale: the admin listings are followed by actions on what
 * they list (replay, discard, approve), and the data path reads what it is about to write.
 */
export function connectRedis(address: RedisAddress, options: RedisOptions): Redis {
  const client = connectClient(address, options);
  coalesceWrites(client);
  return client;
}

function connectClient(address: RedisAddress, options: RedisOptions): Redis {
  if (!isClusterAddress(address)) return new Redis(address, options);
  const seeds = address.cluster.map((url) => {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || 6379) };
  });
  const first = new URL(address.cluster[0]);
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...nodeOptions } = options;
  const cluster = new Cluster(seeds, {
    scaleReads: 'master',
    enableOfflineQueue: enableOfflineQueue ?? true,
    lazyConnect: lazyConnect ?? false,
    clusterRetryStrategy: retryStrategy ? (n) => retryStrategy(n) ?? null : undefined,
    // While a primary fails over its slots answer CLUSTERDOWN or MOVED; wait and follow rather than fail the command.
    retryDelayOnClusterDown: 300,
    retryDelayOnFailover: 200,
    retryDelayOnMoved: 50,
    maxRedirections: 32,
    redisOptions: {
      ...nodeOptions,
      username: first.username ? decodeURIComponent(first.username) : undefined,
      password: first.password ? decodeURIComponent(first.password) : undefined,
      ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  });
  return cluster as unknown as Redis;
}

export const isClusterClient = (redis: Redis | Cluster): boolean => (redis as { isCluster?: boolean }).isCluster === true;

/** The Cluster behind a client connectRedis returned, or undefined for one Redis. */
export const asCluster = (redis: Redis): Cluster | undefined => (isClusterClient(redis) ? (redis as unknown as Cluster) : undefined);

/**
 * Keys matching a SCAN pattern, a batch at a time: on a Cluster every primary is scanned (SCAN
 * only sees the keys of the node it is sent to), on one Redis that Redis.
 */
export async function* scanKeys(redis: Redis, match: string, count = 1000): AsyncGenerator<string[]> {
  const nodes: Redis[] = asCluster(redis)?.nodes('master') ?? [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== '0');
  }
}

/** A second connection like `redis` (a Cluster's `duplicate` takes its options second), with these options on its nodes. */
export function duplicateClient(redis: Redis, options: RedisOptions): Redis {
  const cluster = asCluster(redis);
  const { enableOfflineQueue, ...nodeOptions } = options;
  const copy = !cluster ? redis.duplicate(options) : cluster.duplicate([], {
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    redisOptions: { ...cluster.options.redisOptions, ...nodeOptions },
  }) as unknown as Redis;
  coalesceWrites(copy);
  return copy;
}
