import { createHmac } from 'node:crypto';
import { Hono } from 'hono';
import { makeCustomer, makeOrder, prng, type ShopifyCustomer } from './data.js';
import { ShopifyGraphqlApi, type GraphqlSandboxOptions } from './shopify-graphql/endpoint.js';
import { ShopOrderWrites } from './shopify-order-writes.js';
import { ShopCustomerWrites } from './shopify-customer-writes.js';
import type { ShopRecords } from './shopify-graphql/resolvers.js';

/**
 * A local server that speaks the Shopify Admin API shapes synchub uses, over one set of
 * generated records. REST: customers and orders lists with limit ≤ 250, updated_at_min,
 * Link-header paging by page_info, single reads, and the call-limit header. GraphQL
 * (`POST /admin/api/{version}/graphql.json`, src/sandbox/shopify-graphql/): the orders and
 * customers connections, nested connections, node(id:), cost extension and throttling,
 * bulk query operations with their JSONL, and the write-backs (orderMarkAsPaid, orderCancel and
 * job(id:), refundCreate, tagsAdd, customerCreate, customerUpdate) with the same effects as the
 * REST order writes (shopify-order-writes.ts). It can also post signed orders/create webhooks,
 * like a shop taking new orders.
 */
export class ShopifySandbox {
  readonly customers: ShopifyCustomer[] = [];
  readonly orders: Record<string, unknown>[] = [];
  /** The GraphQL Admin API: its cost bucket (`graphql.bucket`) and bulk operations (`graphql.bulk`). */
  readonly graphql: ShopifyGraphqlApi;
  private readonly rand = prng(42);
  private next = 0;
  private refunds?: { at: number; byId: Map<number, { refund: any; order: any }> };
  /** Status writes to orders (mark as paid, cancel, refund, tags), as the hub makes them for payment results. */
  readonly writes = new ShopOrderWrites((id) => this.orderById(id));
  /** customerCreate / customerUpdate (GraphQL), over the same customers REST lists. */
  readonly customerWrites = new ShopCustomerWrites(this.customers, (id) => this.customerById(id));

  constructor(opts: { customers: number; orders: number; start?: Date; graphql?: GraphqlSandboxOptions }) {
    const start = (opts.start ?? new Date(Date.UTC(2025, 0, 1))).getTime();
    for (let i = 0; i < opts.customers; i++) this.customers.push(makeCustomer(i, new Date(start + i * 1000)));
    for (let i = 0; i < opts.orders; i++) this.addOrder(new Date(start + i * 1000));
    this.graphql = new ShopifyGraphqlApi(this.records(), opts.graphql);
  }

  /** `financialStatus` sets the new order's (e.g. `pending`: awaiting payment). */
  addOrder(at = new Date(), opts: { lineItems?: number; financialStatus?: string } = {}): Record<string, unknown> {
    const n = this.next++;
    const customer = this.customers[n % Math.max(1, this.customers.length)] ?? makeCustomer(n, at);
    const order = makeOrder(n, customer, at, this.rand, opts);
    this.orders.push(order);
    return order;
  }

  orderById(id: number): Record<string, any> | undefined {
    const order = this.orders[ShopifySandbox.firstAfter(this.orders as { id: number }[], id - 1)] as Record<string, any> | undefined;
    return order?.id === id ? order : undefined;
  }

  customerById(id: number): ShopifyCustomer | undefined {
    const customer = this.customers[ShopifySandbox.firstAfter(this.customers, id - 1)];
    return customer?.id === id ? customer : undefined;
  }

  /** The records as the GraphQL resolvers read them (the same arrays REST serves). */
  private records(): ShopRecords {
    const byId = <T extends { id: number }>(list: T[], id: number): T | undefined => {
      const r = list[ShopifySandbox.firstAfter(list, id - 1)];
      return r?.id === id ? r : undefined;
    };
    return {
      orders: this.orders as any[],
      customers: this.customers as any[],
      order: (id) => byId(this.orders as any[], id),
      customer: (id) => byId(this.customers as any[], id),
      refund: (id) => {
        if (this.refunds?.at !== this.orders.length) {
          const map = new Map<number, { refund: any; order: any }>();
          for (const order of this.orders as any[]) for (const refund of order.refunds ?? []) map.set(refund.id, { refund, order });
          this.refunds = { at: this.orders.length, byId: map };
        }
        return this.refunds.byId.get(id);
      },
      writes: { orders: this.writes, customers: this.customerWrites },
    };
  }

