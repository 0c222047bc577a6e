/**
 * GraphQL Admin API documents of the write-backs (graphql-writes.ts), as shopify.dev
 * documents them for 2026-10: mutations/orderMarkAsPaid, mutations/orderCancel (returns a
 * Job; OrderCancelPayload.orderCancelUserErrors, `userErrors` deprecated), mutations/
 * refundCreate (input RefundInput, transactions OrderTransactionInput { orderId parentId
 * amount gateway kind }; the @idempotent directive mandatory since 2026-04), mutations/
 * tagsAdd, mutations/customerCreate and customerUpdate (CustomerInput), queries/job.
 */

export const ORDER_BY_NAME = `query SynchubOrderByName($query: String!) {
  orders(first: 1, query: $query) { nodes { id legacyResourceId name } }
}`;

/** What the read-first step needs: financial status, cancellation, tags, refunded total and the transactions a refund goes against. */
export const ORDER_STATE = `query SynchubOrderState($id: ID!) {
  order(id: $id) {
    id legacyResourceId currencyCode displayFinancialStatus cancelledAt tags
    totalRefundedSet { shopMoney { amount currencyCode } }
    transactions(first: 100) { id kind status gateway }
  }
}`;

export const ORDER_MARK_AS_PAID = `mutation SynchubOrderMarkAsPaid($input: OrderMarkAsPaidInput!) {
  orderMarkAsPaid(input: $input) { order { id displayFinancialStatus } userErrors { field message } }
}`;

export const ORDER_CANCEL = `mutation SynchubOrderCancel($orderId: ID!, $reason: OrderCancelReason!, $refundMethod: OrderCancelRefundMethodInput!, $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, refundMethod: $refundMethod, restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done } orderCancelUserErrors { field message code }
  }
}`;

export const JOB_QUERY = `query SynchubJob($id: ID!) { job(id: $id) { id done } }`;

export const REFUND_CREATE = `mutation SynchubRefundCreate($input: RefundInput!, $idempotencyKey: String!) {
  refundCreate(input: $input) @idempotent(key: $idempotencyKey) {
    refund { id totalRefundedSet { shopMoney { amount currencyCode } } } userErrors { field message }
  }
}`;

export const TAGS_ADD = `mutation SynchubTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}`;

export const CUSTOMER_BY_EMAIL = `query SynchubCustomerByEmail($query: String!) {
  customers(first: 1, query: $query) { nodes { id legacyResourceId defaultEmailAddress { emailAddress } } }
}`;

export const CUSTOMER_CREATE = `mutation SynchubCustomerCreate($input: CustomerInput!) {
  customerCreate(input: $input) { customer { id legacyResourceId } userErrors { field message } }
}`;

export const CUSTOMER_UPDATE = `mutation SynchubCustomerUpdate($input: CustomerInput!) {
  customerUpdate(input: $input) { customer { id legacyResourceId } userErrors { field message } }
}`;

/** Removal (removal.ts): shopify.dev mutations/customerDelete ("You can only delete customers who haven't placed any orders"). */
export const CUSTOMER_DELETE = `mutation SynchubCustomerDelete($input: CustomerDeleteInput!) {
  customerDelete(input: $input) { deletedCustomerId userErrors { field message } }
}`;

/** mutations/orderDelete: "You can only delete specific order types"; the others can be cancelled or closed. */
export const ORDER_DELETE = `mutation SynchubOrderDelete($orderId: ID!) {
  orderDelete(orderId: $orderId) { deletedId userErrors { field message code } }
}`;

/** mutations/orderClose: closes (archives, in the admin's words) an order. */
export const ORDER_CLOSE = `mutation SynchubOrderClose($input: OrderCloseInput!) {
  orderClose(input: $input) { order { id closed } userErrors { field message } }
}`;
