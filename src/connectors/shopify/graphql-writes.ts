import { createHash } from 'node:crypto';
import { RemoteRejectedError, RemoteUnavailableError } from '../../core/errors.js';
import { compareAmounts, fromMinorUnits, toMinorUnits } from '../../core/money.js';
import { sleep } from '../http.js';
import type { PushItem } from '../types.js';
import type { ShopifyGraphql } from './graphql.js';
import type { OrderStatusPayload } from './orders.js';
import type { ShopifyWriter } from './writes.js';
import {
  CUSTOMER_BY_EMAIL, CUSTOMER_CREATE, CUSTOMER_UPDATE, JOB_QUERY, ORDER_BY_NAME, ORDER_CANCEL, ORDER_MARK_AS_PAID, ORDER_STATE, REFUND_CREATE, TAGS_ADD,
} from './graphql-mutations.js';

/**
 * Write-backs through the GraphQL Admin API (`api: graphql`), the same changes as the
 * REST writer (writes.ts, orders.ts), read first so a retry changes nothing twice:
 * - paid: `orderMarkAsPaid` while the order is PENDING, AUTHORIZED or PARTIALLY_PAID;
 * - cancelled: `orderCancel` unless `cancelledAt` is set. It cancels in a background job
 *   (shopify.dev mutations/orderCancel): the job is followed until done and the order read
 *   again, so success means the order is cancelled. No refund (refundMethod
 *   originalPaymentMethodsRefund: false), no restock, no customer notification: the hub
 *   records what the payment provider already did, as the REST path's `cancel.json` does;
 * - refunded / partially_refunded: `refundCreate` of what is still missing of
 *   `refundedAmount` (Order.totalRefundedSet), against the order's successful SALE or
 *   CAPTURE. Since 2026-04 refundCreate needs the `@idempotent(key:)` directive
 *   (shopify.dev changelog "Making idempotency mandatory for inventory adjustments and
 *   refund mutations"); the key is derived from the order and the refunded total it
 *   brings the order to, so a retry of the same refund is the same request;
 * - a payment failure: `tagsAdd` of `payment-failed` unless the order has it.
 * Customers: update by linked id, else `customers(query: "email:…")` first, then
 * `customerUpdate` or `customerCreate`. `userErrors` (and `orderCancelUserErrors`) are the
 * record's refusal: RemoteRejectedError, which dead-letters it with their messages.
 */

interface UserError { field?: string[] | null; message: string; code?: string | null }
interface OrderState {
  id: string; legacyResourceId: string; currencyCode: string; displayFinancialStatus: string | null; cancelledAt: string | null; tags: string[];
  totalRefundedSet: { shopMoney: { amount: string } };
  transactions: { id: string; kind: string; status: string; gateway: string | null }[];
}

const PENDINGISH = new Set(['PENDING', 'AUTHORIZED', 'PARTIALLY_PAID']);
const PAID_OR_LATER = new Set(['paid', 'shipped', 'completed', 'partially_refunded', 'refunded']);
/** Waits between looks at an orderCancel job (shopify.dev objects/Job: `done`). */
export const CANCEL_JOB_POLL_MS = [100, 250, 500, 1000, 2000];
const PAYMENT_FAILED_TAG = 'payment-failed';

