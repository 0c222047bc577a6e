/**
 * HubSpot project apps with OAuth (issue 17): the refresh-token grant through the shared OAuth
 * provider, with several hubs on one Redis as several processes would be. Shapes from
 * "Manage OAuth access tokens with the 2026-03 API" (POST /oauth/2026-03/token, form-encoded,
 * access tokens expire after 30 minutes) and the changelog "New OAuth v3 API Endpoints and
 * Standardized Error Responses" (the invalid_grant answer).
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

const HUBSPOT = 'https://api.hubapi.com';
const SHOP = 'https://acme.myshopify.com';
const DEAL = /^\/crm\/objects\/2026-09\/deals\/\d+\?/;
const OAUTH = { clientId: 'cid-3f0b', clientSecret: 'csecret-9a1c' };
const INVALID_GRANT = { error: 'invalid_grant', error_description: 'refresh token is invalid, expired or revoked', status: 'BAD_REFRESH_TOKEN', message: 'refresh token is invalid, expired or revoked' };

function config(credentials: Record<string, string>): HubConfig {
  return testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat_x' } },
      crm: { connector: 'hubspot', credentials },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
  });
}

/**
 * HubSpot's side: each refresh token works once and is answered with a new one (the hub must
 * cope with a provider that rotates); only the newest access token is accepted.
 */
function hubspotOAuth(first: { accessToken: string; refreshToken: string }) {
  let valid = { ...first };
  let expiresIn = 1800;
  let n = 0;
  const sent: string[] = [];
  let refused = 0;
  nock(HUBSPOT).persist().post('/oauth/2026-03/token').reply((_uri, body) => {
    const form = Object.fromEntries(new URLSearchParams(body as string));
    sent.push(form.refresh_token);
    if (form.grant_type !== 'refresh_token' || form.client_id !== OAUTH.clientId || form.client_secret !== OAUTH.clientSecret) return [400, { error: 'invalid_request', error_description: 'missing or invalid parameters' }];
    if (form.refresh_token !== valid.refreshToken) return [400, INVALID_GRANT];
    n++;
    valid = { accessToken: `CJSP5qf1Kh${n}`, refreshToken: `6f18f26a-rt${n}` };
    return [200, { token_type: 'bearer', refresh_token: valid.refreshToken, access_token: valid.accessToken, expires_in: expiresIn }];
  });
  nock(HUBSPOT).persist().get(DEAL).reply(function () {
    if (this.req.headers.authorization === `Bearer ${valid.accessToken}`) return [200, { id: '1', properties: { dealname: 'Order 1001' }, archived: false }];
    refused++;
    return [401, { status: 'error', message: 'The OAuth token used to make this call expired 12 second(s) ago.', correlationId: 'a3c1e9b0-5f7e-4e43-8d2c-1b9b1d7c0e11', category: 'EXPIRED_AUTHENTICATION' }];
  });
  return {
    sent,
    refused: () => refused,
    /** `expires_in` of the next answers (seconds). */
    answerExpiresIn(seconds: number) {
      expiresIn = seconds;
    },
    /** HubSpot lets the current access token lapse. */
    expire() {
      valid.accessToken = `lapsed-${valid.accessToken}`;
    },
  };
}

describe('hubspot OAuth tokens shared through Redis', () => {
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

  it('20 concurrent calls across two hubs make one token request', async () => {
    const hubspot = hubspotOAuth({ accessToken: 'none', refreshToken: 'rt0' });
    const cfg = config({ ...OAUTH, refreshToken: 'rt0' });
    const [a, b] = [await open(cfg), await open(cfg)];
    const calls = Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).hub.client('crm').fetch('order', '1'));
    expect((await Promise.all(calls)).every((d: any) => d.id === '1')).toBe(true);
    expect(hubspot.sent).toEqual(['rt0']);
    expect(hubspot.refused()).toBe(0);
  });

  it('a token is renewed before it expires, not after a 401', async () => {
    const hubspot = hubspotOAuth({ accessToken: 'none', refreshToken: 'rt0' });
    // 61 s: the provider renews 60 s before expiry, so this token is due for renewal after 1 s.
    hubspot.answerExpiresIn(61);
    const t = await open(config({ ...OAUTH, refreshToken: 'rt0' }));
    expect(await t.hub.client('crm').fetch('order', '1')).toMatchObject({ id: '1' });
    expect(hubspot.sent).toEqual(['rt0']);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await t.hub.client('crm').fetch('order', '1')).toMatchObject({ id: '1' });
    expect(hubspot.sent).toEqual(['rt0', '6f18f26a-rt1']);
    expect(hubspot.refused()).toBe(0);
  });

  it('a rotated refresh token is kept sealed; a restart with the old config never sends a consumed one', async () => {
    const hubspot = hubspotOAuth({ accessToken: 'CJSP5qf1Kh0', refreshToken: 'rt0' });
    const cfg = config({ ...OAUTH, accessToken: 'CJSP5qf1Kh0', refreshToken: 'rt0' });

    const first = await open(cfg);
    expect(await first.hub.client('crm').fetch('order', '1')).toMatchObject({ id: '1' });
    expect(hubspot.sent).toEqual([]); // the config's access token is used while it works
    hubspot.expire();
    expect(await first.hub.client('crm').fetch('order', '1')).toMatchObject({ id: '1' });
    expect(hubspot.sent).toEqual(['rt0']);

    const stored = [...(await dumpPrefix(first.hub.redis, cfg.redis.prefix)).values()].join('\n');
    expect(stored).not.toContain('6f18f26a-rt1');
    expect(stored).not.toContain('CJSP5qf1Kh1');
    await first.close();
    hubs.splice(hubs.indexOf(first), 1);

    // Restart: the same config (still holding the consumed rt0), two processes on one Redis.
    const [a, b] = [await open(cfg), await open(cfg)];
    expect(await a.hub.client('crm').fetch('order', '1')).toMatchObject({ id: '1' });
    expect(hubspot.sent).toEqual(['rt0']);
    hubspot.expire();
    const calls = Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).hub.client('crm').fetch('order', '1'));
    expect((await Promise.all(calls)).every((d: any) => d.id === '1')).toBe(true);
    expect(hubspot.sent).toEqual(['rt0', '6f18f26a-rt1']);
  });

  it('invalid_grant is auth_failed naming the connection and pauses its pushes', async () => {
    mockShopifyOrders(SHOP, shopifyOrders(1), { version: '2026-10' });
    const token = nock(HUBSPOT).post('/oauth/2026-03/token').reply(400, INVALID_GRANT);
    const upserts = nock(HUBSPOT).post('/crm/objects/2026-09/deals/batch/upsert').reply(200, {});
    const t = await open(config({ ...OAUTH, refreshToken: 'rt-revoked' }));
    t.startWorkers();
    await startRun(t.hub, 'orders', false);
    await eventually(() => t.hub.pushQueue('crm').isPaused());
    expect(token.isDone()).toBe(true);
    expect(upserts.isDone()).toBe(false);

    nock(HUBSPOT).post('/oauth/2026-03/token').reply(400, INVALID_GRANT);
    const err = (await t.hub.client('crm').fetch('order', '1').catch((e: unknown) => e)) as AuthFailedError;
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err.message).toMatch(/^connection crm: .*invalid_grant.*authorise the app again/);
    expect(err.message).not.toContain('rt-revoked');
    expect(err.message).not.toContain(OAUTH.clientSecret);
  });
});