  /**
   * Index of the first record whose id is above `after`, by binary search: both lists are
   * in id order, because ids are handed out in increasing order (as Shopify's are) and
   * records are only ever appended.
   */
  private static firstAfter(source: { id: number }[], after: number): number {
    let lo = 0;
    let hi = source.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (source[mid].id <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  app(): Hono {
    const app = new Hono();
    const list = (kind: 'orders' | 'customers') => (c: any) => {
      const limit = Number(c.req.query('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 250) return c.json({ errors: { limit: ['must be between 1 and 250'] } }, 400);
      const pageInfo = c.req.query('page_info');
      let since: string | undefined;
      let after = 0;
      if (pageInfo) {
        if ([...new URL(c.req.url).searchParams.keys()].some((k) => k !== 'limit' && k !== 'page_info' && k !== 'fields')) {
          return c.json({ errors: 'page_info may only be combined with limit and fields' }, 400);
        }
        try {
          ({ since, after } = JSON.parse(Buffer.from(pageInfo, 'base64url').toString()));
        } catch {
          return c.json({ errors: 'Invalid page_info' }, 400);
        }
      } else {
        since = c.req.query('updated_at_min');
      }
      // `name` (orders): the order named so, "#1001" or "1001", as the hub looks an order up by its number.
      const name = kind === 'orders' ? c.req.query('name') : undefined;
      if (name) {
        const hit = (this.orders as { name: string }[]).find((o) => o.name === name || o.name === `#${name}`);
        for (const [k, v] of Object.entries({ 'x-shopify-shop-api-call-limit': '1/40' })) c.header(k, v);
        return c.json({ orders: hit ? [hit] : [] });
      }
      const sinceMs = since ? Date.parse(since) : -Infinity;
      const source = (kind === 'orders' ? this.orders : this.customers) as { id: number; updated_at: string }[];
      // A page costs what it returns, not what the shop holds: start after the last id by
      // binary search and stop at the first record past the page (limit + 1 tells whether
      // there is a next page, as Shopify's Link header does).
      const matching: { id: number; updated_at: string }[] = [];
      for (let i = ShopifySandbox.firstAfter(source, after); i < source.length && matching.length <= limit; i++) {
        const r = source[i];
        if (r.id > after && Date.parse(r.updated_at) >= sinceMs) matching.push(r);
      }
      const page = matching.slice(0, limit);
      const headers: Record<string, string> = { 'x-shopify-shop-api-call-limit': '1/40' };
      if (matching.length > limit) {
        const info = Buffer.from(JSON.stringify({ since, after: page[page.length - 1].id })).toString('base64url');
        const u = new URL(c.req.url);
        headers.link = `<${u.origin}${u.pathname}?limit=${limit}&page_info=${info}>; rel="next"`;
      }
      for (const [k, v] of Object.entries(headers)) c.header(k, v);
      return c.json({ [kind]: page });
    };
    app.get('/admin/api/:version/orders.json', list('orders'));
    app.get('/admin/api/:version/customers.json', list('customers'));
    app.get('/admin/api/:version/orders/:file', (c) => {
      const id = Number(c.req.param('file').replace(/\.json$/, ''));
      const order = this.orders[ShopifySandbox.firstAfter(this.orders as { id: number }[], id - 1)];
      if (order?.id !== id) return c.json({ errors: 'Not Found' }, 404);
      return c.json({ order });
    });
    app.post('/admin/api/:version/graphql.json', (c) => this.graphql.handle(c));
    this.writes.routes(app);
    // The signed storage URL of a bulk operation's result: whole, or from a byte on (`Range: bytes=N-`).
    app.get('/bulk-operation-results/:file', (c) => {
      const range = c.req.header('range');
      const from = range ? /^bytes=(\d{1,15})-$/.exec(range.trim()) : null;
      if (range && !from) return c.text('Range Not Satisfiable', 416);
      const file = this.graphql.bulk.file(c.req.param('file'), from ? Number(from[1]) : 0);
      if (!file) return c.text('Not Found', 404);
      if (!from) return c.body(file.body, 200, { 'content-type': 'application/jsonl', 'content-length': String(file.size), 'accept-ranges': 'bytes' });
      if (file.start >= file.size) {
        void file.body.cancel();
        return c.body(null, 416, { 'content-range': `bytes */${file.size}` });
      }
      return c.body(file.body, 206, {
        'content-type': 'application/jsonl', 'content-length': String(file.size - file.start), 'content-range': `bytes ${file.start}-${file.size - 1}/${file.size}`,
      });
    });
    app.get('/admin/api/:version/customers/:file', (c) => {
      const id = Number(c.req.param('file').replace(/\.json$/, ''));
      const customer = this.customers.find((o) => o.id === id);
      return customer ? c.json({ customer }) : c.json({ errors: 'Not Found' }, 404);
    });
    return app;
  }

  /** Posts a signed orders/create webhook for a new order, as Shopify does. */
  async postOrderWebhook(hubUrl: string, secret: string, order = this.addOrder()): Promise<number> {
    const res = await this.postOrderWebhookRaw(hubUrl, secret, order);
    await res.arrayBuffer();
    return res.status;
  }

  /** The same delivery again has the same X-Shopify-Webhook-Id, as Shopify's retries do. */
  postOrderWebhookRaw(hubUrl: string, secret: string, order: Record<string, unknown>): Promise<Response> {
    const body = JSON.stringify(order);
    return fetch(hubUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-topic': 'orders/create',
        'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body).digest('base64'),
        'x-shopify-shop-domain': 'synchub-demo.myshopify.com',
        'x-shopify-api-version': '2026-10',
        'x-shopify-webhook-id': `b54557e4-${String(order.id)}`,
        'x-shopify-triggered-at': new Date().toISOString(),
      },
      body,
    });
  }
}
