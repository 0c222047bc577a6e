import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { openTestHub, testConfig, type TestHub } from '../helpers/hub.js';

function config(server: Record<string, unknown>) {
  return testConfig({
    server,
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
  });
}

const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` });

describe('queue dashboard and login', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('is not there without an admin token', async () => {
    t = await openTestHub(config({}));
    const app = createApp(t.hub);
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/login']) {
      expect((await app.request(path, { headers: basic(ADMIN_TOKEN) })).status).toBe(404);
    }
  });

  it('asks for basic auth, shows every queue read-only to the token, and refuses changes', async () => {
    t = await openTestHub(config({ adminToken: ADMIN_TOKEN }));
    await t.hub.pushQueue('crm').add('push', { pipeline: 'orders' }, { delay: 60_000 });
    const app = createApp(t.hub);
    const anonymous = await app.request('/admin/queues');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="synchub admin"/);
    expect((await app.request('/admin/queues', { headers: basic('wrong') })).status).toBe(401);

    const page = await app.request('/admin/queues', { headers: basic(ADMIN_TOKEN) });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('synchub queues (read-only)');
    const api = await app.request('/admin/queues/api/queues?activeQueue=%7Bpush-crm%7D&status=delayed', { headers: basic(ADMIN_TOKEN) });
    const body = await api.json();
    expect(body.queues.map((q: any) => q.name).sort()).toEqual(['{ingest}', '{notify}', '{pull}', '{push-crm}', '{push-flush}']);
    const crm = body.queues.find((q: any) => q.name === '{push-crm}');
    expect(crm).toMatchObject({ readOnlyMode: true, counts: { delayed: 1 } });

    const job = crm.jobs[0];
    const remove = await app.request(`/admin/queues/api/queues/%7Bpush-crm%7D/${job.id}/clean`, { method: 'PUT', headers: basic(ADMIN_TOKEN) });
    expect(remove.status).toBe(405);
    expect(await t.hub.pushQueue('crm').getDelayedCount()).toBe(1);
  });

  it('lets a writable dashboard change jobs', async () => {
    t = await openTestHub(config({ adminToken: ADMIN_TOKEN, dashboardWritable: true }));
    const job = await t.hub.pushQueue('crm').add('push', { pipeline: 'orders' }, { delay: 60_000 });
    const app = createApp(t.hub);
    const res = await app.request(`/admin/queues/api/queues/%7Bpush-crm%7D/${job.id}/promote`, { method: 'PUT', headers: basic(ADMIN_TOKEN) });
    expect(res.status).toBe(204);
    expect(await t.hub.pushQueue('crm').getDelayedCount()).toBe(0);
  });

  it('logs in with the token through the form: the cookie opens the dashboard and the API, and holds no token', async () => {
    t = await openTestHub(config({ adminToken: ADMIN_TOKEN }));
    const app = createApp(t.hub);
    expect(await (await app.request('/admin/login')).text()).toContain('name="token"');
    const form = (token: string) => ({ method: 'POST', body: new URLSearchParams({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const wrong = await app.request('/admin/login', form('nope'));
    expect(wrong.status).toBe(303);
    expect(wrong.headers.get('location')).toBe('/admin/login?failed=1');
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const ok = await app.request('/admin/login', form(ADMIN_TOKEN));
    expect(ok.headers.get('location')).toBe('/admin');
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(ADMIN_TOKEN);
    const session = cookie.split(';')[0];
    expect((await app.request('/admin/queues', { headers: { cookie: session } })).status).toBe(200);
    expect((await app.request('/api/pipelines', { headers: { cookie: session } })).status).toBe(200);
    expect((await app.request('/api/pipelines', { headers: { cookie: 'synchub_admin=forged' } })).status).toBe(401);
  });
});
