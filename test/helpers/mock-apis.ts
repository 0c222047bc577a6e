import { readFileSync } from 'node:fs';
import nock from 'nock';

export function fixture<T = any>(rel: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/${rel}`, import.meta.url), 'utf8')) as T;
}

const cents = (s: string) => Math.round(Number(s) * 100);
const money = (c: number) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;

/** `count` Shopify orders shaped like the docs' example, each with its own id, number and exact total. */
export function shopifyOrders(count: number, opts: { startId?: number; updatedAt?: (i: number) => string } = {}): Record<string, any>[] {
  const base = fixture('shopify/order.json');
  const out = [];
  for (let i = 0; i < count; i++) {
    const o = structuredClone(base);
    o.id = (opts.startId ?? 5_000_000) + i;
    o.order_number = 1001 + i;
    o.name = `#${o.order_number}`;
    o.financial_status = 'paid';
    o.refunds = [];
    // Totals that a float would get wrong somewhere among them: 0.10 + 0.20 style cents.
    const total = 10_000 + i * 7 + (i % 3);
    o.total_price = money(total);
    o.subtotal_price = money(total);
    o.total_tax = '0.00';
    o.total_discounts = '0.00';
    o.updated_at = opts.updatedAt?.(i) ?? new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString();
    o.email = `buyer${i}@example.com`;
    o.customer = { ...o.customer, id: 300_000 + i, email: `buyer${i}@example.com` };
    out.push(o);
  }
  return out;
}

/**
 * Shopify orders.json with limit and Link-header page_info paging (page_info is
 * opaque; with it only limit may be sent, as Shopify requires).
 */
export function mockShopifyOrders(baseUrl: string, orders: Record<string, any>[], opts: { version?: string } = {}) {
  const path = `/admin/api/${opts.version ?? '2026-10'}/orders.json`;
  const requests: Record<string, string>[] = [];
  const scope = nock(baseUrl)
    .persist()
    .get(path)
    .query(true)
    .reply(function (uri) {
      const q = Object.fromEntries(new URL(uri, baseUrl).searchParams);
      requests.push(q);
      const limit = Number(q.limit ?? 50);
      let offset = 0;
      let since = q.updated_at_min;
      if (q.page_info) ({ offset, since } = JSON.parse(Buffer.from(q.page_info, 'base64url').toString()));
      const matching = orders.filter((o) => !since || Date.parse(o.updated_at) >= Date.parse(since));
      const page = matching.slice(offset, offset + limit);
      const headers: Record<string, string> = { 'x-shopify-shop-api-call-limit': '1/40' };
      if (offset + limit < matching.length) {
        const info = Buffer.from(JSON.stringify({ offset: offset + limit, since })).toString('base64url');
        headers.link = `<${baseUrl}${path}?limit=${limit}&page_info=${info}>; rel="next"`;
      }
      return [200, { orders: page }, headers];
    });
  return { scope, requests };
}

/** HubSpot deals batch upsert (≤ 100 inputs) keyed on the order-number property; keeps what it got. */
export function mockHubspotDeals(baseUrl = 'https://api.hubapi.com', idProperty = 'synchub_order_number') {
  const deals = new Map<string, { id: string; properties: Record<string, string> }>();
  const calls: number[] = [];
  let nextId = 9000;
  const scope = nock(baseUrl)
    .persist()
    .post('/crm/objects/2026-09/deals/batch/upsert')
    .reply(function (_uri, body: any) {
      if (body.inputs.length > 100) return [400, { status: 'error', message: 'too many inputs', category: 'VALIDATION_ERROR' }];
      calls.push(body.inputs.length);
      const now = new Date().toISOString();
      const results = body.inputs.map((input: any) => {
        if (input.idProperty !== idProperty) throw new Error(`idProperty ${input.idProperty}, expected ${idProperty}`);
        const existing = deals.get(input.id);
        const deal = existing ?? { id: String(nextId++), properties: {} };
        deal.properties = { ...deal.properties, ...input.properties };
        deals.set(input.id, deal);
        return { id: deal.id, properties: deal.properties, createdAt: now, updatedAt: now, archived: false, new: !existing };
      });
      return [200, { status: 'COMPLETE', results, startedAt: now, completedAt: now }];
    });
  return { scope, deals, calls };
}
