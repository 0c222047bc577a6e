import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { connectRedis } from '../../src/state/redis-client.js';
import { startRedisServer, type LocalRedis } from '../../src/runtime/redis-server.js';
import { startRedisCluster, type LocalRedisCluster } from '../../src/runtime/redis-cluster.js';

const socketOf = (r: Redis) => (r as unknown as { stream: Socket }).stream;
const ready = (r: Redis) => (r.status === 'ready' ? Promise.resolve() : new Promise<void>((res) => r.once('ready', () => res())));

/** A burst of commands of every kind sent in one turn, none awaited before the next is sent. */
function burst(r: Redis, key: string) {
  const set = r.set(key, '0');
  const incrs = Array.from({ length: 200 }, () => r.incr(key));
  const tx = r.multi().incr(key).get(key).exec();
  const script = r.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, key, '10');
  const pipe = r.pipeline().incr(key).get(key).exec();
  const get = r.get(key);
  return Promise.all([set, Promise.all(incrs), tx, script, pipe, get]);
}

/** Every answer of a burst as sent in order: a command that overtook another would show here. */
function expectInOrder([set, incrs, tx, script, pipe, get]: Awaited<ReturnType<typeof burst>>) {
  expect(set).toBe('OK');
  expect(incrs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  expect(tx).toEqual([[null, 201], [null, '201']]);
  expect(script).toBe(211);
  expect(pipe).toEqual([[null, 212], [null, '212']]);
  expect(get).toBe('212');
}

/** Counts the socket writes (one `_writev` or `_write` each) made from now on. */
function countWrites(sockets: Socket[]): () => number {
  const spies = sockets.flatMap((socket) => {
    const s = socket as unknown as Record<'_writev' | '_write', (...a: unknown[]) => void>;
    return [vi.spyOn(s, '_writev'), vi.spyOn(s, '_write')];
  });
  return () => spies.reduce((n, spy) => n + spy.mock.calls.length, 0);
}

describe('commands written in one turn share a socket write (src/state/redis-writes.ts)', () => {
  const clients: Redis[] = [];
  let own: LocalRedis | undefined;
  let cluster: LocalRedisCluster | undefined;
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await own?.stop();
    await cluster?.stop();
    own = undefined;
    cluster = undefined;
    vi.restoreAllMocks();
  });

  it('every command, transaction, script and pipeline of a burst reaches Redis in the order it was sent, in one write', async () => {
    const r = connectRedis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
    clients.push(r);
    await ready(r);
    const key = `redis-writes:${randomUUID()}`;
    const writes = countWrites([socketOf(r)]);

    expectInOrder(await burst(r, key));
    expect(writes()).toBe(1);
    await r.del(key);
  });

  it('a client that reconnects (its Redis restarted) sends its bursts in one write again, in order', async () => {
    own = await startRedisServer();
    const port = own.port;
    const r = connectRedis(own.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    r.on('error', () => {});
    clients.push(r);
    await ready(r);
    const before = socketOf(r);
    await own.stop();
    own = await startRedisServer({ port });
    await ready(r);
    await r.ping();
    const socket = socketOf(r);
    expect(socket).not.toBe(before);
    const writes = countWrites([socket]);

    expectInOrder(await burst(r, 'k'));
    expect(writes()).toBe(1);
  });

  it("on a Redis Cluster, a burst to one slot reaches that slot's primary in order, in one write", async () => {
    cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
    const r = connectRedis({ cluster: cluster.urls }, { maxRetriesPerRequest: 1 });
    clients.push(r);
    await ready(r);
    const key = `{redis-writes}:${randomUUID()}`;
    await r.set(key, 'warm');
    const nodes = (r as unknown as import('ioredis').Cluster).nodes('master');
    // Node clients connect as their slots are first used: the one serving `key` is connected by now.
    const writes = countWrites(nodes.map(socketOf).filter((socket) => socket !== undefined));

    expectInOrder(await burst(r, key));
    expect(writes()).toBe(1);
  });
});
