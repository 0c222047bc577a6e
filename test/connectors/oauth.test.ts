import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/connectors/http.js';
import { OAuthTokenProvider, type OAuthOptions } from '../../src/connectors/oauth.js';
import { AuthFailedError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';

const API = 'https://api.example.com';
const TOKEN_URL = 'https://login.example.com/oauth2/token';
const settings = { timeoutMs: 5000, retries: 2, retryBaseMs: 5, maxInlineWaitMs: 2000 };

function setup(extra: Partial<OAuthOptions> = {}, logs: string[] = []) {
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => { logs.push(s); } } });
  const auth = new OAuthTokenProvider({
    connection: 'crm', tokenUrl: TOKEN_URL, grant: 'client_credentials', clientId: 'id', clientSecret: 'secret',
    params: { scope: 'api' }, settings, logger, ...extra,
  });
  const http = new HttpClient({ connection: 'crm', baseURL: API, settings, logger, auth });
  return { auth, http };
}

describe('OAuth 2 token provider', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('gets a client-credentials token once and reuses it until shortly before it expires', async () => {
    let form: URLSearchParams | undefined;
    const token = nock('https://login.example.com').post('/oauth2/token', (b) => { form = new URLSearchParams(b); return true; })
      .reply(200, { access_token: 'tok-1', token_type: 'Bearer', expires_in: 3600 });
    nock(API, { reqheaders: { authorization: 'Bearer tok-1' } }).get('/a').times(3).reply(200, { ok: true });
    const { http, auth } = setup();
    for (let i = 0; i < 3; i++) await http.request({ method: 'GET', url: '/a' });
    expect(token.isDone()).toBe(true);
    expect(auth.requests).toBe(1);
    expect(Object.fromEntries(form!)).toEqual({ grant_type: 'client_credentials', scope: 'api', client_id: 'id', client_secret: 'secret' });
  });

  it('20 parallel requests with an expired token cause one token request', async () => {
    let n = 0;
    nock('https://login.example.com').persist().post('/oauth2/token').reply(() => [200, { access_token: `tok-${++n}`, expires_in: 3600 }]);
    const { http, auth } = setup();
    nock(API).get('/warm').reply(200, {});
    await http.request({ method: 'GET', url: '/warm' });
    expect(auth.requests).toBe(1);
    // The server has expired tok-1: every request carrying it gets 401.
    nock(API).persist().get('/x').reply(function () {
      return this.req.headers.authorization === 'Bearer tok-2' ? [200, { ok: true }] : [401, { error: 'invalid_token' }];
    });
    const results = await Promise.all(Array.from({ length: 20 }, () => http.request({ method: 'GET', url: '/x' })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(auth.requests).toBe(2);
  });

  it('uses the refresh-token grant with client auth in HTTP Basic and a custom scheme', async () => {
    let form: URLSearchParams | undefined;
    nock('https://login.example.com', { reqheaders: { authorization: `Basic ${Buffer.from('id:secret').toString('base64')}` } })
      .post('/oauth2/token', (b) => { form = new URLSearchParams(b); return true; }).reply(200, { access_token: 'z-1', expires_in: 3600 });
    nock(API, { reqheaders: { authorization: 'Zoho-oauthtoken z-1' } }).get('/a').reply(200, {});
    const { http } = setup({ grant: 'refresh_token', refreshToken: 'r-1', clientAuth: 'basic', scheme: 'Zoho-oauthtoken', params: {} });
    await http.request({ method: 'GET', url: '/a' });
    expect(Object.fromEntries(form!)).toEqual({ grant_type: 'refresh_token', refresh_token: 'r-1' });
  });

  it('a refused token request is an auth failure naming the connection, and no token reaches the logs', async () => {
    const logs: string[] = [];
    nock('https://login.example.com').post('/oauth2/token').reply(400, { error: 'invalid_client', error_description: 'Invalid client secret' });
    const { http } = setup({}, logs);
    const err = await http.request({ method: 'GET', url: '/a' }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err.message).toMatch(/connection crm: .*invalid_client: Invalid client secret/);

    nock('https://login.example.com').post('/oauth2/token').reply(200, { access_token: 'very-secret-token', expires_in: 3600 });
    nock(API).get('/a').reply(200, {});
    await http.request({ method: 'GET', url: '/a' });
    expect(logs.join('')).not.toContain('very-secret-token');
  });

  it('a 401 that persists after one refresh is an auth failure, not a retry storm', async () => {
    nock('https://login.example.com').persist().post('/oauth2/token').reply(200, { access_token: 'tok', expires_in: 3600 });
    const api = nock(API).get('/a').times(2).reply(401, { error: 'invalid_token' });
    const { http, auth } = setup();
    expect(await http.request({ method: 'GET', url: '/a' }).catch((e) => e)).toBeInstanceOf(AuthFailedError);
    expect(api.isDone()).toBe(true);
    expect(auth.requests).toBe(2);
  });
});
