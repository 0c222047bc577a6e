import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testConfig } from '../../helpers/hub.js';
import { webhooksCli } from '../../helpers/webhook-subscriptions.js';

/**
 * Shapes from developer.woocommerce.com/docs/apis/rest-api/v3/webhooks: the webhook object
 * (id, name, status, topic, resource, event, hooks, delivery_url, dates, _links; the secret is
 * write-only), lists paged with X-WP-Total / X-WP-TotalPages, WordPress's rest_invalid_param error.
 */
const STORE = 'https://store.example.com';
const API = '/wp-json/wc/v3';
const HUB = 'https://hub.example.com/webhooks/woo';
const SECRET = 'woo-delivery-secret-7f3a';

interface Hook { id: number; name: string; status: string; topic: string; delivery_url: string }

function webhookObject(h: Hook) {
  const [resource, event] = h.topic.split('.');
  return {
    ...h, resource, event, hooks: [`woocommerce_${event}_${resource}`],
    date_created: '2026-11-02T10:00:00', date_created_gmt: '2026-11-02T10:00:00', date_modified: '2026-11-02T10:00:00', date_modified_gmt: '2026-11-02T10:00:00',
    _links: { self: [{ href: `${STORE}${API}/webhooks/${h.id}` }], collection: [{ href: `${STORE}${API}/webhooks` }] },
  };
}

function config(credentials: Record<string, string> = { consumerKey: 'ck_x', consumerSecret: 'cs_x', webhookSecret: SECRET }) {
  return testConfig({
    server: { publicUrl: 'https://hub.example.com' },
    connections: {
      woo: { connector: 'woocommerce', baseUrl: STORE, credentials },
      crm: { connector: 'hubspot', baseUrl: 'https://api.hubapi.com', credentials: { accessToken: 'pat-x' } },
    },
    pipelines: { orders: { source: { connection: 'woo', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
  });
}

function mockStore(hooks: Hook[], opts: { perPage?: number; refuseUrl?: boolean } = {}) {
  const posted: Record<string, any>[] = [];
  nock(STORE).persist().get(`${API}/webhooks`).query(true).reply((uri) => {
    const q = new URL(uri, STORE).searchParams;
    const per = opts.perPage ?? Number(q.get('per_page'));
    const page = Number(q.get('page'));
    const total = Math.max(1, Math.ceil(hooks.length / per));
    return [200, hooks.slice((page - 1) * per, page * per).map(webhookObject), { 'X-WP-Total': String(hooks.length), 'X-WP-TotalPages': String(total) }];
  });
  nock(STORE).persist().post(`${API}/webhooks`).reply((_uri, body: any) => {
    posted.push(body);
    if (opts.refuseUrl) {
      return [400, { code: 'rest_invalid_param', message: 'Invalid parameter(s): delivery_url', data: { status: 400, params: { delivery_url: 'delivery_url is not a valid URL.' }, details: { delivery_url: { code: 'rest_invalid_url', message: 'Invalid URL.', data: null } } } }];
    }
    const h = { id: 200 + hooks.length, name: body.name, status: body.status ?? 'active', topic: body.topic, delivery_url: body.delivery_url };
    hooks.push(h);
    return [201, webhookObject(h)];
  });
  return posted;
}

describe('synchub webhooks for woocommerce', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('subscribe creates the missing order topics with the connection secret (never printed); a second run creates nothing', async () => {
    const hooks: Hook[] = [
      { id: 11, name: 'synchub woo order.created', status: 'active', topic: 'order.created', delivery_url: HUB },
      { id: 12, name: 'Zapier', status: 'active', topic: 'order.updated', delivery_url: 'https://hooks.zapier.com/hooks/catch/1/abc' },
      { id: 13, name: 'old', status: 'disabled', topic: 'product.updated', delivery_url: HUB },
    ];
    const posted = mockStore(hooks, { perPage: 2 });
    const cfg = config();
    const first = await webhooksCli(cfg, 'subscribe', 'woo');
    expect(first.error).toBe('');
    expect(posted.map((p) => p.topic)).toEqual(['order.updated', 'order.deleted', 'order.restored']);
    expect(posted[0]).toEqual({ name: 'synchub woo order.updated', topic: 'order.updated', delivery_url: HUB, secret: SECRET, status: 'active' });
    expect(first.out).toMatch(/created +order\.updated +203 +active/);
    expect(first.out).toMatch(/exists +order\.created +11/);
    expect(first.out).toMatch(/elsewhere +order\.updated +12 .*→ https:\/\/hooks\.zapier\.com/);
    expect(first.out).toMatch(/unneeded +product\.updated +13/);
    expect(first.out).not.toContain(SECRET);

    posted.length = 0;
    const second = await webhooksCli(cfg, 'subscribe', 'woo');
    expect(second.code).toBe(0);
    expect(posted).toEqual([]);
    expect(second.out).toContain('created 0, updated 0, renewed 0, already there 5');
  });

  it('list shows every webhook of the store with its status and what is missing', async () => {
    mockStore([{ id: 11, name: 'x', status: 'paused', topic: 'order.created', delivery_url: HUB }]);
    const out = await webhooksCli(config(), 'list', 'woo');
    expect(out.code).toBe(0);
    expect(out.out).toMatch(/hub +order\.created +11 +paused/);
    expect(out.out).toContain('missing: order.updated, order.deleted, order.restored');
  });

  it('a delivery URL WooCommerce refuses is a clear error with a non-zero exit', async () => {
    mockStore([], { refuseUrl: true });
    const out = await webhooksCli(config(), 'subscribe', 'woo');
    expect(out.code).not.toBe(0);
    expect(out.error).toBe('remote_rejected: woo: POST /webhooks answered 400: rest_invalid_param: Invalid parameter(s): delivery_url');
    expect(out.error).not.toContain(SECRET);
  });

  it('without credentials.webhookSecret nothing is created and the error names the path', async () => {
    const posted = mockStore([]);
    const out = await webhooksCli(config({ consumerKey: 'ck_x', consumerSecret: 'cs_x' }), 'subscribe', 'woo');
    expect(out.code).not.toBe(0);
    expect(out.error).toContain('connections.woo.credentials.webhookSecret: is required to subscribe');
    expect(posted).toEqual([]);
  });
});
