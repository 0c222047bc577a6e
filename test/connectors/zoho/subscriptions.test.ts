import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZOHO_CHANNEL_MS } from '../../../src/connectors/zoho/subscriptions.js';
import { testConfig } from '../../helpers/hub.js';
import { webhooksCli } from '../../helpers/webhook-subscriptions.js';

/**
 * Shapes from zoho.com/crm/developer/docs/api/v8/notifications (enable, get details): the list is
 * `{ watch: [...] }` with one entry per module of a channel (channel_id, events, notify_url,
 * channel_expiry, resource_name, token, …) or 204 with no body when there is none; enabling answers
 * `{ watch: [{ code: "SUCCESS", details: { events: [...] }, message, status: "success" }] }`, or an
 * error entry `{ code, details, message, status: "error" }`.
 */
const ACCOUNTS = 'https://accounts.zoho.com';
const API = 'https://www.zohoapis.com';
const HUB = 'https://hub.example.com/webhooks/zcrm';
const TOKEN = 'zoho-notify-token-31f0';

function config(credentials: Record<string, string> = { clientId: '1000.ABC', clientSecret: 'sec', refreshToken: '1000.refresh', notificationToken: TOKEN }) {
  return testConfig({
    server: { publicUrl: 'https://hub.example.com' },
    connections: {
      zcrm: { connector: 'zoho', baseUrl: API, orderModule: 'Deals', credentials },
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat_x' } },
    },
    pipelines: {
      contacts: { source: { connection: 'zcrm', entity: 'customer' }, targets: [{ connection: 'shop', entity: 'customer' }], webhooks: true },
      deals: { source: { connection: 'zcrm', entity: 'order' }, targets: [{ connection: 'shop', entity: 'order' }], webhooks: true },
    },
  });
}

interface Channel { channel_id: string; events: string[]; notify_url: string; channel_expiry: string }

function mockZoho(chans: Channel[], opts: { refuse?: boolean } = {}) {
  const posts: any[] = [];
  nock(ACCOUNTS).persist().post('/oauth/v2/token').reply(200, { access_token: '1000.tok', api_domain: API, token_type: 'Bearer', expires_in: 3600 });
  nock(API).persist().get('/crm/v8/actions/watch').reply(() => {
    if (!chans.length) return [204, ''];
    // One entry per module of a channel, as Zoho lists them; each carries the channel's token.
    const watch = chans.flatMap((c) => [...new Set(c.events.map((e) => e.split('.')[0]))].map((module) => ({
      notify_on_related_action: false, channel_expiry: c.channel_expiry, return_affected_field_values: false,
      resource_uri: `${API}/crm/v8/${module}`, resource_id: '554023000000000125', notify_url: c.notify_url, resource_name: module,
      // A module's .all is listed as its three operations, as in Zoho's "get notification details" example.
      fields: null, channel_id: c.channel_id, events: c.events.filter((e) => e.startsWith(`${module}.`)).flatMap((e) => (e.endsWith('.all') ? ['edit', 'create', 'delete'].map((op) => `${module}.${op}`) : [e])), token: TOKEN,
    })));
    return [200, { watch }];
  });
  nock(API).persist().post('/crm/v8/actions/watch').reply((_u, body: any) => {
    posts.push(body);
    if (opts.refuse) return [400, { watch: [{ code: 'INVALID_DATA', details: { api_name: 'notify_url' }, message: 'invalid notify url', status: 'error' }] }];
    const w = body.watch[0];
    const existing = chans.find((c) => c.channel_id === String(w.channel_id));
    if (existing) Object.assign(existing, { events: w.events, channel_expiry: w.channel_expiry, notify_url: w.notify_url });
    else chans.push({ channel_id: String(w.channel_id), events: w.events, notify_url: w.notify_url, channel_expiry: w.channel_expiry });
    return [200, { watch: [{ code: 'SUCCESS', details: { events: w.events.map((e: string) => ({ channel_expiry: w.channel_expiry, resource_uri: `${API}/crm/v8/${e.split('.')[0]}`, resource_id: '554023000000000125', resource_name: e.split('.')[0], channel_id: w.channel_id })) }, message: 'Successfully subscribed for actions-watch of the given module', status: 'success' }] }];
  });
  return posts;
}

