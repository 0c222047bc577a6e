import { describe, expect, it } from 'vitest';
import { pushEach } from '../../src/connectors/shared.js';
import { AuthFailedError, RateLimitedError, RemoteRejectedError, RemoteUnavailableError } from '../../src/core/errors.js';

/** pushEach serves the connectors that write one record a call: shopify, stripe, magento, odoo. */
describe('pushEach: one call per record', () => {
  const items = ['a', 'b', 'c', 'd'].map((key) => ({ key, payload: {} }));

  it('a failure part-way leaves the written records written and the rest to a later attempt with the failure', async () => {
    const written: string[] = [];
    const out = await pushEach(items, async (item) => {
      if (item.key === 'b') throw new RemoteRejectedError('email is invalid', { status: 422 });
      if (item.key === 'c') throw new RateLimitedError('slow down', 2000);
      written.push(item.key);
      return `id-${item.key}`;
    });
    expect(written).toEqual(['a']);
    expect(out.map((o) => [o.key, o.ok ? o.externalId : o.error.code])).toEqual([['a', 'id-a'], ['b', 'remote_rejected'], ['c', 'rate_limited'], ['d', 'rate_limited']]);
  });

  it('a failure before any record is answered is thrown as it is (the breaker and auth pause see it)', async () => {
    await expect(pushEach(items, async () => { throw new AuthFailedError('shop', 'answered 401'); })).rejects.toBeInstanceOf(AuthFailedError);
    await expect(pushEach(items, async () => { throw new RemoteUnavailableError('503'); })).rejects.toBeInstanceOf(RemoteUnavailableError);
  });

  it('an error that is not a domain error still leaves the rest retryable once something was written', async () => {
    let n = 0;
    const out = await pushEach(items, async (item) => {
      if (n++ === 1) throw new TypeError('socket hang up');
      return item.key;
    });
    expect(out.map((o) => o.ok || [o.error.code, o.error.retryable])).toEqual([true, ['remote_unavailable', true], ['remote_unavailable', true], ['remote_unavailable', true]]);
  });
});
