import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ShardLayout } from '../../src/state/key-layout.js';
import { ShardFaultError, ShardedTx, appliedGroups, perGroup } from '../../src/state/sharded.js';
import { testRedisUrl } from '../helpers/hub.js';

// On the suite's own redis-server (test/helpers/global-redis.ts): one server takes keys of any
// tag, so a spread layout's steps and markers are seen here as a cluster would run them.
describe('ShardedTx and perGroup', () => {
  let redis: Redis;
  beforeAll(() => { redis = new Redis(testRedisUrl()); });
  afterAll(() => redis.quit());
  const prefix = () => `t${randomUUID().slice(0, 8)}`;
  const keys = Array.from({ length: 40 }, (_, i) => `order:shop:${i}`);

  it('is one MULTI holding every write on a one-group layout, with no markers', async () => {
    for (const layout of [ShardLayout.oneRedis(prefix()), ShardLayout.cluster(prefix(), 1)]) {
      const multi = vi.spyOn(redis, 'multi');
      const tx = new ShardedTx(redis, layout);
      for (const key of keys) tx.forKey(key).set(`${layout.groupOf(key)}:link:${key}`, key);
      tx.hub().set(`${layout.hub}:run:r1`, 'x');
      tx.afterwards().hub().set(`${layout.hub}:after`, 'y');
      await tx.exec({ marker: 'm1' });
      expect(multi).toHaveBeenCalledTimes(1);
      multi.mockRestore();
      expect(tx.groupsWritten()).toEqual([layout.hub]);
      expect(await redis.exists(`${layout.hub}:applied:m1`)).toBe(0);
      expect(await redis.get(`${layout.hub}:link:order:shop:7`)).toBe('order:shop:7');
    }
  });

  it('commits each group with its marker, and the afterwards step only once every group is in', async () => {
    const layout = ShardLayout.cluster(prefix(), 4);
    const tx = new ShardedTx(redis, layout);
    for (const key of keys) tx.forKey(key).set(`${layout.groupOf(key)}:link:${key}`, key);
    tx.afterwards().hub().set(`${layout.hub}:after`, 'y');
    await tx.exec({ marker: 'm1' });
    expect(tx.groupsWritten().sort()).toEqual(layout.groups().sort());
    expect([...(await appliedGroups(redis, layout, layout.groups(), 'm1'))].sort()).toEqual(layout.groups().sort());
    expect(await redis.get(`${layout.hub}:after`)).toBe('y');
  });

  it('stops after one group under the test fault, and a retry that leaves out the applied groups writes the rest once', async () => {
    const layout = ShardLayout.cluster(prefix(), 4);
    const attempt = (faults?: { failAfterGroups: number; times: number }) => {
      const tx = new ShardedTx(redis, layout, faults);
      // RPUSH is not idempotent: only the marker keeps a retried group from adding twice.
      for (const key of keys) tx.forKey(key).rpush(`${layout.groupOf(key)}:steps`, key);
      tx.afterwards().hub().set(`${layout.hub}:after`, 'y');
      return tx;
    };
    const faults = { failAfterGroups: 1, times: 1 };
    await expect(attempt(faults).exec({ marker: 'm1' })).rejects.toBeInstanceOf(ShardFaultError);
    const applied = await appliedGroups(redis, layout, layout.groups(), 'm1');
    expect(applied.size).toBe(1);
    expect(await redis.exists(`${layout.hub}:after`)).toBe(0);
    const stepsNow = async () => (await Promise.all(layout.groups().map((g) => redis.lrange(`${g}:steps`, 0, -1)))).flat().sort();
    expect((await stepsNow()).length).toBeLessThan(keys.length);

    await attempt(faults).exec({ marker: 'm1', skip: applied });
    expect(await stepsNow()).toEqual([...keys].sort());
    expect(await redis.get(`${layout.hub}:after`)).toBe('y');
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
