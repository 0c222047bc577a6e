import { describe, expect, it } from 'vitest';
import { RemoteRejectedError, RemoteUnavailableError } from '../../src/core/errors.js';
import type { ConnectorClient } from '../../src/connectors/types.js';
import { GONE_AT_SOURCE, MAX_FETCH_BATCH, RecordFetcher } from '../../src/jobs/record-fetch.js';

const base = { pull: async () => ({ records: [], cursor: null, done: true }), push: async () => [], close: async () => {} } as unknown as ConnectorClient;

describe('RecordFetcher', () => {
  it('reads the references of jobs running side by side in batches; an id not in the answer is gone at source', async () => {
    const calls: string[][] = [];
    const client: ConnectorClient = {
      ...base,
      fetch: async () => { throw new Error('fetch one by one'); },
      fetchMany: async (_entity, ids) => {
        calls.push(ids);
        return new Map(ids.filter((id) => id !== 'r7').map((id) => [id, { id }]));
      },
    };
    const fetcher = new RecordFetcher(() => client);
    const refs = Array.from({ length: 150 }, (_, i) => `r${i}`);
    const got = await Promise.all(refs.map((r) => fetcher.fetch('sf', 'order', r)));
    expect(calls.map((c) => c.length)).toEqual([MAX_FETCH_BATCH, 50]);
    expect(got[0]).toEqual({ id: 'r0' });
    expect(got[7]).toBe(GONE_AT_SOURCE);
  });

  it('without fetchMany: null, 404 and 410 are gone at source; other failures stay errors (retried)', async () => {
    const answers: Record<string, () => unknown> = {
      a: () => ({ id: 'a' }),
      b: () => null,
      c: () => { throw new RemoteRejectedError('GET /orders/c answered 404', { status: 404 }); },
      d: () => { throw new RemoteRejectedError('GET /orders/d answered 410', { status: 410 }); },
      e: () => { throw new RemoteUnavailableError('GET /orders/e answered 503', { status: 503 }); },
    };
    const client: ConnectorClient = { ...base, fetch: async (_e, id) => answers[id]() };
    const fetcher = new RecordFetcher(() => client);
    expect(await fetcher.fetch('shop', 'order', 'a')).toEqual({ id: 'a' });
    for (const id of ['b', 'c', 'd']) expect(await fetcher.fetch('shop', 'order', id)).toBe(GONE_AT_SOURCE);
    await expect(fetcher.fetch('shop', 'order', 'e')).rejects.toThrow(/503/);
  });

  it('a failed batch fails each of its jobs (each retries on its own)', async () => {
    const client: ConnectorClient = { ...base, fetch: async () => null, fetchMany: async () => { throw new RemoteUnavailableError('query answered 503'); } };
    const fetcher = new RecordFetcher(() => client);
    const results = await Promise.allSettled(['x', 'y'].map((r) => fetcher.fetch('sf', 'order', r)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
