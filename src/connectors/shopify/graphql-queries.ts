/**
 * GraphQL Admin API documents the shopify connector sends for pulls (api: graphql).
 * Fields are the ones the default mappings need once graphql-normalize.ts has put
 * the node into the REST shape. Nested connections carry pageInfo; the ones that
 * do not fit in their first page are fetched further with NESTED_PAGE below.
 *
 * shopify.dev: queries/orders, queries/customers, objects/Order, objects/Customer,
 * objects/MoneyBag (shopMoney), enums/OrderSortKeys and CustomerSortKeys (UPDATED_AT).
 */

/**
 * How many nested items the first query asks for; the rest are paged (NESTED_PAGE).
 * Shopify prices a query before running it (shopify.dev, GraphQL Admin API rate limits:
 * objects 1, connections 2 plus `first` times one node's cost, nested connections multiply)
 * and refuses one over 1,000 points (MAX_COST_EXCEEDED). With these, one order costs 81
 * points (line items 42, refunds 18, shipping lines 5, the order with its money bags,
 * customer and addresses 16) and one customer 12; the page sizes below keep a page under 1,000.
 */
export const NESTED_FIRST = { lineItems: 5, shippingLines: 1, refunds: 2, transactions: 2, addresses: 5 } as const;
/** Orders a page: 2 + 12 × 81 = 974 points. */
export const ORDER_PAGE = 12;
/** Customers a page: 2 + 80 × 12 = 962 points. */
export const CUSTOMER_PAGE = 80;
/** Nested items asked for per follow-up query. */
export const NESTED_PAGE_SIZE = 100;

const MONEY = 'shopMoney { amount currencyCode }';
export const ADDRESS = 'firstName lastName company address1 address2 city province zip countryCodeV2 phone';
const PAGE_INFO = 'pageInfo { hasNextPage endCursor }';

export const LINE_ITEM = `id sku name title quantity
  originalUnitPriceSet { ${MONEY} } totalDiscountSet { ${MONEY} }
  taxLines { priceSet { ${MONEY} } }`;
export const SHIPPING_LINE = `id title code originalPriceSet { ${MONEY} }`;
export const TRANSACTION = `id kind status amountSet { ${MONEY} }`;

/** An order's own fields, without its nested connections (shared with the bulk query, bulk.ts). */
export const ORDER_FIELDS = `id legacyResourceId name number currencyCode email phone note tags
  displayFinancialStatus displayFulfillmentStatus
  createdAt updatedAt processedAt closedAt cancelledAt cancelReason sourceName
  subtotalPriceSet { ${MONEY} } totalTaxSet { ${MONEY} } totalShippingPriceSet { ${MONEY} }
  totalDiscountsSet { ${MONEY} } totalPriceSet { ${MONEY} }
  discountCodes
  customer { legacyResourceId firstName lastName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } }
  shippingAddress { ${ADDRESS} } billingAddress { ${ADDRESS} }`;

export const ORDER = `${ORDER_FIELDS}
  lineItems(first: ${NESTED_FIRST.lineItems}) { nodes { ${LINE_ITEM} } ${PAGE_INFO} }
  shippingLines(first: ${NESTED_FIRST.shippingLines}) { nodes { ${SHIPPING_LINE} } ${PAGE_INFO} }
  refunds(first: ${NESTED_FIRST.refunds}) { id transactions(first: ${NESTED_FIRST.transactions}) { nodes { ${TRANSACTION} } ${PAGE_INFO} } }`;

/** A customer's own fields, without its nested connections (shared with the bulk query, bulk.ts). */
export const CUSTOMER_FIELDS = `id legacyResourceId firstName lastName note tags numberOfOrders createdAt updatedAt
  amountSpent { amount currencyCode }
  defaultEmailAddress { emailAddress marketingState }
  defaultPhoneNumber { phoneNumber }
  defaultAddress { ${ADDRESS} }`;

export const CUSTOMER = `${CUSTOMER_FIELDS}
  addressesV2(first: ${NESTED_FIRST.addresses}) { nodes { ${ADDRESS} } ${PAGE_INFO} }`;

/** `query` is `updated_at:>='…'` for an increment, absent for a full pull. */
export const ORDERS_QUERY = `query SynchubOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { nodes { ${ORDER} } ${PAGE_INFO} }
}`;

export const CUSTOMERS_QUERY = `query SynchubCustomers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { nodes { ${CUSTOMER} } ${PAGE_INFO} }
}`;

/** The nested connections paged past their first page, by owner type and field. */
export const NESTED = {
  lineItems: { owner: 'Order', selection: LINE_ITEM },
  shippingLines: { owner: 'Order', selection: SHIPPING_LINE },
  transactions: { owner: 'Refund', selection: TRANSACTION },
  addressesV2: { owner: 'Customer', selection: ADDRESS },
} as const;
export type NestedField = keyof typeof NESTED;

/** The next page of one nested connection of one node (by its GID). */
export function nestedPageQuery(field: NestedField): string {
  const { owner, selection } = NESTED[field];
  return `query SynchubNested($id: ID!, $first: Int!, $after: String) {
  node(id: $id) { ... on ${owner} { ${field}(first: $first, after: $after) { nodes { ${selection} } ${PAGE_INFO} } } }
}`;
}

/** Order.refunds is a list, not a connection: an order whose first query filled it is read again with this many (901 points). */
export const REFUNDS_MAX = 100;
export const ORDER_REFUNDS_QUERY = `query SynchubOrderRefunds($id: ID!) {
  node(id: $id) { ... on Order { refunds(first: ${REFUNDS_MAX}) { id transactions(first: ${NESTED_FIRST.transactions}) { nodes { ${TRANSACTION} } ${PAGE_INFO} } } } }
}`;

/** One record by its GID, for webhook references and `synchub` look-ups. */
export const ORDER_QUERY = `query SynchubOrder($id: ID!) { order(id: $id) { ${ORDER} } }`;
export const CUSTOMER_QUERY = `query SynchubCustomer($id: ID!) { customer(id: $id) { ${CUSTOMER} } }`;