/** An id the hub sends back to Shopify: REST ids are unsigned 64-bit integers. */
function numericId(id: string, connection: string): string {
  if (!/^\d{1,20}$/.test(id)) throw new RemoteRejectedError(`${connection}: Shopify id must be numeric, got ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}

/** A value inside a double-quoted search term (shopify.dev api/usage/search-syntax): backslash and quote escaped. */
export function searchValue(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** A UUID-shaped key from the parts that make one refund what it is. */
export function refundIdempotencyKey(orderId: string, refundedTotal: string): string {
  const h = createHash('sha256').update(`synchub-refund:${orderId}:${refundedTotal}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** REST-shaped customer payload (customer.out.jsonata) → CustomerInput; undefined fields are left out. */
export function customerInput(p: Record<string, any>, withAddresses: boolean): Record<string, unknown> {
  const input: Record<string, unknown> = {
    email: p.email, phone: p.phone, firstName: p.first_name, lastName: p.last_name, note: p.note,
    tags: typeof p.tags === 'string' ? p.tags.split(',').map((t: string) => t.trim()).filter(Boolean) : p.tags,
  };
  // Addresses are set when the customer is created; customerUpdate's list would replace the customer's own.
  if (withAddresses && Array.isArray(p.addresses)) input.addresses = p.addresses.map(mailingAddressInput);
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
}

function mailingAddressInput(a: Record<string, any>): Record<string, unknown> {
  const region = typeof a.province === 'string' ? a.province : undefined;
  // MailingAddressInput takes a region as provinceCode ("QC") or, by name, as province.
  const isCode = region !== undefined && /^[A-Z0-9]{1,3}$/.test(region);
  const out: Record<string, unknown> = {
    firstName: a.first_name, lastName: a.last_name, company: a.company, address1: a.address1, address2: a.address2,
    city: a.city, zip: a.zip, countryCode: a.country_code, phone: a.phone,
    ...(region === undefined ? {} : isCode ? { provinceCode: region } : { province: region }),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined && v !== null));
}

export class GraphqlShopifyWriter implements ShopifyWriter {
  constructor(private readonly graphql: ShopifyGraphql, private readonly connection: string, private readonly pollMs = CANCEL_JOB_POLL_MS) {}

  /** userErrors of a mutation → the record's refusal, with Shopify's messages. */
  private refused(op: string, payload: { userErrors?: UserError[]; orderCancelUserErrors?: UserError[] } | null | undefined): void {
    if (!payload) throw new RemoteRejectedError(`${this.connection}: ${op} answered no payload`, { status: 422 });
    const errors = [...(payload.userErrors ?? []), ...(payload.orderCancelUserErrors ?? [])];
    if (!errors.length) return;
    const text = errors.map((e) => `${e.field?.length ? `${e.field.join('.')}: ` : ''}${e.message}${e.code ? ` (${e.code})` : ''}`).join('; ');
    throw new RemoteRejectedError(`${this.connection}: ${op} refused: ${text}`, { status: 422, details: { userErrors: errors } });
  }

  private async findOrderId(item: PushItem, signal?: AbortSignal): Promise<string> {
    if (item.externalId) return numericId(item.externalId, this.connection);
    const number = String((item.payload as unknown as OrderStatusPayload).orderNumber ?? '');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(number)) throw new RemoteRejectedError(`${this.connection}: order number ${JSON.stringify(number.slice(0, 64))} is not one Shopify gives`);
    for (const name of [`#${number}`, number]) {
      const data = await this.graphql.query<{ orders: { nodes: { legacyResourceId: string; name: string }[] } }>(ORDER_BY_NAME, { query: `name:${searchValue(name)}` }, signal);
      // Search matches loosely: only the order of exactly this name is the one.
      const hit = data.orders?.nodes?.find((o) => o.name === name);
      if (hit) return numericId(hit.legacyResourceId, this.connection);
    }
    throw new RemoteRejectedError(`${this.connection}: no Shopify order named #${number}; the hub writes status changes of existing orders only`, { status: 404 });
  }

  private async readOrder(gid: string, signal?: AbortSignal): Promise<OrderState> {
    const data = await this.graphql.query<{ order: OrderState | null }>(ORDER_STATE, { id: gid }, signal);
    if (!data.order) throw new RemoteRejectedError(`${this.connection}: order ${gid} does not exist`, { status: 404 });
    return data.order;
  }

  async order(item: PushItem, signal?: AbortSignal): Promise<string> {
    const want = item.payload as unknown as OrderStatusPayload;
    const id = await this.findOrderId(item, signal);
    const gid = `gid://shopify/Order/${id}`;
    let order = await this.readOrder(gid, signal);

    if (want.status === 'cancelled') {
      if (!order.cancelledAt) await this.cancel(gid, signal);
      return id;
    }
    const refundWanted = (want.status === 'refunded' || want.status === 'partially_refunded') && Boolean(want.refundedAmount);
    if (PAID_OR_LATER.has(want.status) && PENDINGISH.has(order.displayFinancialStatus ?? '')) {
      const data = await this.graphql.query<{ orderMarkAsPaid: { userErrors: UserError[] } | null }>(ORDER_MARK_AS_PAID, { input: { id: gid } }, signal);
      this.refused('orderMarkAsPaid', data.orderMarkAsPaid);
      // Marking paid adds the sale a refund goes against.
      if (refundWanted) order = await this.readOrder(gid, signal);
    }
    if (refundWanted) await this.refundMissing(order, want.refundedAmount!, signal);
    if (want.status === 'pending_payment' && want.paymentFailure && !order.tags.includes(PAYMENT_FAILED_TAG)) {
      const data = await this.graphql.query<{ tagsAdd: { userErrors: UserError[] } | null }>(TAGS_ADD, { id: gid, tags: [PAYMENT_FAILED_TAG] }, signal);
      this.refused('tagsAdd', data.tagsAdd);
    }
    return id;
  }

  private async refundMissing(order: OrderState, refundedAmount: string, signal?: AbortSignal): Promise<void> {
    const cur = order.currencyCode;
    const done = order.totalRefundedSet?.shopMoney?.amount ?? '0';
    if (compareAmounts(refundedAmount, done, cur) <= 0) return;
    const missing = fromMinorUnits(toMinorUnits(refundedAmount, cur) - toMinorUnits(done, cur), cur);
    const parent = order.transactions.find((t) => (t.kind === 'SALE' || t.kind === 'CAPTURE') && t.status === 'SUCCESS');
    if (!parent) throw new RemoteRejectedError(`${this.connection}: order ${order.legacyResourceId} has no successful sale or capture to refund against`, { status: 422 });
    const input = {
      orderId: order.id,
      notify: false,
      note: 'Refund recorded by synchub from the payment provider',
      transactions: [{ orderId: order.id, parentId: parent.id, amount: missing, gateway: parent.gateway ?? 'manual', kind: 'REFUND' }],
    };
    const key = refundIdempotencyKey(order.legacyResourceId, fromMinorUnits(toMinorUnits(refundedAmount, cur), cur));
    const data = await this.graphql.query<{ refundCreate: { userErrors: UserError[] } | null }>(REFUND_CREATE, { input, idempotencyKey: key }, signal);
    this.refused('refundCreate', data.refundCreate);
  }

  private async cancel(gid: string, signal?: AbortSignal): Promise<void> {
    const data = await this.graphql.query<{ orderCancel: { job: { id: string; done: boolean } | null; orderCancelUserErrors: UserError[] } | null }>(ORDER_CANCEL, {
      orderId: gid,
      reason: 'OTHER',
      refundMethod: { originalPaymentMethodsRefund: false },
      restock: false,
      notifyCustomer: false,
      staffNote: 'Cancelled by synchub: the payment provider reports the payment cancelled',
    }, signal);
    this.refused('orderCancel', data.orderCancel);
    let job = data.orderCancel!.job;
    for (const ms of this.pollMs) {
      if (!job || job.done) break;
      await sleep(ms, signal);
      job = (await this.graphql.query<{ job: { id: string; done: boolean } | null }>(JOB_QUERY, { id: job.id }, signal)).job ?? job;
    }
    if (job && !job.done) {
      // Still queued: the next attempt reads the order first and cancels only if it is not cancelled by then.
      throw new RemoteUnavailableError(`${this.connection}: the orderCancel job ${job.id} of ${gid} is still running`);
    }
    const after = await this.readOrder(gid, signal);
    if (!after.cancelledAt) throw new RemoteRejectedError(`${this.connection}: the orderCancel job of ${gid} finished but the order is not cancelled`, { status: 422 });
  }

  async customer(item: PushItem, signal?: AbortSignal): Promise<string> {
    const p = item.payload as Record<string, any>;
    let id = item.externalId ? numericId(item.externalId, this.connection) : undefined;
    if (!id && typeof p.email === 'string' && p.email) {
      if (p.email.length > 320) throw new RemoteRejectedError(`${this.connection}: the customer's email is longer than an email can be`);
      const data = await this.graphql.query<{ customers: { nodes: { legacyResourceId: string; defaultEmailAddress: { emailAddress: string } | null }[] } }>(
        CUSTOMER_BY_EMAIL, { query: `email:${searchValue(p.email)}` }, signal);
      const hit = data.customers?.nodes?.find((c) => c.defaultEmailAddress?.emailAddress?.toLowerCase() === p.email.toLowerCase());
      if (hit) id = numericId(hit.legacyResourceId, this.connection);
    }
    if (id) {
      const data = await this.graphql.query<{ customerUpdate: { customer: { legacyResourceId: string } | null; userErrors: UserError[] } | null }>(
        CUSTOMER_UPDATE, { input: { ...customerInput(p, false), id: `gid://shopify/Customer/${id}` } }, signal);
      this.refused('customerUpdate', data.customerUpdate);
      return id;
    }
    const data = await this.graphql.query<{ customerCreate: { customer: { legacyResourceId: string } | null; userErrors: UserError[] } | null }>(
      CUSTOMER_CREATE, { input: customerInput(p, true) }, signal);
    this.refused('customerCreate', data.customerCreate);
    const created = data.customerCreate!.customer;
    if (!created) throw new RemoteRejectedError(`${this.connection}: customerCreate answered no customer`, { status: 422 });
    return numericId(created.legacyResourceId, this.connection);
  }
}
