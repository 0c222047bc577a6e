import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { pushEach } from '../shared.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';
import { odooTransport, type Domain, type OdooTransport } from './transport.js';

export const ODOO_MAX_PAGE = 500;

export const MODELS: Record<Entity, string> = { customer: 'res.partner', order: 'sale.order', payment: 'account.payment' };

const FIELDS: Record<Entity, string[]> = {
  customer: ['id', 'name', 'email', 'phone', 'mobile', 'street', 'street2', 'city', 'zip', 'state_id', 'country_id', 'ref', 'is_company', 'company_name', 'create_date', 'write_date'],
  order: ['id', 'name', 'client_order_ref', 'state', 'partner_id', 'currency_id', 'amount_untaxed', 'amount_tax', 'amount_total', 'date_order', 'order_line', 'invoice_ids', 'note', 'create_date', 'write_date'],
  payment: ['id', 'name', 'amount', 'currency_id', 'state', 'payment_type', 'partner_id', 'ref', 'memo', 'date', 'create_date', 'write_date'],
};
const LINE_FIELDS = ['id', 'order_id', 'name', 'product_id', 'product_uom_qty', 'price_unit', 'discount', 'price_subtotal', 'price_tax', 'price_total', 'display_type'];

/**
 * Keyset on (write_date, id), expressed as an Odoo domain, with `limit` pages:
 * a record written while a run pages cannot shift a page boundary (as `offset` would),
 * and records sharing a second are neither skipped nor read twice.
 */
export interface OdooCursor { since?: string; afterId?: number }

export class OdooClient {
  private readonly orm: OdooTransport;

  constructor(private readonly conn: Connection, ctx: ConnectorContext, orm?: OdooTransport) {
    this.orm = orm ?? odooTransport(conn, ctx);
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const cursor = (req.cursor ?? {}) as OdooCursor;
    const limit = Math.min(req.pageSize, ODOO_MAX_PAGE);
    const domain: Domain = cursor.since
      ? ['|', ['write_date', '>', cursor.since], '&', ['write_date', '=', cursor.since], ['id', '>', cursor.afterId ?? 0]]
      : [];
    const records = await this.orm.searchRead(MODELS[entity], domain, FIELDS[entity], { limit, order: 'write_date asc, id asc' }, req.signal);
    if (!Array.isArray(records)) throw new RemoteRejectedError(`${this.conn.name}: search_read on ${MODELS[entity]} did not answer a list`);
    if (entity === 'order' && records.length) await this.attachOrderDetails(records, req.signal);
    const last = records[records.length - 1];
    const next: OdooCursor = last ? { since: last.write_date, afterId: last.id } : cursor;
    return { records, cursor: next, done: records.length < limit };
  }

  /** Lines and invoice payment states, read for a whole page in two calls. */
  private async attachOrderDetails(orders: Record<string, any>[], signal?: AbortSignal): Promise<void> {
    const ids = orders.map((o) => o.id);
    const lines = await this.orm.searchRead('sale.order.line', [['order_id', 'in', ids]], LINE_FIELDS, { order: 'order_id asc, sequence asc, id asc' }, signal);
    const invoiceIds = orders.flatMap((o) => (Array.isArray(o.invoice_ids) ? o.invoice_ids : []));
    const invoices = invoiceIds.length
      ? await this.orm.searchRead('account.move', [['id', 'in', invoiceIds]], ['id', 'payment_state', 'amount_residual', 'state'], {}, signal)
      : [];
    for (const o of orders) {
      o.lines = lines.filter((l) => (Array.isArray(l.order_id) ? l.order_id[0] : l.order_id) === o.id && !l.display_type);
      o.invoices = invoices.filter((i) => (o.invoice_ids ?? []).includes(i.id));
    }
  }

  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null> {
    const [rec] = await this.orm.searchRead(MODELS[entity], [['id', '=', Number(id)]], FIELDS[entity], { limit: 1 }, signal);
    if (!rec) return null;
    if (entity === 'order') await this.attachOrderDetails([rec], signal);
    return rec;
  }

  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    if (entity === 'payment') throw new NotSupportedError('odoo push of payment (account.payment is pull only)');
    return pushEach(items, async (item) => String(entity === 'customer' ? await this.upsertPartner(item.payload, item.externalId, signal) : await this.upsertOrder(item, signal)));
  }

  /** Odoo has no upsert: by linked id, else by `ref`, else by email, before a create. */
  private async upsertPartner(vals: Record<string, unknown>, linked: string | undefined, signal?: AbortSignal): Promise<number> {
    let id = linked ? Number(linked) : undefined;
    for (const field of ['ref', 'email'] as const) {
      if (id || !vals[field]) continue;
      const [hit] = await this.orm.searchRead('res.partner', [[field, '=', vals[field]]], ['id'], { limit: 1 }, signal);
      id = hit?.id;
    }
    if (id) {
      await this.orm.write('res.partner', [id], vals, signal);
      return id;
    }
    return this.orm.create('res.partner', vals, signal);
  }

  /**
   * Sale orders: by linked id, else by client_order_ref (the hub's order number), before
   * a create; lines name their product by default_code (SKU), which must exist in Odoo.
   * The state moves through Odoo's own actions (action_confirm, action_cancel), never a write.
   */
  private async upsertOrder(item: PushItem, signal?: AbortSignal): Promise<number> {
    const { partner, lines, state, ...header } = item.payload as { partner?: Record<string, unknown>; lines?: Record<string, any>[]; state?: string; client_order_ref?: string };
    let id = item.externalId ? Number(item.externalId) : undefined;
    let current: string | undefined;
    const [found] = await this.orm.searchRead('sale.order', id ? [['id', '=', id]] : [['client_order_ref', '=', header.client_order_ref ?? '']], ['id', 'state'], { limit: 1 }, signal);
    if (found) {
      id = found.id;
      current = found.state;
    }
    if (!id) {
      const partnerId = partner ? await this.upsertPartner(partner, undefined, signal) : undefined;
      if (!partnerId) throw new RemoteRejectedError(`${this.conn.name}: order ${item.key} has no customer to create the sale order for`, { status: 422 });
      const orderLines = [];
      for (const l of lines ?? []) {
        const { default_code, ...line } = l;
        const [product] = default_code ? await this.orm.searchRead('product.product', [['default_code', '=', default_code]], ['id'], { limit: 1 }, signal) : [];
        if (!product) throw new RemoteRejectedError(`${this.conn.name}: no product with internal reference (default_code) "${default_code ?? ''}" for order ${item.key}`, { status: 422 });
        orderLines.push([0, 0, { ...line, product_id: product.id }]);
      }
      id = await this.orm.create('sale.order', { ...header, partner_id: partnerId, order_line: orderLines }, signal);
      current = 'draft';
    } else if (Object.keys(header).length) {
      await this.orm.write('sale.order', [id], header, signal);
    }
    if (state === 'sale' && (current === 'draft' || current === 'sent')) await this.orm.action('sale.order', 'action_confirm', [id], signal);
    if (state === 'cancel' && current !== 'cancel') await this.orm.action('sale.order', 'action_cancel', [id], signal);
    return id;
  }
}
