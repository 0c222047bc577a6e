import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashTagOf, keySlot } from '../../src/state/key-slot.js';
import { ShardLayout, queueKeyPrefix, shardOf, shardTag, stateKeyPrefix } from '../../src/state/key-layout.js';
import { FLUSH_QUEUE, INGEST_QUEUE, PULL_QUEUE, pushQueueName } from '../../src/jobs/queues.js';
import { NOTIFY_QUEUE } from '../../src/notify/types.js';
import { hubConfigSchema } from '../../src/config/schema.js';
import { personIndexKeys, personKeysKey, personRefsKey } from '../../src/operations/erasure-index.js';
import { factHomeKey, orderFactKey, orderFactKeys } from '../../src/jobs/order-events.js';
import type { StateStore } from '../../src/state/store.js';
import type { Hub } from '../../src/jobs/hub.js';

describe('Redis Cluster key layout', () => {
  it('computes slots as the cluster does (CRC16/XMODEM of the hash tag, mod 16384)', () => {
    // Values CLUSTER KEYSLOT answers (Redis 7.0).
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('123456789')).toBe(12739);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(hashTagOf('foo{}{bar}')).toBe('foo{}{bar}'); // an empty first tag: the whole key
    expect(hashTagOf('foo{{bar}}zap')).toBe('{bar');
  });

  it('keeps one hub\'s state on one slot, its queues each on their own, and the plain names on one Redis', () => {
    const prefix = 'synchub';
    const state = stateKeyPrefix(prefix, true);
    const families = ['run:r1', 'run:r1:done', 'stats:orders', 'link:crm:order:k1', 'fp:crm:order:k9', 'life:order:k1', 'tl:order:k1', 'srcpage:p1', 'pushrec:b1', 'dlq:all', 'dlq:p:orders', 'wh:shop:e1', 'whc:e1', 'm:push:crm', 'breaker:crm', 'calls:crm', 'oauth:crm', 'notices:crm'];
    const slots = new Set(families.map((f) => keySlot(`${state}:${f}`)));
    expect(slots.size).toBe(1);

    const queues = [PULL_QUEUE, INGEST_QUEUE, FLUSH_QUEUE, NOTIFY_QUEUE, pushQueueName('crm'), pushQueueName('shop')];
    const queueSlot = (q: string, suffix: string) => keySlot(`${queueKeyPrefix(prefix)}:${q}:${suffix}`);
    for (const q of queues) {
      // BullMQ's scripts touch a queue's wait, active, meta, events and job keys together.
      expect(new Set(['wait', 'active', 'meta', 'events', '42', 'id'].map((s) => queueSlot(q, s))).size).toBe(1);
    }
    expect(new Set(queues.map((q) => queueSlot(q, 'wait'))).size).toBe(queues.length);
    expect(new Set(queues.map((q) => queueSlot(q, 'wait'))).has([...slots][0])).toBe(false);

    expect(stateKeyPrefix(prefix, false)).toBe('synchub');
  });

  it('forbids braces in the configured prefix (they would make the prefix every queue\'s hash tag)', () => {
    const pattern = new RegExp(hubConfigSchema.properties.redis.properties.prefix.pattern);
    expect(pattern.test('synchub')).toBe(true);
    expect(pattern.test('{synchub}')).toBe(false);
  });

  it('maps a text to its shard by CRC16 of the whole text, and picks one shard tag per slot range (fixed vectors: a change of the mapping re-keys every cluster hub)', () => {
    expect(shardOf('order:shop:1', 16)).toBe(8);
    expect(shardOf('customer:abc', 16)).toBe(2);
    expect(shardOf('order:shop:1', 1)).toBe(0);
    // Keys that differ only in their last digits fill the shards evenly (62.5 each expected; the
    // cluster's CRC16 modulo 16 gave 40 to 100 here).
    const perShard = new Array(16).fill(0);
    for (let i = 0; i < 1000; i++) perShard[shardOf(`order:shop:${5_000_000 + i}`, 16)]++;
    expect(Math.min(...perShard)).toBeGreaterThanOrEqual(45);
    expect(Math.max(...perShard)).toBeLessThanOrEqual(80);
    // Non-ASCII text hashes its UTF-8 bytes (the same shards as before the ASCII fast path).
    const reference = (text: string, n: number) => {
      let h = 0x811c9dc5;
      for (const byte of Buffer.from(text, 'utf8')) h = Math.imul(h ^ byte, 0x01000193);
      h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
      return (h >>> 0) % n;
    };
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 2, max: 64 }), (text, n) => shardOf(text, n) === reference(text, n)));
    for (const text of ['customer:müller@example.com', 'order:shop:東京-1', 'x:😀']) expect(shardOf(text, 16)).toBe(reference(text, 16));
    // A brace in an external id is part of the text, not a hash tag.
    expect(shardOf('order:shop:{1}', 16)).not.toBe(shardOf('1', 16));
    const tags = Array.from({ length: 16 }, (_, s) => shardTag('synchub', s, 16));
    expect(tags).toEqual(['synchub~0.40', 'synchub~1.43', 'synchub~2.60', 'synchub~3.63', 'synchub~4.23', 'synchub~5.20', 'synchub~6.1', 'synchub~7.2',
      'synchub~8.3', 'synchub~9.0', 'synchub~10.22', 'synchub~11.21', 'synchub~12.10', 'synchub~13.13', 'synchub~14.41', 'synchub~15.42']);
    // Shard s's slot lies in the s-th sixteenth of the slot range: 16 distinct slots, one per range.
    tags.forEach((t, s) => {
      expect(Math.floor(keySlot(`{${t}}`) / 1024)).toBe(s);
    });
  });

  it('keeps today\'s names and one group on one Redis and on a one-shard cluster hub; spreads records over N groups otherwise', () => {
    const one = ShardLayout.oneRedis('synchub');
    expect(one.hub).toBe('synchub');
    expect(one.groups()).toEqual(['synchub']);
    expect(one.groupOf('order:shop:1')).toBe('synchub');
    expect(one.spread).toBe(false);

    const old = ShardLayout.cluster('synchub', 1);
    expect(old.hub).toBe('{synchub}');
    expect(old.groups()).toEqual(['{synchub}']);
    expect(old.groupOf('order:shop:1')).toBe('{synchub}');

    const spread = ShardLayout.cluster('synchub', 16);
    expect(spread.hub).toBe('{synchub}');
    expect(spread.spread).toBe(true);
    expect(spread.groups()).toHaveLength(16);
    expect(new Set(spread.groups().map((g) => keySlot(`${g}:x`))).size).toBe(16);
    expect(spread.groupOf('order:shop:1')).toBe('{synchub~8.3}');
    // Every key of one group is on one slot, whatever follows the tag.
    const g = spread.groupOf('customer:abc');
    expect(new Set([`${g}:link:customer:abc`, `${g}:fp:crm:customer`, `${g}:plock:crm:customer:abc`, `${g}:xref:crm:customer:9`].map(keySlot)).size).toBe(1);
    // Control state stays on the hub tag's one slot.
    expect(new Set(['run:r1', 'cursor:orders', 'pipeline:orders', 'layout'].map((f) => keySlot(`${spread.hub}:${f}`))).size).toBe(1);
  });

  it('puts a person\'s index in the person\'s group and an order\'s fact and its home in the order\'s group; one Redis keeps the names it had', () => {
    const storeOf = (layout: ShardLayout) => ({ layout, k: (...parts: string[]) => [layout.hub, ...parts].join(':') }) as unknown as StateStore;
    const hubOf = (layout: ShardLayout) => ({ layout, store: storeOf(layout) }) as unknown as Hub;
    const person = 'customer:abc';

    const one = ShardLayout.oneRedis('synchub');
    expect(personKeysKey(storeOf(one), person)).toBe('synchub:person:customer:abc:keys');
    expect(personRefsKey(storeOf(one), person)).toBe('synchub:person:customer:abc:refs');
    expect(personIndexKeys(storeOf(one), person)).toEqual({
      keys: ['synchub:person:customer:abc:keys'], refs: ['synchub:person:customer:abc:refs'],
      hub: ['synchub:person:customer:abc:keys', 'synchub:person:customer:abc:refs'], group: [],
    });
    expect(orderFactKeys(hubOf(one), 'orders', '2025-01-01')).toEqual(['synchub:facts:order:orders:2025-01-01']);
    expect(orderFactKey(one.groupOf('order:shop:1'), 'orders', '2025-01-01')).toBe('synchub:facts:order:orders:2025-01-01');
    expect(factHomeKey(one.groupOf('order:shop:1'))).toBe('synchub:facts:home');

    const spread = ShardLayout.cluster('synchub', 16);
    const store = storeOf(spread);
    const g = spread.groupOf(person);
    expect(personKeysKey(store, person)).toBe(`${g}:person:customer:abc:keys`);
    expect(keySlot(personKeysKey(store, person))).toBe(keySlot(personRefsKey(store, person)));
    expect(keySlot(personKeysKey(store, person))).not.toBe(keySlot(`${spread.hub}:x`));
    // Read and deleted there and, for a hub from before the index was sharded, on the hub tag.
    const index = personIndexKeys(store, person);
    expect(index.keys).toEqual([`${g}:person:customer:abc:keys`, '{synchub}:person:customer:abc:keys']);
    expect(index.group).toEqual([`${g}:person:customer:abc:keys`, `${g}:person:customer:abc:refs`]);
    expect(index.hub).toEqual(['{synchub}:person:customer:abc:keys', '{synchub}:person:customer:abc:refs']);
    // An order's fact and its home share the slot of the order's link; a day's facts are read from every group after the hub tag's.
    const o = spread.groupOf('order:shop:1');
    expect(new Set([`${o}:link:order:shop:1`, orderFactKey(o, 'orders', '2025-01-01'), factHomeKey(o)].map(keySlot)).size).toBe(1);
    const dayKeys = orderFactKeys(hubOf(spread), 'orders', '2025-01-01');
    expect(dayKeys).toHaveLength(17);
    expect(dayKeys[0]).toBe('{synchub}:facts:order:orders:2025-01-01');
    expect(new Set(dayKeys.map(keySlot)).size).toBe(17);
  });
});
