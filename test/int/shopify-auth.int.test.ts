/**
 * Shopify tokens shared through Redis (issue 16, item 1), with several hubs on one Redis as
 * several processes would be: the client credentials grant makes one token request for all of
 * them; an expiring offline token's refresh token rotates, the new pair is kept sealed and a
 * restarted hub never sends a consumed refresh token; a refused refresh (invalid_grant) pauses
 * the connection's pushes with auth_failed naming it.
 */
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import type { HubConfig } from '../../src/config/load.js';
import { AuthFailedError } from '../../src/core/errors.js';
import { startRun } from '../../src/jobs/pull.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { dumpPrefix } from '../helpers/redis-scan.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';

const SHOP = 'https://acme.myshopify.com';
const API = '/admin/api/2026-10';
const INVALID_TOKEN = { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' };

function config(credentials: Record<string, string>): HubConfig {
  return testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
  });
}

/** Shopify's side of expiring offline tokens: each refresh token works once and rotates; only the newest access token is accepted. */
function offlineTokenServer(first: { accessToken: string; refreshToken: string }) {
  let valid = { ...first };
  let n = 0;
  const sent: string[] = [];
  nock(SHOP).persist().post('/admin/oauth/access_token').reply((_uri, body) => {
    const form = Object.fromEntries(new URLSearchParams(body as string));
    sent.push(form.refresh_token);
    if (form.grant_type !== 'refresh_token' || form.client_id !== 'cid' || form.client_secret !== 'csecret') return [400, { error: 'invalid_request' }];
    if (form.refresh_token !== valid.refreshToken) return [400, { error: 'invalid_grant', error_description: 'The refresh token has already been used.' }];
    n++;
    valid = { accessToken: `shpat_at${n}`, refreshToken: `shprt_rt${n}` };
    return [200, { access_token: valid.accessToken, expires_in: 3600, refresh_token: valid.refreshToken, refresh_token_expires_in: 7776000, scope: 'read_orders' }];
  });
  nock(SHOP).persist().get(/\/orders\/\d+\.json$/).reply(function () {
    return this.req.headers['x-shopify-access-token'] === valid.accessToken ? [200, { order: { id: 1 } }] : [401, INVALID_TOKEN];
  });
  return {
    sent,
    /** Shopify lets the current access token lapse (its hour is over). */
    expire() {
      valid.accessToken = `lapsed-${valid.accessToken}`;
    },
  };
}

describe('shopify tokens shared through Redis', () => {
  const hubs: TestHub[] = [];
  const open = async (cfg: HubConfig) => {
    const t = await openTestHub(cfg);
    hubs.push(t);
    return t;
  };
  loopbackOnly();
  afterEach(async () => {
    await Promise.all(hubs.splice(0).map((t) => t.close()));
  });

  it('client credentials: two hubs on one Redis make one token request for 20 concurrent calls', async () => {
    let requests = 0;
    nock(SHOP).persist().post('/admin/oauth/access_token').reply(() => {
      requests++;
      return [200, { access_token: `shpat_cc${requests}`, scope: 'read_orders', expires_in: 86399 }];
    });
    nock(SHOP).persist().get(`${API}/orders/1.json`).reply(function () {
      return this.req.headers['x-shopify-access-token'] === 'shpat_cc1' ? [200, { order: { id: 1 } }] : [401, INVALID_TOKEN];
    });
    const cfg = config({ clientId: 'cid', clientSecret: 'csecret' });
    const [a, b] = [await open(cfg), await open(cfg)];
    const calls = Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).hub.client('shop').fetch('order', '1'));
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 20 }, () => ({ id: 1 })));
    expect(requests).toBe(1);
    // A third process started later takes the stored token: still one request.
    const c = await open(cfg);
    expect(await c.hub.client('shop').fetch('order', '1')).toEqual({ id: 1 });
    expect(requests).toBe(1);
  });

  it('expiring offline token: the rotated pair is stored sealed, a restart never sends a consumed refresh token, two hubs refresh once', async () => {
    const shopify = offlineTokenServer({ accessToken: 'shpat_at0', refreshToken: 'shprt_rt0' });
    const cfg = config({ accessToken: 'shpat_at0', refreshToken: 'shprt_rt0', clientId: 'cid', clientSecret: 'csecret' });

    // The config's access token works until it lapses; then one refresh with the config's refresh token.
    const first = await open(cfg);
    expect(await first.hub.client('shop').fetch('order', '1')).toEqual({ id: 1 });
    expect(shopify.sent).toEqual([]);
    shopify.expire();
    expect(await first.hub.client('shop').fetch('order', '1')).toEqual({ id: 1 });
    expect(shopify.sent).toEqual(['shprt_rt0']);

    // Sealed in Redis: neither token appears in plaintext.
    const stored = [...(await dumpPrefix(first.hub.redis, cfg.redis.prefix)).values()].join('\n');
    expect(stored).not.toContain('shprt_rt1');
    expect(stored).not.toContain('shpat_at1');
    await first.close();
    hubs.splice(hubs.indexOf(first), 1);

    // Restart: the same config (still holding the consumed shprt_rt0), two processes on the same Redis.
    const [a, b] = [await open(cfg), await open(cfg)];
    expect(await a.hub.client('shop').fetch('order', '1')).toEqual({ id: 1 });
    expect(shopify.sent).toEqual(['shprt_rt0']); // the stored shpat_at1 is still good
    shopify.expire();
    const calls = Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).hub.client('shop').fetch('order', '1'));
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 10 }, () => ({ id: 1 })));
    // One refresh, with the rotated token; the consumed one was never sent again.
    expect(shopify.sent).toEqual(['shprt_rt0', 'shprt_rt1']);
  });

  it('a refused refresh (invalid_grant) is auth_failed naming the connection and pauses its pushes', async () => {
    // shop-a's orders are pushed to shop-b, whose refresh token Shopify no longer accepts.
    const SHOP_B = 'https://beta.myshopify.com';
    const orders = shopifyOrders(1);
    mockShopifyOrders(SHOP, orders, { version: '2026-10' });
    const token = nock(SHOP_B).post('/admin/oauth/access_token').reply(400, { error: 'invalid_grant', error_description: 'The refresh token is invalid or has expired.' });
    nock(SHOP_B).persist().get(/^\/admin\/api\/2026-10\//).reply(401, INVALID_TOKEN);
    const t = await open(testConfig({
      connections: {
        'shop-a': { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat_a' } },
        'shop-b': { connector: 'shopify', baseUrl: SHOP_B, api: 'rest', credentials: { accessToken: 'shpat_old', refreshToken: 'shprt_gone', clientId: 'cid', clientSecret: 'csecret' } },
      },
      pipelines: { mirror: { source: { connection: 'shop-a', entity: 'order' }, targets: [{ connection: 'shop-b', entity: 'order' }] } },
    }));
    t.startWorkers();
    await startRun(t.hub, 'mirror', false);
    await eventually(() => t.hub.pushQueue('shop-b').isPaused());
    expect(token.isDone()).toBe(true);

    nock(SHOP_B).post('/admin/oauth/access_token').reply(400, { error: 'invalid_grant', error_description: 'The refresh token is invalid or has expired.' });
    const err = (await t.hub.client('shop-b').fetch('order', '1').catch((e: unknown) => e)) as AuthFailedError;
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err.code).toBe('auth_failed');
    expect(err.message).toMatch(/^connection shop-b: .*invalid_grant.*authorise the app again/);
    expect(err.message).not.toContain('shprt_gone');
  });
});
