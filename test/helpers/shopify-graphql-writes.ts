import nock from 'nock';

/**
 * A stateful GraphQL Admin API mock for write-backs (POST /admin/api/{version}/graphql.json),
 * answering the operations graphql-writes.ts sends by their operation name, with payloads
 * shaped like shopify.dev's examples: OrderMarkAsPaidPayload, OrderCancelPayload (a Job;
 * orderCancelUserErrors), RefundCreatePayload, TagsAddPayload, CustomerCreatePayload /
 * CustomerUpdatePayload, every answer with `extensions.cost` and `X-Shopify-API-Version`.
 * `refuse` makes an operation answer userErrors (HTTP 200, as Shopify does): keyed by the
 * operation name, or by `name:id` for one order or customer only.
 */
export interface MockOrder {
  id: string; name: string; currencyCode: string; displayFinancialStatus: string; cancelledAt: string | null; tags: string[];
  total: string; refunded: string; transactions: { id: string; kind: string; status: string; gateway: string; amount: string }[];
}
export interface MockCustomer { id: string; email: string; firstName?: string | null; lastName?: string | null; phone?: string | null; tags?: string[]; addresses?: unknown[] }

const cost = { cost: { requestedQueryCost: 10, actualQueryCost: 10, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1990, restoreRate: 100 } } };
const cents = (s: string) => Math.round(Number(s) * 100);
const money = (c: number) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;
const tail = (gid: string) => String(gid).split('/').pop()!;

