import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { DEFAULT_SHARDS, checkLayout } from '../../src/state/layout-guard.js';
import { testRedisUrl } from '../helpers/hub.js';

// The suite's own redis-server (test/helpers/global-redis.ts); each case its own hub prefix.
describe('layout guard: a hub\'s shard count never changes under its state', () => {
  let redis: Redis;
  beforeAll(() => { redis = new Redis(testRedisUrl()); });
  afterAll(() => redis.quit());
  const hubTag = () => `{t${randomUUID().slice(0, 8)}}`;

  it('gives a new hub 16 shards, or the configured count, and keeps it in its marker', async () => {
    const a = hubTag();
    expect(await checkLayout(redis, a, undefined, ['orders'])).toEqual({ shards: DEFAULT_SHARDS, from: 'new', paidOrdersOnHubTag: false });
    expect(DEFAULT_SHARDS).toBe(16);
    // v 3: a hub new to this version, whose every sharded family was written in its group from the start.
    expect(JSON.parse((await redis.get(`${a}:layout`))!)).toEqual({ shards: 16, v: 3 });
    // Started again without redis.shards, or with the same: the marker's count.
    expect(await checkLayout(redis, a, undefined, ['orders'])).toEqual({ shards: 16, from: 'marker', paidOrdersOnHubTag: false });
    expect(await checkLayout(redis, a, 16, ['orders'])).toEqual({ shards: 16, from: 'marker', paidOrdersOnHubTag: false });

    const b = hubTag();
    expect((await checkLayout(redis, b, 4, ['orders'])).shards).toBe(4);
  });

  it('refuses to start when redis.shards differs from the marker, naming the setting', async () => {
    const a = hubTag();
    await checkLayout(redis, a, 16, ['orders']);
    const err = await checkLayout(redis, a, 8, ['orders']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]).toMatch(/^redis\.shards: 8 does not match .*16 shard\(s\).*not_supported/);
    // Nothing was rewritten: the state's count stands.
    expect(JSON.parse((await redis.get(`${a}:layout`))!).shards).toBe(16);
  });

  it('keeps a hub that has state from before shards on one shard, and refuses a larger count for it', async () => {
    const a = hubTag();
    await redis.hset(`${a}:pipeline:orders`, 'lastRunId', 'r1');
    expect(await checkLayout(redis, a, undefined, ['orders'])).toEqual({ shards: 1, from: 'existing', paidOrdersOnHubTag: true });
    expect(JSON.parse((await redis.get(`${a}:layout`))!)).toEqual({ shards: 1, v: 2 });

    const b = hubTag();
    await redis.set(`${b}:cursor:orders`, '"c1"');
    const err = await checkLayout(redis, b, 16, ['orders']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]).toMatch(/redis\.shards: 16 .*before shards/);
  });

  it('reads a marker an earlier version wrote (v 2) as a hub that may keep paid-order sets on its hub tag, and never rewrites it', async () => {
    const a = hubTag();
    await redis.set(`${a}:layout`, JSON.stringify({ shards: 16, v: 2 }));
    expect(await checkLayout(redis, a, undefined, ['orders'])).toEqual({ shards: 16, from: 'marker', paidOrdersOnHubTag: true });
    expect(JSON.parse((await redis.get(`${a}:layout`))!)).toEqual({ shards: 16, v: 2 });
  });
});
