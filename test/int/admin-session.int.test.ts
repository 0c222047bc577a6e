import { afterEach, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createApp, startServer, type RunningServer } from '../../src/server.js';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { dumpPrefix } from '../helpers/redis-scan.js';

/**
 * The admin session (issue 15, item 5): requests a browser can be made to send
 * from another origin are refused, the session cookie is a random id kept in
 * Redis that logout revokes, Secure behind TLS, login attempts throttled.
 */
function config(server: Record<string, unknown> = {}, redis?: Record<string, unknown>) {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN, dashboardWritable: true, ...server },
    ...(redis ? { redis } : {}),
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
  });
}

const form = (token: string, headers: Record<string, string> = {}) => ({
  method: 'POST', body: new URLSearchParams({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
});
/** What a browser sends with a request from the page the hub itself served (app.request's host is localhost). */
const SAME_ORIGIN = { origin: 'http://localhost', 'sec-fetch-site': 'same-origin' };

async function login(app: Hono, headers: Record<string, string> = {}): Promise<{ cookie: string; setCookie: string }> {
  const res = await app.request('/admin/login', form(ADMIN_TOKEN, headers));
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/admin');
  const setCookie = res.headers.get('set-cookie')!;
  return { cookie: setCookie.split(';')[0], setCookie };
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

describe('admin session', () => {
  let t: TestHub | undefined;
  let t2: TestHub | undefined;
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    await t?.close();
    await t2?.close();
    t = t2 = server = undefined;
  });

  it('refuses every state-changing admin route from another origin with the cookie (403), and changes nothing', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const { cookie } = await login(app);
    await t.hub.store.setCursor('orders', { since: '2025-01-01' });
    await t.hub.pushQueue('crm').pause();
    const job = await t.hub.pushQueue('crm').add('push', { pipeline: 'orders' }, { delay: 60_000 });

    const routes = [...new Set(app.routes
      .filter((r) => UNSAFE.has(r.method) && (r.path.startsWith('/api/') || r.path.startsWith('/admin/')))
      .map((r) => `${r.method} ${r.path}`))];
    // The ones the issue names are among them, and the dashboard's job actions too.
    expect(routes).toEqual(expect.arrayContaining([
      'POST /api/pipelines/:name/pause', 'POST /api/pipelines/:name/reset-cursor', 'POST /api/pipelines/:name/resume',
      'POST /api/connections/:name/resume', 'POST /api/mappings/preview', 'POST /api/pipelines/:name/run',
      'POST /api/dead-letters/:id/replay', 'DELETE /api/dead-letters/:id', 'POST /admin/logout', 'POST /admin/login',
    ]));
    expect(routes.some((r) => r.startsWith('PUT /admin/queues/'))).toBe(true);

    const hostile: Record<string, string>[] = [
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      { origin: 'https://sibling.localhost', 'sec-fetch-site': 'same-site' }, // a same-site sibling: SameSite=Strict still sends the cookie
      { 'sec-fetch-site': 'same-site' },
      { origin: 'null' },
    ];
    for (const route of routes) {
      const [method, pattern] = route.split(' ');
      const path = pattern
        .replace(':name', pattern.includes('/connections/') ? 'crm' : 'orders')
        .replace(':queueName', '%7Bpush-crm%7D').replace(':jobId', String(job.id)).replace(/:\w+/g, 'x');
      for (const headers of hostile) {
        const res = await app.request(`${path}?confirm=orders`, {
          method, headers: { cookie, 'content-type': 'text/plain', ...headers }, body: '{"entity":"order","expression":"$","input":{}}',
        });
        expect(res.status, `${route} ${JSON.stringify(headers)}`).toBe(403);
        expect((await res.json()).error.code).toBe('forbidden');
      }
    }
    expect(await t.hub.store.getCursor('orders')).toEqual({ since: '2025-01-01' });
    expect(await t.hub.store.pausedSince('orders')).toBeNull();
    expect(await t.hub.pushQueue('crm').isPaused()).toBe(true);
    expect(await t.hub.pushQueue('crm').getDelayedCount()).toBe(1);
    // The logout was refused as well: the session still works.
    expect((await app.request('/api/pipelines', { headers: { cookie } })).status).toBe(200);
  });

  it('accepts the same requests from the hub’s own page, and from its public URL behind a proxy', async () => {
    t = await openTestHub(config({ publicUrl: 'https://hub.example.com' }));
    const app = createApp(t.hub);
    const { cookie } = await login(app, SAME_ORIGIN);
    await t.hub.store.setCursor('orders', { since: '2025-01-01' });
    const pause = await app.request('/api/pipelines/orders/pause', { method: 'POST', headers: { cookie, ...SAME_ORIGIN } });
    expect(pause.status).toBe(200);
    expect((await pause.json()).paused).toBe(true);
    // The proxy passes another Host: the public URL's origin is the hub's own.
    const resume = await app.request('http://10.0.0.5:3000/api/pipelines/orders/resume', { method: 'POST', headers: { cookie, origin: 'https://hub.example.com', 'sec-fetch-site': 'same-origin' } });
    expect(resume.status).toBe(200);
    const reset = await app.request('/api/pipelines/orders/reset-cursor?confirm=orders', { method: 'POST', headers: { cookie, ...SAME_ORIGIN } });
    expect(reset.status).toBe(200);
    expect(await t.hub.store.getCursor('orders')).toBeNull();
    const preview = await app.request('/api/mappings/preview', {
      method: 'POST', headers: { cookie, ...SAME_ORIGIN, 'content-type': 'application/json' }, body: JSON.stringify({ entity: 'order', expression: '{"a": 1}', input: {} }),
    });
    expect(preview.status).toBe(200);
    expect((await preview.json()).output).toEqual({ a: 1 });
  });

  it('keeps scripts with the bearer token working (no Origin, any Sec-Fetch-Site), and refuses bodies that are not JSON (415)', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
    expect((await app.request('/api/pipelines/orders/pause', { method: 'POST', headers: bearer })).status).toBe(200);
    expect((await app.request('/api/pipelines/orders/resume', { method: 'POST', headers: { ...bearer, 'sec-fetch-site': 'cross-site' } })).status).toBe(200);
    const json = await app.request('/api/mappings/preview', {
      method: 'POST', headers: { ...bearer, 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ entity: 'order', expression: '{"a": 1}', input: {} }),
    });
    expect(json.status).toBe(200);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await app.request('/api/mappings/preview', { method: 'POST', headers: { ...bearer, 'content-type': type }, body: JSON.stringify({ entity: 'order', expression: '$', input: {} }) });
      expect(res.status, type).toBe(415);
      expect((await res.json()).error.code).toBe('unsupported_media_type');
    }
    expect((await app.request('/api/pipelines/orders/pause', { method: 'POST', headers: { ...bearer, 'content-type': 'text/plain' }, body: 'x' })).status).toBe(415);
    expect(await t.hub.store.pausedSince('orders')).toBeNull();
  });

  it('gives each login its own random session id, kept only hashed in Redis with an expiry, and logout revokes it', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const a = await login(app);
    const b = await login(app);
    expect(a.cookie).not.toBe(b.cookie);
    const id = a.cookie.split('=')[1];
    expect(Buffer.from(id, 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(a.setCookie).toMatch(/Max-Age=43200/);
    expect(a.setCookie).not.toMatch(/Secure/);
    const stored = [...(await dumpPrefix(t.hub.redis, t.hub.config.redis.prefix)).values()].join('\n');
    expect(stored).not.toContain(id);
    expect(stored).not.toContain(b.cookie.split('=')[1]);
    expect(stored).not.toContain(ADMIN_TOKEN);
    const sessionKeys = await t.hub.redis.keys(`${t.hub.config.redis.prefix}:admin:session:*`);
    expect(sessionKeys).toHaveLength(2);
    for (const k of sessionKeys) {
      const ttl = await t.hub.redis.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(12 * 3600 * 1000);
    }

    expect((await app.request('/api/pipelines', { headers: { cookie: a.cookie } })).status).toBe(200);
    const out = await app.request('/admin/logout', { method: 'POST', headers: { cookie: a.cookie, ...SAME_ORIGIN } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/synchub_admin=;.*Max-Age=0/);
    // The old cookie, kept and sent again, no longer opens anything.
    expect((await app.request('/api/pipelines', { headers: { cookie: a.cookie } })).status).toBe(401);
    expect((await app.request('/admin/queues', { headers: { cookie: a.cookie } })).status).toBe(401);
    expect((await app.request('/admin', { headers: { cookie: a.cookie } })).headers.get('location')).toBe('/admin/login');
    // The other login is untouched.
    expect((await app.request('/api/pipelines', { headers: { cookie: b.cookie } })).status).toBe(200);
    expect(await t.hub.redis.keys(`${t.hub.config.redis.prefix}:admin:session:*`)).toHaveLength(1);
  });

  it('ends every session when the admin token changes', async () => {
    t = await openTestHub(config());
    const { cookie } = await login(createApp(t.hub));
    const rotated = testConfig({
      server: { adminToken: `${ADMIN_TOKEN}-rotated` },
      redis: { url: t.hub.redisAddress as string, prefix: t.hub.config.redis.prefix },
      connections: { shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } } },
      pipelines: {},
    });
    t2 = await openTestHub(rotated);
    expect((await createApp(t2.hub).request('/api/pipelines', { headers: { cookie } })).status).toBe(401);
  });

  it('sets Secure when the public URL is https or a trusted proxy says https, not for an untrusted header', async () => {
    t = await openTestHub(config({ publicUrl: 'https://hub.example.com' }));
    expect((await login(createApp(t.hub))).setCookie).toMatch(/; Secure/);
    await t.close();

    t = await openTestHub(config({ trustProxy: true }));
    expect((await login(createApp(t.hub), { 'x-forwarded-proto': 'https' })).setCookie).toMatch(/; Secure/);
    expect((await login(createApp(t.hub))).setCookie).not.toMatch(/Secure/);
    await t.close();

    t = await openTestHub(config());
    expect((await login(createApp(t.hub), { 'x-forwarded-proto': 'https' })).setCookie).not.toMatch(/Secure/);
  });

  it('throttles failed logins per client address: 429 with Retry-After, the right token too, until the minute is over', async () => {
    t = await openTestHub(config());
    server = await startServer(t.hub, { port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${server.port}`;
    const post = (token: string, headers: Record<string, string> = {}) => fetch(`${base}/admin/login`, { ...form(token, headers), redirect: 'manual' });
    for (let i = 0; i < 10; i++) {
      const res = await post(`wrong-${i}`, { 'x-forwarded-for': `198.51.100.${i}` }); // not trusted: ignored
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/admin/login?failed=1');
    }
    const throttled = await post(ADMIN_TOKEN);
    expect(throttled.status).toBe(429);
    const wait = Number(throttled.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    expect(throttled.headers.get('set-cookie')).toBeNull();
    expect(await throttled.text()).toMatch(/Too many failed attempts/);
    // Guessing through the API's bearer header counts the same, and is throttled the same.
    const api = await fetch(`${base}/api/pipelines`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(api.status).toBe(429);
    expect((await api.json()).error.code).toBe('too_many_requests');
    // The address is not kept in plaintext.
    expect([...(await dumpPrefix(t.hub.redis, t.hub.config.redis.prefix)).values()].join('\n')).not.toContain('127.0.0.1');
  });

  it('behind a trusted proxy counts the client X-Forwarded-For names, each apart', async () => {
    t = await openTestHub(config({ trustProxy: true }));
    server = await startServer(t.hub, { port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${server.port}`;
    const post = (token: string, client: string) => fetch(`${base}/admin/login`, { ...form(token, { 'x-forwarded-for': client }), redirect: 'manual' });
    // The proxy appends the address it saw; what a client wrote before it is not believed.
    for (let i = 0; i < 10; i++) expect((await post('wrong', `10.9.9.${i}, 203.0.113.7`)).status).toBe(303);
    expect((await post(ADMIN_TOKEN, '203.0.113.7')).status).toBe(429);
    const other = await post(ADMIN_TOKEN, '203.0.113.8');
    expect(other.status).toBe(303);
    expect(other.headers.get('location')).toBe('/admin');
  });
});