export function mockShopifyGraphqlWrites(baseUrl: string, init: { orders?: MockOrder[]; customers?: MockCustomer[]; version?: string; servedVersion?: string; cancelJobPolls?: number } = {}) {
  const orders = new Map((init.orders ?? []).map((o) => [o.id, o]));
  const customers = new Map((init.customers ?? []).map((c) => [c.id, c]));
  const mutations: { op: string; id?: string; variables: any }[] = [];
  const refuse = new Map<string, { field: string[] | null; message: string; code?: string }[]>();
  const jobs = new Map<string, { polls: number; orderId: string }>();
  let nextId = 9_000_000;
  const headers = { 'x-shopify-api-version': init.servedVersion ?? init.version ?? '2026-10' };
  const ok = (data: unknown) => [200, { data, extensions: cost }, headers];

  const scope = nock(baseUrl).persist().post(`/admin/api/${init.version ?? '2026-10'}/graphql.json`).reply((_uri, body: any) => {
    const op = /^(?:query|mutation) (\w+)/.exec(String(body.query).trim())?.[1] ?? '';
    const v = body.variables ?? {};
    const refusedFor = (id: string) => refuse.get(`${op}:${id}`) ?? refuse.get(op);
    switch (op) {
      case 'SynchubOrderByName': {
        const name = /^name:"(.*)"$/.exec(v.query)?.[1];
        const hits = [...orders.values()].filter((o) => o.name === name).map((o) => ({ id: `gid://shopify/Order/${o.id}`, legacyResourceId: o.id, name: o.name }));
        return ok({ orders: { nodes: hits } });
      }
      case 'SynchubOrderState': {
        const o = orders.get(tail(v.id));
        if (!o) return ok({ order: null });
        return ok({ order: {
          id: `gid://shopify/Order/${o.id}`, legacyResourceId: o.id, currencyCode: o.currencyCode, displayFinancialStatus: o.displayFinancialStatus,
          cancelledAt: o.cancelledAt, tags: o.tags, totalRefundedSet: { shopMoney: { amount: o.refunded, currencyCode: o.currencyCode } },
          transactions: o.transactions.map((t) => ({ id: t.id, kind: t.kind, status: t.status, gateway: t.gateway })),
        } });
      }
      case 'SynchubOrderMarkAsPaid': {
        const o = orders.get(tail(v.input.id))!;
        const refused = refusedFor(o.id);
        if (refused) return ok({ orderMarkAsPaid: { order: null, userErrors: refused } });
        mutations.push({ op: 'orderMarkAsPaid', id: o.id, variables: v });
        o.displayFinancialStatus = 'PAID';
        o.transactions.push({ id: `gid://shopify/OrderTransaction/${nextId++}`, kind: 'SALE', status: 'SUCCESS', gateway: 'manual', amount: o.total });
        return ok({ orderMarkAsPaid: { order: { id: v.input.id, displayFinancialStatus: 'PAID' }, userErrors: [] } });
      }
      case 'SynchubOrderCancel': {
        const o = orders.get(tail(v.orderId))!;
        const refused = refusedFor(o.id);
        if (refused) return ok({ orderCancel: { job: null, orderCancelUserErrors: refused } });
        mutations.push({ op: 'orderCancel', id: o.id, variables: v });
        const job = `gid://shopify/Job/${nextId++}`;
        const polls = init.cancelJobPolls ?? 1;
        jobs.set(job, { polls, orderId: o.id });
        if (polls === 0) o.cancelledAt = new Date().toISOString();
        return ok({ orderCancel: { job: { id: job, done: polls === 0 }, orderCancelUserErrors: [] } });
      }
      case 'SynchubJob': {
        const j = jobs.get(v.id)!;
        j.polls--;
        if (j.polls <= 0) orders.get(j.orderId)!.cancelledAt = new Date().toISOString();
        return ok({ job: { id: v.id, done: j.polls <= 0 } });
      }
      case 'SynchubRefundCreate': {
        const o = orders.get(tail(v.input.orderId))!;
        const refused = refusedFor(o.id);
        if (refused) return ok({ refundCreate: { refund: null, userErrors: refused } });
        if (!/@idempotent\(key: \$idempotencyKey\)/.test(body.query) || !v.idempotencyKey) {
          return [200, { errors: [{ message: 'The @idempotent directive is required for this mutation but was not provided.', extensions: { code: 'BAD_REQUEST' } }] }, headers];
        }
        const t = v.input.transactions[0];
        mutations.push({ op: 'refundCreate', id: o.id, variables: v });
        o.refunded = money(cents(o.refunded) + cents(t.amount));
        o.displayFinancialStatus = cents(o.refunded) >= cents(o.total) ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
        return ok({ refundCreate: { refund: { id: `gid://shopify/Refund/${nextId++}`, totalRefundedSet: { shopMoney: { amount: t.amount, currencyCode: o.currencyCode } } }, userErrors: [] } });
      }
      case 'SynchubTagsAdd': {
        const o = orders.get(tail(v.id))!;
        const refused = refusedFor(o.id);
        if (refused) return ok({ tagsAdd: { node: null, userErrors: refused } });
        mutations.push({ op: 'tagsAdd', id: o.id, variables: v });
        o.tags = [...new Set([...o.tags, ...v.tags])];
        return ok({ tagsAdd: { node: { id: v.id }, userErrors: [] } });
      }
      case 'SynchubCustomerByEmail': {
        const email = /^email:"(.*)"$/.exec(v.query)?.[1]?.toLowerCase();
        const hits = [...customers.values()].filter((c) => c.email.toLowerCase() === email)
          .map((c) => ({ id: `gid://shopify/Customer/${c.id}`, legacyResourceId: c.id, defaultEmailAddress: { emailAddress: c.email } }));
        return ok({ customers: { nodes: hits } });
      }
      case 'SynchubCustomerCreate': {
        const refused = refusedFor('new');
        if (refused) return ok({ customerCreate: { customer: null, userErrors: refused } });
        const id = String(nextId++);
        mutations.push({ op: 'customerCreate', id, variables: v });
        customers.set(id, { id, ...v.input });
        return ok({ customerCreate: { customer: { id: `gid://shopify/Customer/${id}`, legacyResourceId: id }, userErrors: [] } });
      }
      case 'SynchubCustomerUpdate': {
        const id = tail(v.input.id);
        const refused = refusedFor(id);
        if (refused) return ok({ customerUpdate: { customer: null, userErrors: refused } });
        mutations.push({ op: 'customerUpdate', id, variables: v });
        customers.set(id, { ...customers.get(id)!, ...v.input, id });
        return ok({ customerUpdate: { customer: { id: v.input.id, legacyResourceId: id }, userErrors: [] } });
      }
    }
    return [200, { errors: [{ message: `unexpected operation ${op} in this mock` }] }, headers];
  });
  return { scope, orders, customers, mutations, refuse };
}

/** A pending order as the mock keeps it. */
export function pendingOrder(id: number, name: string, total: string, extra: Partial<MockOrder> = {}): MockOrder {
  return { id: String(id), name, currencyCode: 'USD', displayFinancialStatus: 'PENDING', cancelledAt: null, tags: [], total, refunded: '0.00', transactions: [], ...extra };
}
