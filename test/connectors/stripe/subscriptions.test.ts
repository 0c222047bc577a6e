import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testConfig } from '../../helpers/hub.js';
import { webhooksCli } from '../../helpers/webhook-subscriptions.js';

/**
 * Shapes from docs.stripe.com/api/webhook_endpoints: the endpoint object (id we_…, object
 * "webhook_endpoint", api_version, enabled_events, livemode, metadata, status, url; `secret`
 * only in the answer that creates it), lists `{ object: "list", data, has_more, url }`, errors
 * `{ error: { type, message, param } }`, form-encoded writes.
 */
const STRIPE = 'https://api.stripe.com';
const HUB = 'https://hub.example.com/webhooks/pay';
const WHSEC = 'whsec_wRNftLajMZNeslQOP6vEPm4iVx5NlZ6z';
const EVENTS = ['payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled', 'charge.refunded', 'charge.refund.updated'];

interface Ep { id: string; url: string; enabled_events: string[]; status: string }

const endpoint = (e: Ep) => ({ ...e, object: 'webhook_endpoint', api_version: null, application: null, created: 1764000000, description: null, livemode: false, metadata: {} });

function config() {
  return testConfig({
    server: { publicUrl: 'https://hub.example.com' },
    connections: {
      pay: { connector: 'stripe', baseUrl: STRIPE, credentials: { secretKey: 'sk_test_x' } },
      crm: { connector: 'hubspot', baseUrl: 'https://api.hubapi.com', credentials: { accessToken: 'pat-x' } },
    },
    pipelines: { payments: { source: { connection: 'pay', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
  });
}

function mockStripe(eps: Ep[], opts: { refuse?: boolean } = {}) {
  const writes: { path: string; form: URLSearchParams; key?: string }[] = [];
  nock(STRIPE).persist().get('/v1/webhook_endpoints').query(true).reply((uri) => {
    const q = new URL(uri, STRIPE).searchParams;
    const after = q.get('starting_after');
    const start = after ? eps.findIndex((e) => e.id === after) + 1 : 0;
    const page = eps.slice(start, start + 1); // one a page, to walk has_more
    return [200, { object: 'list', url: '/v1/webhook_endpoints', has_more: start + 1 < eps.length, data: page.map(endpoint) }];
  });
  nock(STRIPE).persist().post(/\/v1\/webhook_endpoints.*/).reply(function (uri, body) {
    const form = new URLSearchParams(String(body));
    writes.push({ path: uri, form, key: this.req.headers['idempotency-key'] as string | undefined });
    if (opts.refuse) return [400, { error: { type: 'invalid_request_error', message: 'Invalid URL: URL must be publicly accessible.', param: 'url' } }];
    const events = [...form.entries()].filter(([k]) => k.startsWith('enabled_events[')).map(([, v]) => v);
    const id = uri.split('/')[3];
    if (id) {
      const ep = eps.find((e) => e.id === id)!;
      ep.enabled_events = events;
      return [200, endpoint(ep)];
    }
    const ep = { id: `we_${eps.length + 1}Mr5jULkdIwHu7ix`, url: form.get('url')!, enabled_events: events, status: 'enabled' };
    eps.push(ep);
    return [200, { ...endpoint(ep), secret: WHSEC }];
  });
  return writes;
}

describe('synchub webhooks for stripe', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('creates one endpoint with the payment events and writes its secret to the named file (0600), never to the output', async () => {
    const eps: Ep[] = [{ id: 'we_other', url: 'https://erp.example.com/stripe', enabled_events: ['invoice.paid'], status: 'enabled' }];
    const writes = mockStripe(eps);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'synchub-stripe-')), 'whsec.txt');
    const out = await webhooksCli(config(), 'subscribe', 'pay', { secretFile: file });
    expect(out.error).toBe('');
    expect(writes).toHaveLength(1);
    expect(writes[0].path).toBe('/v1/webhook_endpoints');
    expect(writes[0].form.get('url')).toBe(HUB);
    expect([...writes[0].form.entries()].filter(([k]) => k.startsWith('enabled_events')).map(([, v]) => v)).toEqual(EVENTS);
    expect(writes[0].form.get('api_version')).toBe('2026-11-18.endive');
    expect(writes[0].key).toMatch(/^synchub-webhook-/);
    expect(readFileSync(file, 'utf8')).toBe(`${WHSEC}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(out.out).not.toContain(WHSEC);
    expect(out.out).toContain(`the signing secret is in ${file} (mode 0600): put it in connections.pay.credentials.webhookSecret`);
    expect(out.out).toMatch(/elsewhere +invoice\.paid +we_other/);

    // Second run: the endpoint is there with every event; nothing is written, and the file is not needed.
    writes.length = 0;
    const again = await webhooksCli(config(), 'subscribe', 'pay');
    expect(again.code).toBe(0);
    expect(writes).toEqual([]);
    expect(again.out).toContain('created 0, updated 0, renewed 0, already there 1');
  });

  it('refuses to create an endpoint when the secret would have nowhere to go; --print-secret prints it once', async () => {
    const eps: Ep[] = [];
    const writes = mockStripe(eps);
    const refused = await webhooksCli(config(), 'subscribe', 'pay');
    expect(refused.code).not.toBe(0);
    expect(refused.error).toMatch(/invalid_request: Stripe returns a new endpoint’s signing secret only once.*--secret-file PATH.*--print-secret.*nothing was created/);
    expect(writes).toEqual([]);

    const printed = await webhooksCli(config(), 'subscribe', 'pay', { printSecret: true });
    expect(printed.code).toBe(0);
    expect(printed.out.split(WHSEC)).toHaveLength(2);
    expect(printed.out).toContain(`signing secret (shown once; put it in connections.pay.credentials.webhookSecret): ${WHSEC}`);
  });

  it('an existing hub endpoint missing events gets them added (same secret), not a second endpoint; a disabled one is reported', async () => {
    const eps: Ep[] = [{ id: 'we_hub', url: HUB, enabled_events: ['payment_intent.succeeded', 'customer.created'], status: 'disabled' }];
    const writes = mockStripe(eps);
    const out = await webhooksCli(config(), 'subscribe', 'pay');
    expect(out.error).toBe('');
    expect(writes.map((w) => w.path)).toEqual(['/v1/webhook_endpoints/we_hub']);
    expect([...writes[0].form.entries()].map(([, v]) => v)).toEqual(['payment_intent.succeeded', 'customer.created', ...EVENTS.slice(1)]);
    expect(out.out).toMatch(/updated +payment_intent\.succeeded,customer\.created,payment_intent\.payment_failed/);
    expect(out.out).toMatch(/unneeded +customer\.created +we_hub/);
    expect(out.out).toContain('note: endpoint we_hub is disabled');
    expect(out.out).toContain('its signing secret is unchanged');
  });

  it("list shows the endpoints; an endpoint with '*' covers every event", async () => {
    mockStripe([{ id: 'we_all', url: HUB, enabled_events: ['*'], status: 'enabled' }]);
    const out = await webhooksCli(config(), 'list', 'pay');
    expect(out.code).toBe(0);
    expect(out.out).toMatch(/hub +\* +we_all +enabled/);
    expect(out.out).toContain('every topic the pipelines need is subscribed');
  });

  it("Stripe's refusal of the URL is a clear error with a non-zero exit; no secret file is left behind", async () => {
    mockStripe([], { refuse: true });
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'synchub-stripe-')), 'whsec.txt');
    const out = await webhooksCli(config(), 'subscribe', 'pay', { secretFile: file });
    expect(out.code).not.toBe(0);
    expect(out.error).toBe('remote_rejected: pay: POST /v1/webhook_endpoints answered 400: invalid_request_error: Invalid URL: URL must be publicly accessible.');
    expect(() => statSync(file)).toThrow();
  });

  it('an existing secret file is never overwritten, and nothing is created', async () => {
    const writes = mockStripe([]);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'synchub-stripe-')), 'whsec.txt');
    writeFileSync(file, 'keep me');
    const out = await webhooksCli(config(), 'subscribe', 'pay', { secretFile: file });
    expect(out.code).not.toBe(0);
    expect(out.error).toContain('--secret-file');
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    expect(writes).toEqual([]);
  });
});