describe('synchub webhooks for zoho', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('enables one channel for the modules the pipelines need, with the token (never printed), and says when it expires', async () => {
    const chans: Channel[] = [];
    const posts = mockZoho(chans);
    const before = Date.now();
    const out = await webhooksCli(config(), 'subscribe', 'zcrm');
    expect(out.error).toBe('');
    expect(posts).toHaveLength(1);
    const w = posts[0].watch[0];
    expect(w).toMatchObject({ events: ['Contacts.all', 'Deals.all'], notify_url: HUB, token: TOKEN, notify_on_related_action: false });
    expect(String(w.channel_id)).toMatch(/^\d+$/);
    // Within Zoho's one-week maximum.
    const expiry = Date.parse(w.channel_expiry);
    expect(expiry - before).toBeGreaterThan(ZOHO_CHANNEL_MS - 60_000);
    expect(expiry - before).toBeLessThan(7 * 24 * 3600_000);
    expect(out.out).toMatch(/created +Contacts\.all,Deals\.all/);
    expect(out.out).toContain(`expires at ${w.channel_expiry}: run \`synchub webhooks subscribe zcrm\` again before then`);
    expect(out.out).not.toContain(TOKEN);
  });

  it('a re-run renews the same channel (same id, same events plus the missing ones) instead of adding one', async () => {
    const chans: Channel[] = [{ channel_id: '1000000068001', events: ['Contacts.all', 'Leads.all'], notify_url: HUB, channel_expiry: '2026-12-07T10:00:00+00:00' }];
    const posts = mockZoho(chans);
    const out = await webhooksCli(config(), 'subscribe', 'zcrm');
    expect(out.error).toBe('');
    expect(posts[0].watch[0]).toMatchObject({ channel_id: '1000000068001', events: ['Contacts.all', 'Leads.all', 'Deals.all'] });
    expect(out.out).toMatch(/updated +Contacts\.all,Leads\.all,Deals\.all +1000000068001/);
    expect(out.out).toMatch(/unneeded +Leads\.all +1000000068001/);

    posts.length = 0;
    const again = await webhooksCli(config(), 'subscribe', 'zcrm');
    expect(posts).toHaveLength(1);
    expect(posts[0].watch[0].channel_id).toBe('1000000068001');
    expect(again.out).toContain('created 0, updated 0, renewed 1');
    expect(chans).toHaveLength(1);
  });

  it('list shows channels (one line per channel, its expiry) and never the token', async () => {
    mockZoho([{ channel_id: '77', events: ['Contacts.all', 'Deals.all'], notify_url: HUB, channel_expiry: '2026-12-08T10:00:00+00:00' }]);
    const out = await webhooksCli(config(), 'list', 'zcrm');
    expect(out.code).toBe(0);
    expect(out.out).toContain('zcrm (zoho): 1 subscription(s)');
    expect(out.out).toMatch(/hub +Contacts\.all,Deals\.all +77 +expires 2026-12-08T10:00:00\+00:00/);
    expect(out.out).not.toContain(TOKEN);
  });

  it("Zoho's refusal is a clear error; a missing notificationToken names its path before anything is sent", async () => {
    const posts = mockZoho([], { refuse: true });
    const refused = await webhooksCli(config(), 'subscribe', 'zcrm');
    expect(refused.code).not.toBe(0);
    expect(refused.error).toBe('remote_rejected: zcrm: POST /actions/watch refused: INVALID_DATA: invalid notify url');
    posts.length = 0;
    const noToken = await webhooksCli(config({ clientId: '1000.ABC', clientSecret: 'sec', refreshToken: '1000.refresh' }), 'subscribe', 'zcrm');
    expect(noToken.error).toContain('connections.zcrm.credentials.notificationToken: is required to subscribe');
    expect(posts).toEqual([]);
  });
});
