import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterEach, beforeEach } from 'vitest';
import { SHOP_WEBHOOK_SECRET, testConfig } from './hub.js';
import { fixture } from './mock-apis.js';

/** Shopify orders taken by webhook → HubSpot deals (the push coalescing and webhook ingest tests). */
export function webhookOrdersConfig(jobs: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return testConfig({
    jobs,
    ...extra,
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SHOP_WEBHOOK_SECRET } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, http: { rateLimit: { max: 1000, perMs: 1000 } } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
  });
}

/** The fixture order as order `n`: id `base.id + n`, order number `base.number + n`, and an amount of its own. */
export function numberedOrder(n: number, base: { id: number; number: number }, extra: Record<string, unknown> = {}) {
  return { ...fixture('shopify/order.json'), id: base.id + n, order_number: base.number + n, name: `#${base.number + n}`, total_price: `${n}.${String(n % 100).padStart(2, '0')}`, ...extra };
}

/** A signed Shopify webhook request for `app.request('/webhooks/shop', …)`. */
export function shopifyDelivery(body: Record<string, unknown>, webhookId: string, topic = 'orders/create') {
  const text = JSON.stringify(body);
  return {
    method: 'POST',
    body: text,
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': topic,
      'x-shopify-hmac-sha256': createHmac('sha256', SHOP_WEBHOOK_SECRET).update(text).digest('base64'),
      'x-shopify-webhook-id': webhookId,
    },
  };
}

/**
 * HubSpot's deals batch upsert (POST /crm/objects/2026-09/deals/batch/upsert, ≤ 100 inputs):
 * keeps the deals, each call's inputs, and how often each deal was written. `refuse`: order
 * numbers whose input HubSpot refuses; a batch holding one is answered 400 VALIDATION_ERROR
 * as a whole, as HubSpot does for an invalid property value.
 */
export function hubspotDealsMock(refuse = new Set<string>()) {
  const deals = new Map<string, Record<string, string>>();
  const writes = new Map<string, number>();
  const calls: { inputs: number; at: number }[] = [];
  nock('https://api.hubapi.com').persist().post('/crm/objects/2026-09/deals/batch/upsert').reply(function (_uri, body: any) {
    if (body.inputs.length > 100) return [400, { status: 'error', message: 'too many inputs', category: 'VALIDATION_ERROR' }];
    calls.push({ inputs: body.inputs.length, at: Date.now() });
    const bad = body.inputs.find((i: any) => refuse.has(i.id));
    if (bad) {
      return [400, { status: 'error', message: `Property values were not valid: [{"isValid":false,"message":"${bad.id} is not a valid amount","name":"amount"}]`, category: 'VALIDATION_ERROR', correlationId: 'c0ffee' }];
    }
    const now = new Date().toISOString();
    const results = body.inputs.map((input: any, i: number) => {
      deals.set(input.id, { ...deals.get(input.id), ...input.properties });
      writes.set(input.id, (writes.get(input.id) ?? 0) + 1);
      return { id: String(9000 + i), properties: deals.get(input.id), createdAt: now, updatedAt: now, archived: false };
    });
    return [200, { status: 'COMPLETE', results, startedAt: now, completedAt: now }];
  });
  return { deals, writes, calls };
}

/** Nock lets only loopback through during each test of the file (register before the file's own afterEach). */
export function loopbackOnly(): void {
  beforeEach(() => {
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith('127.0.0.1') || host.startsWith('localhost'));
  });
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });
}
