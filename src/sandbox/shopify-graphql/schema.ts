import { FieldsOnCorrectTypeRule, GraphQLError, buildSchema, specifiedRules, type GraphQLSchema, type ValidationRule } from 'graphql';

/**
 * The part of the GraphQL Admin API (2026-10) the sandbox serves, with Shopify's type,
 * field and enum names (shopify.dev: queries/orders, queries/customers, objects/Order,
 * objects/Customer, objects/LineItem, objects/MoneyBag, objects/BulkOperation,
 * mutations/bulkOperationRunQuery, and the write-backs: mutations/orderMarkAsPaid,
 * orderCancel (a Job, queries/job), refundCreate, tagsAdd, customerCreate, customerUpdate). Fields outside it are answered as Shopify answers an
 * unknown field: a GraphQL error, no data.
 */
export const SANDBOX_SDL = /* GraphQL */ `
scalar DateTime
scalar Decimal
scalar UnsignedInt64
scalar URL
scalar Money

schema { query: QueryRoot mutation: Mutation }

# shopify.dev api/usage/idempotent-requests: refundCreate needs it since 2026-04 (a runtime error without it).
directive @idempotent(key: String!) on FIELD

interface Node { id: ID! }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }

enum CurrencyCode { USD EUR GBP CAD AUD JPY CNY }
enum CountryCode { US CA GB DE FR AU JP CN }
enum OrderSortKeys { CREATED_AT CUSTOMER_NAME FINANCIAL_STATUS FULFILLMENT_STATUS ID NUMBER PO_NUMBER PROCESSED_AT RELEVANCE TOTAL_ITEMS_QUANTITY TOTAL_PRICE UPDATED_AT }
enum CustomerSortKeys { CREATED_AT ID LOCATION NAME RELEVANCE UPDATED_AT }
enum OrderDisplayFinancialStatus { AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }
enum OrderDisplayFulfillmentStatus { FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT REQUEST_DECLINED RESTOCKED SCHEDULED UNFULFILLED }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
enum OrderTransactionKind { AUTHORIZATION CAPTURE CHANGE EMV_AUTHORIZATION REFUND SALE SUGGESTED_REFUND VOID }
enum OrderTransactionStatus { AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }
enum CustomerEmailAddressMarketingState { INVALID NOT_SUBSCRIBED PENDING REDACTED SUBSCRIBED UNSUBSCRIBED }
enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationType { MUTATION QUERY }
enum BulkOperationUserErrorCode { INVALID LIMIT_REACHED OPERATION_IN_PROGRESS }

type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type MailingAddress implements Node {
  id: ID! firstName: String lastName: String name: String company: String address1: String address2: String
  city: String province: String provinceCode: String zip: String country: String countryCodeV2: CountryCode phone: String
}
type MailingAddressEdge { node: MailingAddress! cursor: String! }
type MailingAddressConnection { nodes: [MailingAddress!]! edges: [MailingAddressEdge!]! pageInfo: PageInfo! }

type CustomerEmailAddress { emailAddress: String! marketingState: CustomerEmailAddressMarketingState! }
type CustomerPhoneNumber { phoneNumber: String! }

type Customer implements Node {
  id: ID! legacyResourceId: UnsignedInt64! firstName: String lastName: String displayName: String! note: String
  tags: [String!]! numberOfOrders: UnsignedInt64! amountSpent: MoneyV2! verifiedEmail: Boolean!
  createdAt: DateTime! updatedAt: DateTime!
  defaultEmailAddress: CustomerEmailAddress defaultPhoneNumber: CustomerPhoneNumber defaultAddress: MailingAddress
  addressesV2(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): MailingAddressConnection!
}
type CustomerEdge { node: Customer! cursor: String! }
type CustomerConnection { nodes: [Customer!]! edges: [CustomerEdge!]! pageInfo: PageInfo! }

type TaxLine { title: String! rate: Float ratePercentage: Float priceSet: MoneyBag! }

type LineItem implements Node {
  id: ID! sku: String name: String! title: String! variantTitle: String quantity: Int!
  originalUnitPriceSet: MoneyBag! totalDiscountSet: MoneyBag! taxable: Boolean!
  taxLines(first: Int): [TaxLine!]!
}
type LineItemEdge { node: LineItem! cursor: String! }
type LineItemConnection { nodes: [LineItem!]! edges: [LineItemEdge!]! pageInfo: PageInfo! }

type ShippingLine { id: ID title: String! code: String originalPriceSet: MoneyBag! discountedPriceSet: MoneyBag! }
type ShippingLineEdge { node: ShippingLine! cursor: String! }
type ShippingLineConnection { nodes: [ShippingLine!]! edges: [ShippingLineEdge!]! pageInfo: PageInfo! }

type OrderTransaction implements Node {
  id: ID! kind: OrderTransactionKind! status: OrderTransactionStatus! amountSet: MoneyBag! gateway: String processedAt: DateTime
}
type OrderTransactionEdge { node: OrderTransaction! cursor: String! }
type OrderTransactionConnection { nodes: [OrderTransaction!]! edges: [OrderTransactionEdge!]! pageInfo: PageInfo! }

type Refund implements Node {
  id: ID! legacyResourceId: UnsignedInt64! createdAt: DateTime note: String totalRefundedSet: MoneyBag! order: Order!
  transactions(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): OrderTransactionConnection!
}

type Order implements Node {
  id: ID! legacyResourceId: UnsignedInt64! name: String! number: Int! currencyCode: CurrencyCode!
  email: String phone: String note: String tags: [String!]! test: Boolean! closed: Boolean! cancelled: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  createdAt: DateTime! updatedAt: DateTime! processedAt: DateTime! closedAt: DateTime cancelledAt: DateTime cancelReason: OrderCancelReason sourceName: String
  subtotalPriceSet: MoneyBag totalTaxSet: MoneyBag totalShippingPriceSet: MoneyBag! totalDiscountsSet: MoneyBag totalPriceSet: MoneyBag!
  discountCodes: [String!]!
  customer: Customer shippingAddress: MailingAddress billingAddress: MailingAddress
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): LineItemConnection!
  shippingLines(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, includeRemovals: Boolean = false): ShippingLineConnection!
  refunds(first: Int): [Refund!]!
  totalRefundedSet: MoneyBag!
  transactions(first: Int, capturable: Boolean, manuallyResolvable: Boolean): [OrderTransaction!]!
}
type OrderEdge { node: Order! cursor: String! }
type OrderConnection { nodes: [Order!]! edges: [OrderEdge!]! pageInfo: PageInfo! }

type BulkOperation implements Node {
  id: ID! status: BulkOperationStatus! errorCode: BulkOperationErrorCode type: BulkOperationType! query: String!
  createdAt: DateTime! completedAt: DateTime objectCount: UnsignedInt64! rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64 url: URL partialDataUrl: URL
}
type BulkOperationUserError { field: [String!] message: String! code: BulkOperationUserErrorCode }
type UserError { field: [String!] message: String! }
type BulkOperationRunQueryPayload { bulkOperation: BulkOperation userErrors: [BulkOperationUserError!]! }
type BulkOperationCancelPayload { bulkOperation: BulkOperation userErrors: [UserError!]! }
input OrderMarkAsPaidInput { id: ID! }
type OrderMarkAsPaidPayload { order: Order userErrors: [UserError!]! }

type Job { id: ID! done: Boolean! }
enum OrderCancelUserErrorCode { INTERNAL_ERROR INVALID NO_REFUND_PERMISSION NO_REFUND_TO_STORE_CREDIT_PERMISSION NOT_FOUND }
type OrderCancelUserError { field: [String!] message: String! code: OrderCancelUserErrorCode }
input OrderCancelRefundMethodInput { originalPaymentMethodsRefund: Boolean storeCreditRefund: OrderCancelStoreCreditRefundInput }
input OrderCancelStoreCreditRefundInput { expiresAt: DateTime }
type OrderCancelPayload { job: Job orderCancelUserErrors: [OrderCancelUserError!]! userErrors: [UserError!]! }

input OrderTransactionInput { orderId: ID! parentId: ID amount: Money! gateway: String! kind: OrderTransactionKind! }
input RefundLineItemInput { lineItemId: ID! quantity: Int! restockType: String locationId: ID }
input ShippingRefundInput { amount: Money fullRefund: Boolean }
input RefundInput {
  orderId: ID! note: String notify: Boolean currency: CurrencyCode
  transactions: [OrderTransactionInput!] refundLineItems: [RefundLineItemInput!] shipping: ShippingRefundInput
}
type RefundCreatePayload { order: Order refund: Refund userErrors: [UserError!]! }

type TagsAddPayload { node: Node userErrors: [UserError!]! }

input MailingAddressInput {
  firstName: String lastName: String company: String address1: String address2: String city: String
  province: String provinceCode: String zip: String countryCode: CountryCode phone: String
}
input CustomerInput {
  id: ID email: String phone: String firstName: String lastName: String note: String tags: [String!] addresses: [MailingAddressInput!]
}
type CustomerCreatePayload { customer: Customer userErrors: [UserError!]! }
type CustomerUpdatePayload { customer: Customer userErrors: [UserError!]! }

type QueryRoot {
  orders(first: Int, after: String, last: Int, before: String, query: String, sortKey: OrderSortKeys = PROCESSED_AT, reverse: Boolean = false): OrderConnection!
  customers(first: Int, after: String, last: Int, before: String, query: String, sortKey: CustomerSortKeys = ID, reverse: Boolean = false): CustomerConnection!
  order(id: ID!): Order
  customer(id: ID!): Customer
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  bulkOperation(id: ID!): BulkOperation
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
  bulkOperations(first: Int, after: String, query: String, reverse: Boolean = false): BulkOperationConnection!
  currentAppInstallation: AppInstallation!
  job(id: ID!): Job
}

type AccessScope { handle: String! description: String }
type AppInstallation { accessScopes: [AccessScope!]! }

type BulkOperationConnection { nodes: [BulkOperation!]! pageInfo: PageInfo! }

type Mutation {
  bulkOperationRunQuery(query: String!, groupObjects: Boolean! = false): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
  orderMarkAsPaid(input: OrderMarkAsPaidInput!): OrderMarkAsPaidPayload
  orderCancel(orderId: ID!, reason: OrderCancelReason!, refundMethod: OrderCancelRefundMethodInput, refund: Boolean, restock: Boolean!, notifyCustomer: Boolean = false, staffNote: String): OrderCancelPayload
  refundCreate(input: RefundInput!): RefundCreatePayload
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  customerCreate(input: CustomerInput!): CustomerCreatePayload
  customerUpdate(input: CustomerInput!): CustomerUpdatePayload
}
`;

let built: GraphQLSchema | undefined;
export function sandboxSchema(): GraphQLSchema {
  built ??= buildSchema(SANDBOX_SDL);
  return built;
}

/** Shopify's (graphql-ruby's) answer to a field the type does not have. */
const ShopifyFieldsOnCorrectType: ValidationRule = (context) => ({
  Field(node) {
    const type = context.getParentType();
    if (type && !context.getFieldDef()) {
      context.reportError(new GraphQLError(`Field '${node.name.value}' doesn't exist on type '${type.name}'`, {
        nodes: node, extensions: { code: 'undefinedField', typeName: type.name, fieldName: node.name.value },
      }));
    }
  },
});
export const SANDBOX_RULES = [...specifiedRules.filter((r) => r !== FieldsOnCorrectTypeRule), ShopifyFieldsOnCorrectType];

