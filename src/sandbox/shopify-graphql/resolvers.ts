import type { Resolvers, Typed, ExecContext } from './execute.js';
import { pageList, pageRoot } from './search.js';
import type { BulkOperations } from './bulk.js';
import type { ShopOrderWrites } from '../shopify-order-writes.js';
import type { ShopCustomerWrites } from '../shopify-customer-writes.js';
import { fromMinorUnits } from '../../core/money.js';
import type { ShopMutations } from './mutations.js';

/**
 * Field resolvers of the sandbox's GraphQL Admin API over its REST-shaped records
 * (src/sandbox/data.ts), so REST and GraphQL answer the same shop: ids from the REST id
 * (`gid://shopify/Order/450789469`, legacyResourceId "450789469"), money as MoneyBags whose
 * amounts are Decimal strings as Shopify writes them ("199.0", "24.99"), enums upper-case.
 */

type Rec = { id: number } & Record<string, any>;

export interface ShopRecords {
  orders: Rec[];
  customers: Rec[];
  order(id: number): Rec | undefined;
  customer(id: number): Rec | undefined;
  /** A refund and the order it belongs to. */
  refund(id: number): { refund: Rec; order: Rec } | undefined;
  /** The shop's writes, shared by its REST routes and its GraphQL mutations (mutations.ts). */
  writes: { orders: ShopOrderWrites; customers: ShopCustomerWrites };
}

/** Shopify's Decimal: "199.00" → "199.0", "12.50" → "12.5", "24.99" as it is. */
export function shopifyDecimal(amount: string | number | null | undefined): string | null {
  if (amount === null || amount === undefined) return null;
  const s = String(amount);
  const dot = s.indexOf('.');
  if (dot < 0) return `${s}.0`;
  let end = s.length;
  while (end > dot + 2 && s[end - 1] === '0') end--;
  return s.slice(0, end);
}

const gid = (type: string, id: number | string) => `gid://shopify/${type}/${id}`;
const upper = (v: unknown) => (typeof v === 'string' && v ? v.toUpperCase() : null);
const tags = (t: unknown) => (typeof t === 'string' && t ? t.split(',').map((x) => x.trim()).filter(Boolean) : []);
const money = (amount: unknown, currencyCode: string) => ({ amount: shopifyDecimal(amount as string), currencyCode });
const bag = (amount: unknown, ctx: ExecContext) => (amount === undefined || amount === null ? null : { shopMoney: money(amount, ctx.currency), presentmentMoney: money(amount, ctx.currency) });
const cents = (s: string) => {
  const [i, f = ''] = s.split('.');
  return Number(i) * 100 + Number(f.padEnd(2, '0').slice(0, 2));
};

