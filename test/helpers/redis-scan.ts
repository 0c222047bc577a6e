import type { Redis } from 'ioredis';
import { scanKeys } from '../../src/state/redis-client.js';

/** The keys matching a pattern, on every primary of a cluster (KEYS asks one node). */
export async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  for await (const keys of scanKeys(redis, pattern)) out.push(...keys);
  return out;
}

/** Every value stored under a prefix, as text, whatever the key type (on every primary of a cluster). */
export async function dumpPrefix(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await keysMatching(redis, `${prefix}*`)) {
    const type = await redis.type(key);
    let value: unknown;
    if (type === 'string') value = await redis.get(key);
    else if (type === 'hash') value = await redis.hgetall(key);
    else if (type === 'list') value = await redis.lrange(key, 0, -1);
    else if (type === 'set') value = await redis.smembers(key);
    else if (type === 'zset') value = await redis.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'stream') value = await redis.xrange(key, '-', '+');
    else value = `<${type}>`;
    out.set(key, `${key} ${JSON.stringify(value)}`);
  }
  return out;
}
