import type { Hono } from 'hono';
import { fromMinorUnits, toMinorUnits } from '../core/money.js';

type Order = Record<string, any>;
export interface Transaction { id: number; order_id: number; kind: string; status: string; amount: string; currency: string; gateway: string; parent_id?: number; created_at: string }
/** A write the shop refused, with the message Shopify gives and the input field it names. */
export interface Refusal { error: string; field?: string[]; notFound?: boolean }

/**
 * The order writes of the Shopify Admin API the hub makes when a payment result changes an
 * order, over the sandbox shop's own orders, so a payment moves the order the shop shows.
 * One set of effects, answered by both APIs: REST (src/connectors/shopify/orders.ts) through
 * `routes`, GraphQL (graphql-writes.ts) through the methods, called by
 * src/sandbox/shopify-graphql/mutations.ts:
 * - mark as paid (`orderMarkAsPaid`): financial_status paid and a manual sale transaction;
 * - cancel (`POST /orders/{id}/cancel.json`, `orderCancel`): cancelled_at set; an unpaid order is voided;
 * - refund (`POST /orders/{id}/refunds.json`, `refundCreate`) against a sale or capture:
 *   financial_status partially_refunded or refunded by the amounts refunded, never more than was paid;
 * - tags and note (`PUT /orders/{id}.json`, `tagsAdd`).
 * Every write moves `updated_at`, as Shopify does. Shapes follow the REST Order, Transaction and
 * Refund resources (shopify.dev/docs/api/admin-rest/2026-10/resources/order, …/transaction, …/refund).
 */
export class ShopOrderWrites {
  private readonly transactions = new Map<number, Transaction[]>();
  private nextId = 389_404_469;
  /** Writes received, by kind (tests and the demo's summary). */
  readonly counts = { markAsPaid: 0, cancel: 0, refund: 0, update: 0 };

  constructor(private readonly order: (id: number) => Order | undefined) {}