/** The GID's type and numeric id, or undefined when it is not a Shopify GID. */
export function parseGid(id: unknown): { type: string; id: number } | undefined {
  if (typeof id !== 'string' || !id.startsWith('gid://shopify/')) return undefined;
  const rest = id.slice('gid://shopify/'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const q = rest.indexOf('?');
  const n = Number(rest.slice(slash + 1, q < 0 ? undefined : q));
  return Number.isSafeInteger(n) ? { type: rest.slice(0, slash), id: n } : undefined;
}

/** Connection objects: nodes, edges and pageInfo over one page. */
const connection = {
  nodes: (c: any) => c.items,
  edges: (c: any) => c.items.map((node: unknown, i: number) => ({ node, cursor: c.cursors[i] })),
  pageInfo: (c: any) => ({ hasNextPage: c.hasNextPage, hasPreviousPage: c.hasPreviousPage, startCursor: c.cursors[0] ?? null, endCursor: c.cursors.at(-1) ?? null }),
};

/** Page size of a connection: `first` (at most 250, as Shopify allows); every node in bulk mode. */
function size(args: Record<string, any>, ctx: ExecContext): number | undefined {
  if (ctx.bulk) return undefined;
  const n = args.first ?? args.last;
  if (typeof n !== 'number' || n < 0 || n > 250) throw new Error(`first must be between 0 and 250, got ${n}`);
  return n;
}

function address(a: Rec | null | undefined, id: string) {
  return a ? { ...a, __gid: id } : null;
}

export function shopResolvers(data: ShopRecords, bulk: BulkOperations, mutations: ShopMutations): Resolvers {
  const writes = mutations.resolvers();
  const node = (id: unknown): Typed | null => {
    const g = parseGid(id);
    if (!g) return null;
    if (g.type === 'Order') return wrap('Order', data.order(g.id));
    if (g.type === 'Customer') return wrap('Customer', data.customer(g.id));
    if (g.type === 'Refund') return wrap('Refund', data.refund(g.id)?.refund);
    if (g.type === 'BulkOperation') return wrap('BulkOperation', bulk.get(String(id)));
    return null;
  };
  const wrap = (type: string, src: unknown): Typed | null => (src ? { __type: type, src } : null);
  const root = (kind: 'order' | 'customer', records: Rec[]) => (_: unknown, args: Record<string, any>, ctx: ExecContext) => {
    const page = pageRoot(kind, records, args, size(args, ctx));
    if (page.warnings.length) ctx.search.push({ path: [kind === 'order' ? 'orders' : 'customers'], query: args.query, warnings: page.warnings });
    return page;
  };
  return {
    QueryRoot: {
      orders: root('order', data.orders),
      customers: root('customer', data.customers),
      order: (_, a) => data.order(parseGid(a.id)?.type === 'Order' ? parseGid(a.id)!.id : NaN) ?? null,
      customer: (_, a) => data.customer(parseGid(a.id)?.type === 'Customer' ? parseGid(a.id)!.id : NaN) ?? null,
      node: (_, a) => node(a.id),
      nodes: (_, a) => (a.ids as string[]).map(node),
      bulkOperation: (_, a) => bulk.get(a.id) ?? null,
      currentBulkOperation: (_, a) => bulk.current(a.type ?? 'QUERY') ?? null,
      // The sandbox's app holds every scope the hub asks about, read_all_orders included.
      job: writes.job,
      currentAppInstallation: () => ({ accessScopes: ['read_orders', 'read_all_orders', 'write_orders', 'read_customers', 'write_customers'].map((handle) => ({ handle })) }),
      bulkOperations: (_, a) => {
        const nodes = bulk.list(a.query ?? '').slice(0, Math.max(0, Math.min(Number(a.first ?? 10), 250)));
        return { nodes, pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } };
      },
    },
    Mutation: {
      bulkOperationRunQuery: (_, a, ctx) => bulk.runQuery(a.query, ctx),
      bulkOperationCancel: (_, a) => bulk.cancel(a.id),
      ...writes.Mutation,
    },
    OrderConnection: connection, CustomerConnection: connection, LineItemConnection: connection, ShippingLineConnection: connection,
    OrderTransactionConnection: connection, MailingAddressConnection: connection,
    Order: {
      id: (o) => gid('Order', o.id),
      legacyResourceId: (o) => String(o.id),
      number: (o) => o.order_number,
      currencyCode: (o) => o.currency,
      tags: (o) => tags(o.tags),
      test: (o) => !!o.test,
      closed: (o) => !!o.closed_at,
      cancelled: (o) => !!o.cancelled_at,
      displayFinancialStatus: (o) => upper(o.financial_status),
      displayFulfillmentStatus: (o) => ({ fulfilled: 'FULFILLED', partial: 'PARTIALLY_FULFILLED', restocked: 'RESTOCKED' } as Record<string, string>)[o.fulfillment_status] ?? 'UNFULFILLED',
      createdAt: (o) => o.created_at, updatedAt: (o) => o.updated_at, processedAt: (o) => o.processed_at ?? o.created_at,
      closedAt: (o) => o.closed_at, cancelledAt: (o) => o.cancelled_at, cancelReason: (o) => upper(o.cancel_reason), sourceName: (o) => o.source_name ?? null,
      subtotalPriceSet: (o, _, ctx) => bag(o.subtotal_price, ctx),
      totalTaxSet: (o, _, ctx) => bag(o.total_tax, ctx),
      totalDiscountsSet: (o, _, ctx) => bag(o.total_discounts, ctx),
      totalPriceSet: (o, _, ctx) => bag(o.total_price, ctx),
      totalShippingPriceSet: (o, _, ctx) => bag(o.total_shipping_price_set?.shop_money?.amount ?? '0.00', ctx),
      discountCodes: (o) => (o.discount_codes ?? []).map((d: { code: string }) => d.code),
      customer: (o) => (o.customer ? data.customer(o.customer.id) ?? o.customer : null),
      shippingAddress: (o) => address(o.shipping_address, gid('MailingAddress', `${o.id}1?model_name=Address`)),
      billingAddress: (o) => address(o.billing_address, gid('MailingAddress', `${o.id}2?model_name=Address`)),
      lineItems: (o, a, ctx) => pageList(o.line_items ?? [], a, size(a, ctx)),
      shippingLines: (o, a, ctx) => pageList(o.shipping_lines ?? [], a, size(a, ctx)),
      totalRefundedSet: (o, _, ctx) => bag(fromMinorUnits(data.writes.orders.refundedMinor(o), o.currency), ctx),
      transactions: (o, a) => data.writes.orders.transactionsOf(o).slice(0, typeof a.first === 'number' ? a.first : undefined),
      refunds: (o, a, ctx) => (ctx.bulk || a.first === undefined ? o.refunds ?? [] : (o.refunds ?? []).slice(0, a.first)),
    },
    LineItem: {
      id: (l) => gid('LineItem', l.id),
      name: (l) => l.name ?? l.title,
      originalUnitPriceSet: (l, _, ctx) => bag(l.price, ctx),
      totalDiscountSet: (l, _, ctx) => bag(l.total_discount ?? '0.00', ctx),
      taxable: (l) => l.taxable !== false,
      taxLines: (l, a, ctx) => (l.tax_lines ?? []).slice(0, a.first ?? undefined).map((t: Rec) => ({ title: t.title, rate: t.rate, ratePercentage: t.rate * 100, priceSet: bag(t.price, ctx) })),
    },
    ShippingLine: {
      id: (s) => gid('ShippingLine', s.id),
      originalPriceSet: (s, _, ctx) => bag(s.price, ctx),
      discountedPriceSet: (s, _, ctx) => bag(s.discounted_price ?? s.price, ctx),
    },
    Refund: {
      id: (r) => gid('Refund', r.id),
      legacyResourceId: (r) => String(r.id),
      createdAt: (r) => r.created_at,
      order: (r) => data.order(r.order_id),
      totalRefundedSet: (r, _, ctx) => {
        const total = (r.transactions ?? []).filter((t: Rec) => t.kind === 'refund' && t.status === 'success').reduce((s: number, t: Rec) => s + cents(t.amount), 0);
        return bag(`${Math.floor(total / 100)}.${String(total % 100).padStart(2, '0')}`, ctx);
      },
      transactions: (r, a, ctx) => pageList(r.transactions ?? [], a, size(a, ctx)),
    },
    OrderTransaction: {
      id: (t) => gid('OrderTransaction', t.id),
      kind: (t) => upper(t.kind),
      status: (t) => upper(t.status),
      amountSet: (t, _, ctx) => ({ shopMoney: money(t.amount, t.currency ?? ctx.currency), presentmentMoney: money(t.amount, t.currency ?? ctx.currency) }),
      processedAt: (t) => t.processed_at ?? t.created_at ?? null,
    },
    Customer: {
      id: (c) => gid('Customer', c.id),
      legacyResourceId: (c) => String(c.id),
      firstName: (c) => c.first_name ?? null,
      lastName: (c) => c.last_name ?? null,
      displayName: (c) => [c.first_name, c.last_name].filter(Boolean).join(' ') || c.email || '',
      tags: (c) => tags(c.tags),
      numberOfOrders: (c) => String(c.orders_count ?? 0),
      amountSpent: (c, _, ctx) => money(c.total_spent ?? '0.00', c.currency ?? ctx.currency),
      verifiedEmail: (c) => !!c.verified_email,
      createdAt: (c) => c.created_at, updatedAt: (c) => c.updated_at,
      defaultEmailAddress: (c) => (c.email ? { emailAddress: c.email, marketingState: upper(c.email_marketing_consent?.state) ?? 'NOT_SUBSCRIBED' } : null),
      defaultPhoneNumber: (c) => (c.phone ? { phoneNumber: c.phone } : null),
      defaultAddress: (c) => address(c.default_address, gid('MailingAddress', `${c.default_address?.id}?model_name=CustomerAddress`)),
      addressesV2: (c, a, ctx) => {
        const page = pageList<Rec>(c.addresses ?? [], a, size(a, ctx));
        return { ...page, items: page.items.map((x: Rec) => address(x, gid('MailingAddress', `${x.id}?model_name=CustomerAddress`))) };
      },
    },
    MailingAddress: {
      id: (a) => a.__gid,
      firstName: (a) => a.first_name ?? null,
      lastName: (a) => a.last_name ?? null,
      name: (a) => [a.first_name, a.last_name].filter(Boolean).join(' ') || null,
      provinceCode: (a) => a.province_code ?? null,
      countryCodeV2: (a) => a.country_code ?? null,
    },
  };
}
