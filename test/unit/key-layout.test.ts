import { describe, expect, it } from 'vitest';
import { hashTagOf, keySlot } from '../../src/state/key-slot.js';
import { queueKeyPrefix, stateKeyPrefix } from '../../src/state/key-layout.js';
import { FLUSH_QUEUE, INGEST_QUEUE, PULL_QUEUE, pushQueueName } from '../../src/jobs/queues.js';
import { NOTIFY_QUEUE } from '../../src/notify/types.js';
import { hubConfigSchema } from '../../src/config/schema.js';

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
});
