import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testConfig } from '../../helpers/hub.js';
import { webhooksCli } from '../../helpers/webhook-subscriptions.js';

/**
 * Shapes from developer.paypal.com/api/webhooks/v1: list `{ webhooks: [{ id, url, event_types:
 * [{ name, description, status }], links }] }`, create 201 with the webhook, update by JSON Patch
 * replacing /event_types, errors `{ name, message, debug_id, details, links }` (WEBHOOK_URL_ALREADY_EXISTS,
 * WEBHOOK_NUMBER_LIMIT_EXCEEDED).
 */
const API = 'https://api-m.sandbox.paypal.com';
const HUB = 'https://hub.example.com/webhooks/pp';
const EVENTS = ['PAYMENT.CAPTURE.COMPLETED', 'PAYMENT.CAPTURE.DENIED', 'PAYMENT.CAPTURE.REFUNDED', 'PAYMENT.CAPTURE.PENDING', 'CHECKOUT.ORDER.APPROVED'];

interface Hook { id: string; url: string; event_types: { name: string }[] }

const webhook = (h: Hook) => ({
  ...h,
  event_types: h.event_types.map((e) => ({ name: e.name, description: `${e.name} event`, status: 'ENABLED' })),
  links: [{ href: `${API}/v1/notifications/webhooks/${h.id}`, rel: 'self', method: 'GET' }],
});

function config(webhookId?: string) {
  return testConfig({
    server: { publicUrl: 'https://hub.example.com' },
    connections: {
      pp: { connector: 'paypal', baseUrl: API, credentials: { clientId: 'AYSq3', clientSecret: 'EGnHD', ...(webhookId ? { webhookId } : {}) } },
      crm: { connector: 'hubspot', baseUrl: 'https://api.hubapi.com', credentials: { accessToken: 'pat-x' } },
    },
    pipelines: { payments: { source: { connection: 'pp', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
  });
}

function mockPaypal(hooks: Hook[], opts: { limit?: boolean } = {}) {
  const writes: { method: string; path: string; body: any }[] = [];
  nock(API).persist().post('/v1/oauth2/token').reply(200, { scope: 'https://uri.paypal.com/services/applications/webhooks', access_token: 'A21AAFEpH4PsADK7qSS7pSRsgzfENtu-Q1ysgEDVDESseMHBYXVJYE8ovjj68elIDy8nF26AwPhfXTIeWAZHSLIsQkSYz9ifg', token_type: 'Bearer', app_id: 'APP-80W284485P519543T', expires_in: 31668, nonce: '2020-04-03T15:35:36ZaYZlGvEkV4yVSz8g6bAKFoGSEzuy3CQcz3ljhibkOHg' });
  nock(API).persist().get('/v1/notifications/webhooks').query({ anchor_type: 'APPLICATION' }).reply(() => [200, { webhooks: hooks.map(webhook) }]);
  nock(API).persist().post('/v1/notifications/webhooks').reply((_u, body: any) => {
    writes.push({ method: 'POST', path: '/v1/notifications/webhooks', body });
    if (opts.limit) return [400, { name: 'WEBHOOK_NUMBER_LIMIT_EXCEEDED', message: 'Maximum number of allowed webhooks has been reached.', debug_id: '90cb2fb4f6b9e', details: [], links: [] }];
    const h = { id: `8PT597110X687430LKGECATA${hooks.length}`, url: body.url, event_types: body.event_types };
    hooks.push(h);
    return [201, webhook(h)];
  });
  nock(API).persist().patch(/\/v1\/notifications\/webhooks\/.+/).reply((uri, body: any) => {
    writes.push({ method: 'PATCH', path: uri, body });
    const h = hooks.find((x) => uri.endsWith(x.id))!;
    h.event_types = body[0].value;
    return [200, webhook(h)];
  });
  return writes;
}

describe('synchub webhooks for paypal', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('creates the webhook with the payment events and says where its id goes; a second run creates nothing', async () => {
    const hooks: Hook[] = [];
    const writes = mockPaypal(hooks);
    const first = await webhooksCli(config(), 'subscribe', 'pp');
    expect(first.error).toBe('');
    expect(writes).toEqual([{ method: 'POST', path: '/v1/notifications/webhooks', body: { url: HUB, event_types: EVENTS.map((name) => ({ name })) } }]);
    expect(first.out).toMatch(/created +PAYMENT\.CAPTURE\.COMPLETED,.* +8PT597110X687430LKGECATA0/);
    expect(first.out).toContain('note: put 8PT597110X687430LKGECATA0 in connections.pp.credentials.webhookId');

    writes.length = 0;
    const second = await webhooksCli(config('8PT597110X687430LKGECATA0'), 'subscribe', 'pp');
    expect(second.code).toBe(0);
    expect(writes).toEqual([]);
    expect(second.out).not.toContain('note:');
    expect(second.out).toContain('created 0, updated 0, renewed 0, already there 1');
  });

  it("missing events are added to the hub's webhook by JSON Patch (PayPal allows one webhook per URL)", async () => {
    const hooks: Hook[] = [{ id: 'WH1', url: HUB, event_types: [{ name: 'PAYMENT.CAPTURE.COMPLETED' }] }];
    const writes = mockPaypal(hooks);
    const out = await webhooksCli(config('WH-OLD'), 'subscribe', 'pp');
    expect(out.error).toBe('');
    expect(writes).toEqual([{ method: 'PATCH', path: '/v1/notifications/webhooks/WH1', body: [{ op: 'replace', path: '/event_types', value: EVENTS.map((name) => ({ name })) }] }]);
    expect(out.out).toContain('note: put WH1 in connections.pp.credentials.webhookId (it now holds WH-OLD, another webhook)');
  });

  it("PayPal's refusal is a clear error with a non-zero exit", async () => {
    mockPaypal([{ id: 'WH9', url: 'https://other.example.com/pp', event_types: [{ name: '*' }] }], { limit: true });
    const out = await webhooksCli(config(), 'subscribe', 'pp');
    expect(out.code).not.toBe(0);
    expect(out.error).toBe('remote_rejected: pp: POST /v1/notifications/webhooks answered 400: WEBHOOK_NUMBER_LIMIT_EXCEEDED: Maximum number of allowed webhooks has been reached.');
  });

  it('list shows the webhooks and the missing events', async () => {
    mockPaypal([{ id: 'WH9', url: 'https://other.example.com/pp', event_types: [{ name: '*' }] }]);
    const out = await webhooksCli(config(), 'list', 'pp');
    expect(out.code).toBe(0);
    expect(out.out).toMatch(/elsewhere +\* +WH9 +→ https:\/\/other\.example\.com\/pp/);
    expect(out.out).toContain(`missing: ${EVENTS.join(', ')}`);
  });
});
