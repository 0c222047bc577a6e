import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ShardLayout } from '../../src/state/key-layout.js';
import { ShardFaultError, ShardedTx, perGroup } from '../../src/state/sharded.js';
import { testRedisUrl } from '../helpers/hub.js';

// On the suite's own redis-server (test/helpers/global-redis.ts): one server takes keys of any
// tag, so a spread layout's steps are seen here as a cluster would run them.
describe('ShardedTx and perGroup', () => {
  let redis: Redis;
  beforeAll(() => { redis = new Redis(testRedisUrl()); });
  afterAll(() => redis.quit());
  const prefix = () => `t${randomUUID().slice(0, 8)}`;
  const keys = Array.from({ length: 40 }, (_, i) => `order:shop:${i}`);

  it('is one MULTI holding every write on a one-group layout', async () => {
    for (const layout of [ShardLayout.oneRedis(prefix()), ShardLayout.cluster(prefix(), 1)]) {
      const multi = vi.spyOn(redis, 'multi');
      const tx = new ShardedTx(redis, layout);
      for (const key of keys) tx.forKey(key).set(`${layout.groupOf(key)}:link:${key}`, key);
      tx.hub().set(`${layout.hub}:run:r1`, 'x');
      tx.afterwards().hub().set(`${layout.hub}:after`, 'y');
      await tx.exec();
      expect(multi).toHaveBeenCalledTimes(1);
      multi.mockRestore();
      expect(tx.groupsWritten()).toEqual([layout.hub]);
      expect(await redis.get(`${layout.hub}:after`)).toBe('y');
      expect(await redis.get(`${layout.hub}:link:order:shop:7`)).toBe('order:shop:7');
    }
  });

  it('commits each group, and the afterwards step only once every group is in', async () => {
    const layout = ShardLayout.cluster(prefix(), 4);
    const tx = new ShardedTx(redis, layout);
    for (const key of keys) tx.forKey(key).set(`${layout.groupOf(key)}:link:${key}`, key);
    tx.afterwards().hub().set(`${layout.hub}:after`, 'y');
    await tx.exec();
    expect(tx.groupsWritten().sort()).toEqual(layout.groups().sort());
    expect(await redis.get(`${layout.hub}:link:order:shop:7`)).toBeNull();
    expect(await redis.get(`${layout.groupOf('order:shop:7')}:link:order:shop:7`)).toBe('order:shop:7');
    expect(await redis.get(`${layout.hub}:after`)).toBe('y');
  });

  it('stops after one group under the test fault without the afterwards step, and a retry writes every group and then it', async () => {
    const layout = ShardLayout.cluster(prefix(), 4);
    const attempt = (faults?: { failAfterGroups: number; times: number }) => {
      const tx = new ShardedTx(redis, layout, faults);
      // Record groups hold overwrites only: a retry writes the same values again.
      for (const key of keys) tx.forKey(key).set(`${layout.groupOf(key)}:link:${key}`, key);
      tx.afterwards().hub().set(`${layout.hub}:after`, 'y');
      return tx;
    };
    const linksNow = async () => (await Promise.all(keys.map((k) => redis.get(`${layout.groupOf(k)}:link:${k}`)))).filter(Boolean);
    await expect(attempt({ failAfterGroups: 1, times: 1 }).exec()).rejects.toBeInstanceOf(ShardFaultError);
    expect(await redis.exists(`${layout.hub}:after`)).toBe(0);
    const partial = (await linksNow()).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(keys.length);

    await attempt().exec();
    expect((await linksNow()).sort()).toEqual([...keys].sort());
    expect(await redis.get(`${layout.hub}:after`)).toBe('y');
  });

  it('under a fault on named steps, stops only those: a one-group step once its group is in, before the step after it', async () => {
    const layout = ShardLayout.cluster(prefix(), 4);
    const faults = { failAfterGroups: 1, times: 1, steps: ['batches'] };
    const tx = new ShardedTx(redis, layout, faults, 'records');
    for (const key of keys) tx.forKey(key).set(`${layout.groupOf(key)}:link:${key}`, key);
    const batches = tx.afterwards('batches');
    batches.group(layout.groupOf('b1')).set(`${layout.groupOf('b1')}:pushrec:b1`, 'r');
    batches.afterwards().hub().set(`${layout.hub}:after`, 'y');
    await expect(tx.exec()).rejects.toBeInstanceOf(ShardFaultError);
    expect(faults.times).toBe(0);
    // The records' step (not named) went through whole, the named one-group step is in, the next one is not.
    expect(await redis.get(`${layout.groupOf('order:shop:39')}:link:order:shop:39`)).toBe('order:shop:39');
    expect(await redis.get(`${layout.groupOf('b1')}:pushrec:b1`)).toBe('r');
    expect(await redis.exists(`${layout.hub}:after`)).toBe(0);
  });

  it('perGroup splits a batched read by group and answers in the input order', async () => {
    const layout = ShardLayout.cluster(prefix(), 4);
    await new ShardedTx(redis, layout).exec();
    const tx = new ShardedTx(redis, layout);
    for (const key of keys.slice(0, 30)) tx.forKey(key).set(`${layout.groupOf(key)}:link:${key}`, `v:${key}`);
    await tx.exec();
    const calls: string[] = [];
    const values = await perGroup(layout, keys, (g, indexes) => {
      calls.push(g);
      return redis.mget(indexes.map((i) => `${g}:link:${keys[i]}`));
    });
    expect(values).toEqual(keys.map((k, i) => (i < 30 ? `v:${k}` : null)));
    expect(new Set(calls).size).toBe(calls.length);
    expect(calls.length).toBeGreaterThan(1);

    const one = ShardLayout.oneRedis(prefix());
    let oneCalls = 0;
    await perGroup(one, keys, async (g, indexes) => { oneCalls++; expect(g).toBe(one.hub); return indexes; });
    expect(oneCalls).toBe(1);
  });
});