  private touch(order: Order): void {
    order.updated_at = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /** An order's transactions, as Shopify lists them; orders seeded paid get their sale on first read. */
  transactionsOf(order: Order): Transaction[] {
    let txs = this.transactions.get(order.id);
    if (!txs) {
      txs = ['paid', 'partially_refunded', 'refunded'].includes(order.financial_status) ? [this.sale(order)] : [];
      this.transactions.set(order.id, txs);
    }
    return txs;
  }

  private sale(order: Order): Transaction {
    return { id: this.nextId++, order_id: order.id, kind: 'sale', status: 'success', amount: order.total_price, currency: order.currency, gateway: 'manual', created_at: new Date().toISOString() };
  }

  /** What has been refunded of an order, in minor units. */
  refundedMinor(order: Order): bigint {
    const cur = order.currency as string;
    return (order.refunds ?? []).flatMap((r: Order) => r.transactions ?? []).reduce((s: bigint, t: Order) => s + toMinorUnits(t.amount, cur), 0n);
  }

  markAsPaid(id: number): { order: Order } | Refusal {
    const order = this.order(id);
    if (!order) return { error: 'Order does not exist', notFound: true };
    if (order.cancelled_at) return { error: 'Order is cancelled' };
    if (!['pending', 'authorized', 'partially_paid'].includes(order.financial_status)) return { error: 'Order cannot be marked as paid' };
    this.transactionsOf(order).push(this.sale(order));
    order.financial_status = 'paid';
    this.counts.markAsPaid++;
    this.touch(order);
    return { order };
  }

  /** `reason` as REST writes it (customer, fraud, inventory, declined, staff, other). */
  cancel(id: number, reason = 'other'): { order: Order } | Refusal {
    const order = this.order(id);
    if (!order) return { error: 'Order does not exist', notFound: true };
    if (order.cancelled_at) return { error: 'Order has already been cancelled' };
    order.cancelled_at = new Date().toISOString();
    order.cancel_reason = reason;
    if (['pending', 'authorized'].includes(order.financial_status)) order.financial_status = 'voided';
    this.counts.cancel++;
    this.touch(order);
    return { order };
  }

  /** A refund of `amount` against the sale or capture `parentId`; refused beyond what was paid. */
  refund(id: number, ask: { parentId?: number; amount?: string; note?: string | null }): { refund: Order; order: Order } | Refusal {
    const order = this.order(id);
    if (!order) return { error: 'Order does not exist', notFound: true };
    const parent = this.transactionsOf(order).find((t) => t.id === ask.parentId && (t.kind === 'sale' || t.kind === 'capture') && t.status === 'success');
    if (!ask.amount || !parent) return { error: 'a refund needs the amount and the parent sale or capture', field: ['transactions'] };
    const cur = order.currency as string;
    let amount: bigint;
    try {
      amount = toMinorUnits(ask.amount, cur);
    } catch {
      return { error: 'Amount is invalid', field: ['transactions', '0', 'amount'] };
    }
    if (amount <= 0n) return { error: 'Amount must be greater than 0', field: ['transactions', '0', 'amount'] };
    const total = this.refundedMinor(order) + amount;
    if (total > toMinorUnits(order.total_price, cur)) return { error: 'Refund amount exceeds the amount that can be refunded', field: ['transactions', '0', 'amount'] };
    const tx: Transaction = { id: this.nextId++, order_id: order.id, kind: 'refund', status: 'success', amount: fromMinorUnits(amount, cur), currency: cur, gateway: parent.gateway, parent_id: parent.id, created_at: new Date().toISOString() };
    this.transactionsOf(order).push(tx);
    const refund = { id: this.nextId++, order_id: order.id, created_at: tx.created_at, note: ask.note ?? null, transactions: [tx] };
    order.refunds = [...(order.refunds ?? []), refund];
    order.financial_status = total >= toMinorUnits(order.total_price, cur) ? 'refunded' : 'partially_refunded';
    this.counts.refund++;
    this.touch(order);
    return { refund, order };
  }

  /** Sets tags (a comma-separated list, as REST writes it) and the note. */
  update(id: number, change: { tags?: string; note?: string }): { order: Order } | Refusal {
    const order = this.order(id);
    if (!order) return { error: 'Order does not exist', notFound: true };
    if (typeof change.tags === 'string') order.tags = change.tags;
    if (typeof change.note === 'string') order.note = change.note;
    this.counts.update++;
    this.touch(order);
    return { order };
  }

  /** `tagsAdd`: the tags the order does not have yet, added to its list. */
  addTags(id: number, tags: string[]): { order: Order } | Refusal {
    const order = this.order(id);
    if (!order) return { error: 'Order does not exist', notFound: true };
    const have = typeof order.tags === 'string' && order.tags ? order.tags.split(',').map((t: string) => t.trim()).filter(Boolean) : [];
    return this.update(id, { tags: [...new Set([...have, ...tags.map((t) => t.trim()).filter(Boolean)])].join(', ') });
  }

  routes(app: Hono): void {
    const notFound = { errors: 'Not Found' };
    app.post('/admin/api/:version/orders/:id/cancel.json', (c) => {
      const result = this.cancel(Number(c.req.param('id')));
      if ('error' in result) return result.notFound ? c.json(notFound, 404) : c.json({ errors: { base: [result.error] } }, 422);
      return c.json({ order: result.order });
    });
    app.get('/admin/api/:version/orders/:id/transactions.json', (c) => {
      const order = this.order(Number(c.req.param('id')));
      return order ? c.json({ transactions: this.transactionsOf(order) }) : c.json(notFound, 404);
    });
    app.post('/admin/api/:version/orders/:id/refunds.json', async (c) => {
      const body = (await c.req.json().catch(() => null)) as { refund?: { note?: string; transactions?: { parent_id?: number; amount?: string }[] } } | null;
      const asked = body?.refund?.transactions?.[0];
      const result = this.refund(Number(c.req.param('id')), { parentId: asked?.parent_id, amount: asked?.amount, note: body?.refund?.note });
      if ('error' in result) {
        if (result.notFound) return c.json(notFound, 404);
        return c.json({ errors: result.field?.[0] === 'transactions' && !result.field[1] ? { transactions: [result.error] } : { base: [result.error] } }, 422);
      }
      return c.json({ refund: result.refund }, 201);
    });
    app.put('/admin/api/:version/orders/:file', async (c) => {
      const id = Number(c.req.param('file').replace(/\.json$/, ''));
      if (!this.order(id)) return c.json(notFound, 404);
      const body = (await c.req.json().catch(() => null)) as { order?: { tags?: string; note?: string } } | null;
      if (!body?.order) return c.json({ errors: { order: ['is required'] } }, 400);
      const result = this.update(id, body.order);
      return 'error' in result ? c.json(notFound, 404) : c.json({ order: result.order });
    });
  }
}
