import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testConfig } from '../../helpers/hub.js';
import { webhooksCli } from '../../helpers/webhook-subscriptions.js';

/**
 * Shapes from developers.hubspot.com, legacy webhooks API v3 (legacy public apps, `?hapikey=`):
 * settings `{ createdAt, targetUrl, throttling: { maxConcurrentRequests, period }, updatedAt }`,
 * subscriptions `{ results: [{ active, createdAt, eventType, id, propertyName?, updatedAt }] }`,
 * errors `{ status: "error", message, correlationId, category }`.
 */
const API = 'https://api.hubapi.com';
const HUB = 'https://hub.example.com/webhooks/crm';
const KEY = 'dev-api-key-9e1c';
const APP = '1234567';

function config(over: { appId?: string | null; key?: string | null; properties?: Record<string, string[]> } = {}) {
  return testConfig({
    server: { publicUrl: 'https://hub.example.com' },
    connections: {
      crm: {
        connector: 'hubspot', baseUrl: API,
        ...(over.appId === null ? {} : { appId: over.appId ?? APP }),
        properties: over.properties ?? { customer: ['email', 'firstname', 'lastmodifieddate'] },
        credentials: { accessToken: 'pat-x', clientSecret: 'app-secret', ...(over.key === null ? {} : { developerApiKey: over.key ?? KEY }) },
      },
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat_x' } },
    },
    pipelines: { contacts: { source: { connection: 'crm', entity: 'customer' }, targets: [{ connection: 'shop', entity: 'customer' }], webhooks: true } },
  });
}

interface Sub { id: string; eventType: string; propertyName?: string; active: boolean }

function mockApp(state: { targetUrl?: string; subs: Sub[] }) {
  const writes: { method: string; path: string; body: any }[] = [];
  const scope = nock(API).persist();
  scope.get(`/webhooks/v3/${APP}/settings`).query({ hapikey: KEY }).reply(() =>
    state.targetUrl
      ? [200, { createdAt: '2026-01-24T16:27:59Z', targetUrl: state.targetUrl, throttling: { maxConcurrentRequests: 10, period: 'SECONDLY' }, updatedAt: '2026-01-24T16:32:43Z' }]
      : [404, { status: 'error', message: 'No settings found for app', correlationId: 'b2a2-1', category: 'OBJECT_NOT_FOUND' }]);
  scope.put(`/webhooks/v3/${APP}/settings`).query({ hapikey: KEY }).reply((_u, body: any) => {
    writes.push({ method: 'PUT', path: 'settings', body });
    state.targetUrl = body.targetUrl;
    return [200, { createdAt: '2026-12-06T17:00:00Z', ...body, updatedAt: '2026-12-06T17:00:00Z' }];
  });
  scope.get(`/webhooks/v3/${APP}/subscriptions`).query({ hapikey: KEY }).reply(() => [200, { results: state.subs.map((s) => ({ ...s, createdAt: '2026-10-30T03:30:17.883Z', updatedAt: '2026-11-30T03:30:17.883Z' })) }]);
  scope.post(`/webhooks/v3/${APP}/subscriptions`).query({ hapikey: KEY }).reply((_u, body: any) => {
    writes.push({ method: 'POST', path: 'subscriptions', body });
    const s = { id: String(100 + state.subs.length), ...body };
    state.subs.push(s);
    return [201, { ...s, createdAt: '2026-12-06T17:00:00Z', updatedAt: '2026-12-06T17:00:00Z' }];
  });
  return writes;
}

describe('synchub webhooks for hubspot', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('legacy public app: sets the app target URL when unset and creates the missing subscriptions; a second run creates nothing', async () => {
    const state = { subs: [{ id: '12', eventType: 'contact.creation', active: true }] as Sub[] };
    const writes = mockApp(state);
    const out = await webhooksCli(config(), 'subscribe', 'crm');
    expect(out.error).toBe('');
    expect(writes).toEqual([
      { method: 'PUT', path: 'settings', body: { targetUrl: HUB, throttling: { maxConcurrentRequests: 10 } } },
      { method: 'POST', path: 'subscriptions', body: { eventType: 'contact.deletion', active: true } },
      { method: 'POST', path: 'subscriptions', body: { eventType: 'contact.propertyChange', propertyName: 'email', active: true } },
      { method: 'POST', path: 'subscriptions', body: { eventType: 'contact.propertyChange', propertyName: 'firstname', active: true } },
    ]);
    expect(out.out).toContain(`note: set app ${APP}'s webhook target URL to ${HUB}`);
    expect(out.out).not.toContain(KEY);

    writes.length = 0;
    const again = await webhooksCli(config(), 'subscribe', 'crm');
    expect(again.code).toBe(0);
    expect(writes).toEqual([]);
    expect(again.out).toContain('created 0, updated 0, renewed 0, already there 4');
  });

  it('an app whose one target URL points elsewhere is a clear error, and nothing is created or moved', async () => {
    const state = { targetUrl: 'https://crm-sync.example.org/hooks', subs: [{ id: '12', eventType: 'contact.creation', active: true }] as Sub[] };
    const writes = mockApp(state);
    const list = await webhooksCli(config(), 'list', 'crm');
    expect(list.out).toMatch(/elsewhere +contact\.creation +12 +active +→ https:\/\/crm-sync\.example\.org\/hooks/);
    const out = await webhooksCli(config(), 'subscribe', 'crm');
    expect(out.code).not.toBe(0);
    expect(out.error).toContain(`remote_rejected: crm: HubSpot app ${APP} delivers every webhook to https://crm-sync.example.org/hooks, and an app has one target URL`);
    expect(writes).toEqual([]);
  });

  it('without a legacy public app (no appId / developer key) the command is not_supported and says how to do it', async () => {
    const out = await webhooksCli(config({ appId: null, key: null }), 'subscribe', 'crm');
    expect(out.code).not.toBe(0);
    expect(out.error).toMatch(/^not_supported: webhook subscriptions of connection crm through the HubSpot API is not supported: HubSpot has a webhooks API only for legacy public apps/);
    expect(out.error).toContain('webhooks-hsmeta.json');
    expect(out.error).toContain('Service Keys have no webhooks');
    // The how-to names this connection's own URL.
    expect(out.error).toContain(`settings.targetUrl = ${HUB}`);
  });
});
