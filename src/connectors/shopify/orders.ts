import { RemoteRejectedError } from '../../core/errors.js';
import { addAmounts, compareAmounts, fromMinorUnits, toMinorUnits } from '../../core/money.js';
import type { HttpClient } from '../http.js';
import type { PushItem } from '../types.js';

/**
 * Status changes of existing Shopify orders (orders themselves are created by
 * checkout). The order is read first and only what differs is done, so a retried
 * push changes nothing twice:
 * - paid: `orderMarkAsPaid` (GraphQL; REST has no mark-as-paid) while the order is pending or authorized;
 * - cancelled: `POST /orders/{id}/cancel.json` unless already cancelled;
 * - refunded / partially_refunded: a refund of what is still missing of `refundedAmount`,
 *   against the order's successful sale or capture;
 * - a payment failure: the tag `payment-failed`.
 */
export interface OrderStatusPayload {
  status: string;
  orderNumber: string;
  currency: string;
  refundedAmount?: string;
  paymentFailure?: { code?: string; reason?: string };
}

interface ShopifyOrder { id: number; name: string; financial_status: string; cancelled_at: string | null; currency: string; tags: string; refunds?: { transactions?: { kind: string; status: string; amount: string }[] }[] }
interface Transaction { id: number; kind: string; status: string; amount: string; gateway: string }

const MARK_AS_PAID = `mutation orderMarkAsPaid($input: OrderMarkAsPaidInput!) {
  orderMarkAsPaid(input: $input) { order { id displayFinancialStatus } userErrors { field message } }
}`;

export class ShopifyOrderWriter {
  constructor(private readonly http: HttpClient, private readonly apiPath: string, private readonly connection: string) {}

  async findId(item: PushItem, signal?: AbortSignal): Promise<string> {
    if (item.externalId) return item.externalId;
    const number = String((item.payload as unknown as OrderStatusPayload).orderNumber ?? '');
    for (const name of [`#${number}`, number]) {
      const res = await this.http.request<{ orders: { id: number }[] }>({ method: 'GET', url: `${this.apiPath}/orders.json`, params: { name, status: 'any', limit: 1, fields: 'id' }, signal });
      if (res.data.orders?.[0]) return String(res.data.orders[0].id);
    }
    throw new RemoteRejectedError(`${this.connection}: no Shopify order named #${number}; the hub writes status changes of existing orders only`, { status: 404 });
  }

  async apply(item: PushItem, signal?: AbortSignal): Promise<string> {
    const want = item.payload as unknown as OrderStatusPayload;
    const id = await this.findId(item, signal);
    const res = await this.http.request<{ order: ShopifyOrder }>({ method: 'GET', url: `${this.apiPath}/orders/${id}.json`, signal });
    const order = res.data.order;
    const cur = order.currency;
    const pendingish = ['pending', 'authorized', 'partially_paid'].includes(order.financial_status);

    if (want.status === 'cancelled') {
      if (!order.cancelled_at) await this.http.request({ method: 'POST', url: `${this.apiPath}/orders/${id}/cancel.json`, data: {}, signal });
      return id;
    }
    if (['paid', 'shipped', 'completed', 'partially_refunded', 'refunded'].includes(want.status) && pendingish) {
      await this.markAsPaid(id, signal);
    }
    if ((want.status === 'refunded' || want.status === 'partially_refunded') && want.refundedAmount) {
      const done = addAmounts(cur, ...(order.refunds ?? []).flatMap((r) => (r.transactions ?? []).filter((t) => t.kind === 'refund' && t.status === 'success').map((t) => t.amount)));
      if (compareAmounts(want.refundedAmount, done, cur) > 0) {
        const missing = fromMinorUnits(toMinorUnits(want.refundedAmount, cur) - toMinorUnits(done, cur), cur);
        await this.refund(id, missing, signal);
      }
    }
    if (want.status === 'pending_payment' && want.paymentFailure) {
      const tags = order.tags ? order.tags.split(',').map((t) => t.trim()).filter(Boolean) : [];
      if (!tags.includes('payment-failed')) {
        await this.http.request({ method: 'PUT', url: `${this.apiPath}/orders/${id}.json`, data: { order: { id: Number(id), tags: [...tags, 'payment-failed'].join(', ') } }, signal });
      }
    }
    return id;
  }

  private async markAsPaid(id: string, signal?: AbortSignal): Promise<void> {
    const res = await this.http.request<{ data?: { orderMarkAsPaid?: { userErrors: { message: string }[] } }; errors?: unknown }>({
      method: 'POST', url: `${this.apiPath}/graphql.json`, signal,
      data: { query: MARK_AS_PAID, variables: { input: { id: `gid://shopify/Order/${id}` } } },
    });
    const errors = res.data.errors ?? res.data.data?.orderMarkAsPaid?.userErrors;
    if (!res.data.data?.orderMarkAsPaid || (Array.isArray(errors) && errors.length)) {
      throw new RemoteRejectedError(`${this.connection}: orderMarkAsPaid refused: ${JSON.stringify(errors ?? res.data)}`, { status: 422 });
    }
  }

  private async refund(id: string, amount: string, signal?: AbortSignal): Promise<void> {
    const txs = await this.http.request<{ transactions: Transaction[] }>({ method: 'GET', url: `${this.apiPath}/orders/${id}/transactions.json`, signal });
    const parent = txs.data.transactions.find((t) => (t.kind === 'sale' || t.kind === 'capture') && t.status === 'success');
    if (!parent) throw new RemoteRejectedError(`${this.connection}: order ${id} has no successful sale or capture to refund against`, { status: 422 });
    await this.http.request({
      method: 'POST', url: `${this.apiPath}/orders/${id}/refunds.json`, signal,
      data: { refund: { notify: false, note: 'Refund recorded by synchub from the payment provider', transactions: [{ parent_id: parent.id, amount, kind: 'refund', gateway: parent.gateway }] } },
    });
  }
}
