/**
 * Shopify authentication (issue 16, item 1): the credentials choose the mode — a static
 * `shpat_` token, the client credentials grant of a Dev Dashboard app, or an expiring offline
 * token with a rotating refresh token — and invalid combinations are refused at config load.
 * Shapes from shopify.dev: "About client credentials" / "Using the client credentials grant"
 * (form-encoded POST /admin/oauth/access_token, answer access_token + scope + expires_in) and
 * "Offline access tokens now support expiry and refresh" (access_token, expires_in 3600, refresh_token).
 */
import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shopify } from '../../../src/connectors/shopify/index.js';
import { ConfigError } from '../../../src/core/errors.js';
import { quietLogger, testConfig } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';

const SHOP = 'https://acme.myshopify.com';
const API = '/admin/api/2026-10';

function client(credentials: Record<string, string>) {
  return shopify.create(testConnection({ name: 'shop', connector: 'shopify', baseUrl: SHOP, credentials, options: { api: 'rest' } }), { logger: quietLogger });
}

function configWith(credentials: Record<string, string>) {
  return testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
  });
}

function problemsOf(credentials: Record<string, string>): string[] {
  try {
    configWith(credentials);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('shopify authentication modes', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('uses the newest stable API version, 2026-10, by default', async () => {
    nock(SHOP).get(`${API}/orders/1.json`).reply(200, { order: fixture('shopify/order.json') });
    expect(await client({ accessToken: 'shpat_static' }).fetch('order', '1')).toMatchObject({ id: expect.any(Number) });
  });

  it('accessToken alone: the static token in X-Shopify-Access-Token, no token request', async () => {
    const token = nock(SHOP).post('/admin/oauth/access_token').reply(500);
    nock(SHOP, { reqheaders: { 'x-shopify-access-token': 'shpat_static' } }).get(`${API}/orders/1.json`).reply(200, { order: { id: 1 } });
    expect(await client({ accessToken: 'shpat_static' }).fetch('order', '1')).toEqual({ id: 1 });
    expect(token.isDone()).toBe(false);
  });

  it('clientId + clientSecret: the client credentials grant, form-encoded, and its token in X-Shopify-Access-Token', async () => {
    let form: Record<string, string> | undefined;
    nock(SHOP, { reqheaders: { 'content-type': /^application\/x-www-form-urlencoded/ } }).post('/admin/oauth/access_token', (body) => {
      form = Object.fromEntries(new URLSearchParams(body));
      return true;
    }).reply(200, { access_token: 'shpat_cc1', scope: 'read_orders,read_customers', expires_in: 86399 });
    nock(SHOP, { reqheaders: { 'x-shopify-access-token': 'shpat_cc1' } }).get(`${API}/orders/1.json`).times(2).reply(200, { order: { id: 1 } });
    const c = client({ clientId: 'cid', clientSecret: 'csecret' });
    await c.fetch('order', '1');
    await c.fetch('order', '1');
    expect(form).toEqual({ grant_type: 'client_credentials', client_id: 'cid', client_secret: 'csecret' });
    expect(nock.isDone()).toBe(true);
  });

  it('client credentials: 20 concurrent calls with an expired token make one token request', async () => {
    let n = 0;
    nock(SHOP).persist().post('/admin/oauth/access_token').reply(() => [200, { access_token: `shpat_cc${++n}`, scope: 'read_orders', expires_in: 86399 }]);
    nock(SHOP).get(`${API}/orders/1.json`).reply(200, { order: { id: 1 } });
    const c = client({ clientId: 'cid', clientSecret: 'csecret' });
    await c.fetch('order', '1');
    expect(n).toBe(1);
    // Shopify has expired shpat_cc1: every call carrying it is refused.
    nock(SHOP).persist().get(`${API}/orders/2.json`).reply(function () {
      return this.req.headers['x-shopify-access-token'] === 'shpat_cc2'
        ? [200, { order: { id: 2 } }]
        : [401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' }];
    });
    const all = await Promise.all(Array.from({ length: 20 }, () => c.fetch('order', '2')));
    expect(all.every((o) => (o as { id: number }).id === 2)).toBe(true);
    expect(n).toBe(2);
  });

  it('verifies webhooks with the client secret when webhookSecret is not set', async () => {
    const body = Buffer.from(JSON.stringify({ ...fixture('shopify/order.json'), id: 7 }));
    const hmac = createHmac('sha256', 'csecret').update(body).digest('base64');
    const hooks = client({ clientId: 'cid', clientSecret: 'csecret' }).webhooks;
    expect(hooks).toBeDefined();
    const delivery = await hooks!.verify({
      method: 'POST', url: `${SHOP}/webhooks/shop`, rawBody: body,
      headers: { 'x-shopify-hmac-sha256': hmac, 'x-shopify-topic': 'orders/updated', 'x-shopify-webhook-id': 'w-1' },
    });
    expect(delivery.events).toMatchObject([{ entity: 'order', topic: 'orders/updated' }]);
    // A body signed with another secret is refused.
    const forged = createHmac('sha256', 'other').update(body).digest('base64');
    expect(() => hooks!.verify({ method: 'POST', url: '', rawBody: body, headers: { 'x-shopify-hmac-sha256': forged, 'x-shopify-topic': 'orders/updated', 'x-shopify-webhook-id': 'w-2' } }))
      .toThrow(/X-Shopify-Hmac-Sha256/);
    // webhookSecret, when set, is the one used.
    const own = client({ clientId: 'cid', clientSecret: 'csecret', webhookSecret: 'other' }).webhooks!;
    expect(() => own.verify({ method: 'POST', url: '', rawBody: body, headers: { 'x-shopify-hmac-sha256': forged, 'x-shopify-topic': 'orders/updated', 'x-shopify-webhook-id': 'w-3' } })).not.toThrow();
  });

  it('accepts the three modes at config load and refuses other combinations, naming the path', () => {
    expect(problemsOf({ accessToken: 'shpat' })).toEqual([]);
    expect(problemsOf({ clientId: 'cid', clientSecret: 'cs' })).toEqual([]);
    expect(problemsOf({ accessToken: 'at', refreshToken: 'rt', clientId: 'cid', clientSecret: 'cs' })).toEqual([]);

    expect(problemsOf({})).toEqual([expect.stringMatching(/^connections\.shop\.credentials: set accessToken .*clientId \+ clientSecret/)]);
    expect(problemsOf({ clientId: 'cid' })).toEqual([expect.stringMatching(/^connections\.shop\.credentials\.clientSecret: is required with credentials\.clientId/)]);
    expect(problemsOf({ clientSecret: 'cs' })).toEqual([expect.stringMatching(/^connections\.shop\.credentials\.clientId: is required/)]);
    expect(problemsOf({ accessToken: 'at', clientId: 'cid', clientSecret: 'cs' })).toEqual([expect.stringMatching(/^connections\.shop\.credentials\.accessToken: set it alone/)]);
    expect(problemsOf({ accessToken: 'at', refreshToken: 'rt' })).toEqual([
      expect.stringMatching(/^connections\.shop\.credentials\.clientId: is required with credentials\.refreshToken/),
      expect.stringMatching(/^connections\.shop\.credentials\.clientSecret: is required with credentials\.refreshToken/),
    ]);
    expect(problemsOf({ refreshToken: 'rt', clientId: 'cid', clientSecret: 'cs' })).toEqual([expect.stringMatching(/^connections\.shop\.credentials\.accessToken: is required with credentials\.refreshToken/)]);
    // An unknown credential is still refused by the schema.
    expect(problemsOf({ accessToken: 'shpat', apiKey: 'x' })).toEqual([expect.stringMatching(/^connections\.shop\.credentials/)]);
  });
});
