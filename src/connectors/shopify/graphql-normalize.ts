/**
 * GraphQL Admin API nodes → the REST Admin shape webhooks deliver, so one default
 * mapping (and one user override) per entity serves webhooks, REST pulls and
 * GraphQL pulls alike, and the same order gives the same canonical record:
 * - ids are `legacyResourceId` (the REST id, a string here: UnsignedInt64) or, for
 *   types without one, the numeric tail of the GID; REST sends numbers, the mappings
 *   take `$string(id)` either way;
 * - money is `shopMoney.amount` of each MoneyBag, a decimal string kept as it is;
 * - enums (PARTIALLY_REFUNDED, SUCCESS, CUSTOMER) become REST's lower-case values;
 * - the REST `order_number` is GraphQL's `Order.number`, "the order number used to
 *   generate the name using the store's configured order number prefix/suffix"
 *   (`#1001` → 1001), not REST's `number` (which starts at 1).
 * Only the fields the default mappings read are produced; see docs/connectors/shopify.md's
 * section for the list.
 */

type Node = Record<string, any>;

/** `gid://shopify/LineItem/466157049` → `466157049`. */
export function gidTail(gid: unknown): string | undefined {
  if (typeof gid !== 'string') return undefined;
  const end = gid.indexOf('?');
  const path = end < 0 ? gid : gid.slice(0, end);
  return path.slice(path.lastIndexOf('/') + 1) || undefined;
}

const shop = (bag: Node | null | undefined): string | undefined => bag?.shopMoney?.amount ?? undefined;
const lower = (v: unknown): string | null => (typeof v === 'string' ? v.toLowerCase() : null);
const nodes = (conn: Node | null | undefined): Node[] => (Array.isArray(conn?.nodes) ? conn!.nodes : []);
const tags = (t: unknown): string => (Array.isArray(t) ? t.join(', ') : typeof t === 'string' ? t : '');

/** REST's fulfillment_status: fulfilled, partial, restocked, or null (unfulfilled and the rest). */
const FULFILLMENT: Record<string, string> = { FULFILLED: 'fulfilled', PARTIALLY_FULFILLED: 'partial', RESTOCKED: 'restocked' };

export function addressToRest(a: Node | null | undefined): Node | null {
  if (!a) return null;
  return {
    first_name: a.firstName ?? null, last_name: a.lastName ?? null, company: a.company ?? null,
    address1: a.address1 ?? null, address2: a.address2 ?? null, city: a.city ?? null, province: a.province ?? null,
    zip: a.zip ?? null, country_code: a.countryCodeV2 ?? null, phone: a.phone ?? null,
  };
}

export function orderToRest(o: Node): Node {
  const currency = o.currencyCode;
  const c = o.customer;
  return {
    id: o.legacyResourceId ?? gidTail(o.id),
    admin_graphql_api_id: o.id,
    name: o.name,
    order_number: typeof o.number === 'number' ? o.number : undefined,
    currency,
    email: o.email ?? null,
    phone: o.phone ?? null,
    note: o.note ?? null,
    tags: tags(o.tags),
    financial_status: lower(o.displayFinancialStatus),
    fulfillment_status: FULFILLMENT[o.displayFulfillmentStatus] ?? null,
    created_at: o.createdAt,
    updated_at: o.updatedAt,
    processed_at: o.processedAt ?? null,
    closed_at: o.closedAt ?? null,
    cancelled_at: o.cancelledAt ?? null,
    cancel_reason: lower(o.cancelReason),
    // The order's channel (web, pos, subscription_contract…; not an enum): the order-type rule reads it.
    source_name: o.sourceName ?? null,
    subtotal_price: shop(o.subtotalPriceSet),
    total_tax: shop(o.totalTaxSet),
    total_discounts: shop(o.totalDiscountsSet),
    total_price: shop(o.totalPriceSet),
    total_shipping_price_set: o.totalShippingPriceSet
      ? { shop_money: { amount: shop(o.totalShippingPriceSet), currency_code: o.totalShippingPriceSet.shopMoney?.currencyCode } }
      : undefined,
    discount_codes: Array.isArray(o.discountCodes) ? o.discountCodes.map((code: string) => ({ code })) : [],
    customer: c
      ? {
          id: c.legacyResourceId,
          email: c.defaultEmailAddress?.emailAddress ?? null,
          first_name: c.firstName ?? null,
          last_name: c.lastName ?? null,
          phone: c.defaultPhoneNumber?.phoneNumber ?? null,
        }
      : null,
    shipping_address: addressToRest(o.shippingAddress),
    billing_address: addressToRest(o.billingAddress),
    line_items: nodes(o.lineItems).map((li) => ({
      id: gidTail(li.id),
      sku: li.sku ?? null,
      name: li.name,
      title: li.title,
      quantity: li.quantity,
      price: shop(li.originalUnitPriceSet),
      total_discount: shop(li.totalDiscountSet) ?? '0.00',
      tax_lines: (li.taxLines ?? []).map((t: Node) => ({ price: shop(t.priceSet) })),
    })),
    shipping_lines: nodes(o.shippingLines).map((s) => ({ id: gidTail(s.id), title: s.title, code: s.code ?? null, price: shop(s.originalPriceSet) })),
    refunds: (o.refunds ?? []).map((r: Node) => ({
      id: gidTail(r.id),
      transactions: nodes(r.transactions).map((t) => ({ id: gidTail(t.id), kind: lower(t.kind), status: lower(t.status), amount: shop(t.amountSet) })),
    })),
  };
}

export function customerToRest(c: Node): Node {
  const email = c.defaultEmailAddress;
  const addresses = nodes(c.addressesV2).map(addressToRest);
  return {
    id: c.legacyResourceId ?? gidTail(c.id),
    admin_graphql_api_id: c.id,
    email: email?.emailAddress ?? null,
    phone: c.defaultPhoneNumber?.phoneNumber ?? null,
    first_name: c.firstName ?? null,
    last_name: c.lastName ?? null,
    note: c.note ?? null,
    tags: tags(c.tags),
    // UnsignedInt64 arrives as a string.
    orders_count: c.numberOfOrders === undefined || c.numberOfOrders === null ? undefined : Number(c.numberOfOrders),
    total_spent: c.amountSpent?.amount,
    currency: c.amountSpent?.currencyCode,
    email_marketing_consent: email?.marketingState ? { state: lower(email.marketingState) } : undefined,
    default_address: addressToRest(c.defaultAddress),
    addresses,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}
