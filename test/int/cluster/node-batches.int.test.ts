/**
 * A commit over every shard group on a Redis Cluster (src/state/node-batches.ts): the groups one
 * primary serves leave in one pipeline to it, a MULTI…EXEC block per group, and each group is
 * still committed once and answered on its own; a block a primary redirects (its slot map in the
 * client is stale) is committed once through the Cluster's own MULTI, which follows the MOVED.
 * The record groups' writes here are INCRs, not the data path's overwrites, so a block applied
 * twice would show.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ShardLayout } from '../../../src/state/key-layout.js';
import { keySlot } from '../../../src/state/key-slot.js';
import { connectRedis } from '../../../src/state/redis-client.js';
import { ShardedTx } from '../../../src/state/sharded.js';
import { useRedisCluster } from '../../helpers/redis-cluster.js';

const cluster = useRedisCluster();

describe('a commit over shard groups, per primary', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = connectRedis({ cluster: cluster().urls }, { maxRetriesPerRequest: null });
    await redis.ping();
  });
  afterAll(() => redis.quit());
  const asCluster = () => redis as unknown as Cluster;

  /** A commit that increments a counter in each of the layout's groups (twice, to see the replies in order) and sets one on the hub tag afterwards. */
  function countingCommit(layout: ShardLayout) {
    const tx = new ShardedTx(redis, layout);
    const multis = layout.groups().map((g) => {
      const multi = tx.group(g);
      multi.incr(`${g}:n`).incrby(`${g}:n`, 10).hset(`${g}:h`, 'f', g);
      return [g, multi] as const;
    });
    tx.afterwards().hub().set(`${layout.hub}:after`, 'y');
    return { tx, multis };
  }

  async function counters(layout: ShardLayout) {
    return Promise.all(layout.groups().map(async (g) => [await redis.get(`${g}:n`), await redis.hget(`${g}:h`, 'f')]));
  }

  it('sends one pipeline per primary, commits each group once and answers each group its own replies', async () => {
    const layout = ShardLayout.cluster(`t${randomUUID().slice(0, 8)}`, 16);
    const primaries = asCluster().nodes('master');
    expect(primaries).toHaveLength(3);
    const perNode = primaries.map((node) => vi.spyOn(node, 'pipeline'));
    const viaCluster = vi.spyOn(redis, 'multi');
    const { tx, multis } = countingCommit(layout);
    const answers = await tx.execGroups();
    // 16 groups and the hub tag over 3 primaries: one pipeline each, no group alone.
    expect(perNode.map((s) => s.mock.calls.length)).toEqual([1, 1, 1]);
    expect(viaCluster).not.toHaveBeenCalled();
    for (const [g, multi] of multis) {
      expect(answers.get(g)).toEqual([[null, 1], [null, 11], [null, 1]]);
      expect(tx.repliesOf(multi)).toBe(answers.get(g));
    }
    await tx.afterwards().exec();
    expect(await redis.get(`${layout.hub}:after`)).toBe('y');
    expect(await counters(layout)).toEqual(layout.groups().map((g) => ['11', g]));
    vi.restoreAllMocks();
  });

  it('answers a command\'s own error inside its group, as one MULTI does, and commits the other groups', async () => {
    const layout = ShardLayout.cluster(`t${randomUUID().slice(0, 8)}`, 16);
    const [first, ...rest] = layout.groups();
    await redis.set(`${first}:s`, 'text');
    const tx = new ShardedTx(redis, layout);
    tx.group(first).incr(`${first}:s`).set(`${first}:t`, 'v');
    for (const g of rest) tx.group(g).set(`${g}:t`, 'v');
    const answers = await tx.execGroups();
    const [[err], second] = answers.get(first)!;
    expect(String(err)).toMatch(/not an integer/);
    expect(second).toEqual([null, 'OK']);
    for (const g of layout.groups()) expect(await redis.get(`${g}:t`)).toBe('v');
  });

  it('commits a group its primary redirects (MOVED) once, through the Cluster, beside the groups that went through', async () => {
    const layout = ShardLayout.cluster(`t${randomUUID().slice(0, 8)}`, 16);
    const groups = layout.groups();
    const slotMap = (asCluster() as unknown as { slots: string[][] }).slots;
    const moved = groups[0];
    const real = slotMap[keySlot(moved)];
    // The client believes another primary serves `moved`'s slot: its block goes there and is refused.
    const other = slotMap.find((s) => s && s[0] !== real[0])!;
    slotMap[keySlot(moved)] = other;
    const viaCluster = vi.spyOn(redis, 'multi');
    const { tx, multis } = countingCommit(layout);
    await tx.execGroups();
    // Only the refused group went through the Cluster's MULTI, which followed the MOVED.
    expect(viaCluster).toHaveBeenCalledTimes(1);
    await tx.afterwards().exec();
    expect(await redis.get(`${layout.hub}:after`)).toBe('y');
    for (const [g, multi] of multis) expect(tx.repliesOf(multi)).toEqual([[null, 1], [null, 11], [null, 1]]);
    expect(await counters(layout)).toEqual(groups.map((g) => ['11', g]));
    expect(slotMap[keySlot(moved)][0]).toBe(real[0]);
    vi.restoreAllMocks();
  });
});
