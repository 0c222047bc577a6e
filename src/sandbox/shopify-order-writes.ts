import type { Hono } from 'hono';
import { fromMinorUnits, toMinorUnits } from '../core/money.js';

type Order = Record<string, any>;
interface Transaction { id: number; order_id: number; kind: string; status: string; amount: string; currency: string; gateway: string; parent_id?: number; created_at: string }

/**
 * The order writes of the Shopify Admin API the hub makes when a payment result changes an
 * order (src/connectors/shopify/orders.ts), over the sandbox shop's own orders, so a payment
 * moves the order the shop shows:
 * - `orderMarkAsPaid` (GraphQL, `markAsPaid`): financial_status paid and a manual sale transaction;
 * - `POST /orders/{id}/cancel.json`: cancelled_at set; an unpaid order is voided;
 * - `GET /orders/{id}/transactions.json` and `POST /orders/{id}/refunds.json` (a refund against a
 *   sale): financial_status partially_refunded or refunded by the amounts refunded;
 * - `PUT /orders/{id}.json`: tags and note.
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

  /** A paid order's sale, as Shopify lists it; orders seeded paid get theirs on first read. */
  private list(order: Order): Transaction[] {
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

  markAsPaid(id: number): { order: Order } | { error: string } {
    const order = this.order(id);
    if (!order) return { error: 'Order does not exist' };
    if (order.cancelled_at) return { error: 'Order is cancelled' };
    if (!['pending', 'authorized', 'partially_paid'].includes(order.financial_status)) return { error: 'Order cannot be marked as paid' };
    this.list(order).push(this.sale(order));
    order.financial_status = 'paid';
    this.counts.markAsPaid++;
    this.touch(order);
    return { order };
  }

  routes(app: Hono): void {
    const found = (id: string) => this.order(Number(id));
    const notFound = { errors: 'Not Found' };
    app.post('/admin/api/:version/orders/:id/cancel.json', (c) => {
      const order = found(c.req.param('id'));
      if (!order) return c.json(notFound, 404);
      if (order.cancelled_at) return c.json({ errors: { base: ['Order has already been cancelled'] } }, 422);
      order.cancelled_at = new Date().toISOString();
      order.cancel_reason = 'other';
      if (['pending', 'authorized'].includes(order.financial_status)) order.financial_status = 'voided';
      this.counts.cancel++;
      this.touch(order);
      return c.json({ order });
    });
    app.get('/admin/api/:version/orders/:id/transactions.json', (c) => {
      const order = found(c.req.param('id'));
      return order ? c.json({ transactions: this.list(order) }) : c.json(notFound, 404);
    });
    app.post('/admin/api/:version/orders/:id/refunds.json', async (c) => {
      const order = found(c.req.param('id'));
      if (!order) return c.json(notFound, 404);
      const body = (await c.req.json().catch(() => null)) as { refund?: { transactions?: { parent_id?: number; amount?: string }[] } } | null;
      const asked = body?.refund?.transactions?.[0];
      const parent = this.list(order).find((t) => t.id === asked?.parent_id && (t.kind === 'sale' || t.kind === 'capture'));
      if (!asked?.amount || !parent) return c.json({ errors: { transactions: ['a refund needs the amount and the parent sale or capture'] } }, 422);
      const cur = order.currency as string;
      const refunded = (order.refunds ?? []).flatMap((r: Order) => r.transactions ?? []).reduce((s: bigint, t: Order) => s + toMinorUnits(t.amount, cur), 0n);
      const total = refunded + toMinorUnits(asked.amount, cur);
      if (total > toMinorUnits(order.total_price, cur)) return c.json({ errors: { base: ['Refund amount exceeds the amount that can be refunded'] } }, 422);
      const tx: Transaction = { id: this.nextId++, order_id: order.id, kind: 'refund', status: 'success', amount: fromMinorUnits(toMinorUnits(asked.amount, cur), cur), currency: cur, gateway: parent.gateway, parent_id: parent.id, created_at: new Date().toISOString() };
      this.list(order).push(tx);
      const refund = { id: this.nextId++, order_id: order.id, created_at: tx.created_at, note: (body?.refund as Order | undefined)?.note ?? null, transactions: [tx] };
      order.refunds = [...(order.refunds ?? []), refund];
      order.financial_status = total >= toMinorUnits(order.total_price, cur) ? 'refunded' : 'partially_refunded';
      this.counts.refund++;
      this.touch(order);
      return c.json({ refund }, 201);
    });
    app.put('/admin/api/:version/orders/:file', async (c) => {
      const order = found(c.req.param('file').replace(/\.json$/, ''));
      if (!order) return c.json(notFound, 404);
      const body = (await c.req.json().catch(() => null)) as { order?: { tags?: string; note?: string } } | null;
      if (!body?.order) return c.json({ errors: { order: ['is required'] } }, 400);
      if (typeof body.order.tags === 'string') order.tags = body.order.tags;
      if (typeof body.order.note === 'string') order.note = body.order.note;
      this.counts.update++;
      this.touch(order);
      return c.json({ order });
    });
  }
}
