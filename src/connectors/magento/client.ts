import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { pushEach } from '../shared.js';
import { HttpClient } from '../http.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';
import { searchParams, type Filter } from './search.js';

export const MAGENTO_MAX_PAGE = 300;

/**
 * Keyset paging on (updated_at, entity_id), always at currentPage 1, so records
 * changed while a run pages never shift a page boundary. Modes:
 * - `gteq` (default): updated_at gteq `since`, dropping what is not after (since, afterId).
 *   `gteq` rather than `gt`: `gt` alone loses a record changed in the same second as the last one seen;
 * - `tie`, when a whole page shares one updated_at: updated_at eq `since` and entity_id gt `afterId`;
 * - `gt`, once a tie is walked to its end: updated_at gt `since`.
 */
export interface MagentoCursor {
  since?: string;
  afterId?: number;
  mode?: 'gteq' | 'tie' | 'gt';
}

interface SearchResult { items?: MagentoRecord[]; total_count?: number }
interface MagentoRecord { entity_id?: number; id?: number; updated_at?: string }

const RESOURCE: Partial<Record<Entity, { list: string; idField: string }>> = {
  order: { list: '/orders', idField: 'entity_id' },
  customer: { list: '/customers/search', idField: 'entity_id' },
};

const idOf = (r: MagentoRecord) => Number(r.entity_id ?? r.id);
/** Magento times are UTC `YYYY-MM-DD HH:MM:SS`. */
const isAfter = (a: MagentoRecord, since: string, afterId: number) =>
  (a.updated_at ?? '') > since || ((a.updated_at ?? '') === since && idOf(a) > afterId);

export class MagentoClient {
  readonly http: HttpClient;

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    const store = conn.options.storeCode ? `/${encodeURIComponent(String(conn.options.storeCode))}` : '';
    this.http = new HttpClient({
      connection: conn.name,
      baseURL: `${conn.baseUrl!.replace(/\/$/, '')}/rest${store}/V1`,
      settings: conn.http,
      logger: ctx.logger,
      headers: { authorization: `Bearer ${conn.credentials.accessToken}`, 'content-type': 'application/json' },
      describeError: (res) => {
        const d = res.data as { message?: string; parameters?: unknown } | undefined;
        return d?.message ? `${d.message}${d.parameters ? ` ${JSON.stringify(d.parameters)}` : ''}` : undefined;
      },
    });
  }

  private resource(entity: Entity) {
    const r = RESOURCE[entity];
    if (!r) throw new NotSupportedError(`magento ${entity}`);
    return r;
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const r = this.resource(entity);
    const cursor = (req.cursor ?? {}) as MagentoCursor;
    const pageSize = Math.min(req.pageSize, MAGENTO_MAX_PAGE);
    const { since, mode = 'gteq' } = cursor;
    const afterId = cursor.afterId ?? 0;
    const groups: Filter[][] = !since ? []
      : mode === 'tie' ? [[{ field: 'updated_at', value: since, condition_type: 'eq' }], [{ field: r.idField, value: String(afterId), condition_type: 'gt' }]]
      : [[{ field: 'updated_at', value: since, condition_type: mode }]];
    const sort: [string, 'ASC'][] = mode === 'tie' ? [[r.idField, 'ASC']] : [['updated_at', 'ASC'], [r.idField, 'ASC']];
    const res = await this.http.request<SearchResult>({ method: 'GET', url: r.list, params: searchParams(groups, sort, pageSize, 1), signal: req.signal });
    const items = res.data?.items;
    if (!Array.isArray(items) || typeof res.data.total_count !== 'number') {
      throw new RemoteRejectedError(`${this.conn.name}: ${r.list} answered without items and total_count`, { status: res.status, details: { body: res.data } });
    }
    const records = since && mode === 'gteq' ? items.filter((i) => isAfter(i, since, afterId)) : items;
    // currentPage × pageSize ≥ total_count (at page 1): this page held every remaining match.
    const lastPage = pageSize >= res.data.total_count;
    const last = items[items.length - 1];
    if (!last) return { records, cursor: { since, afterId }, done: true };
    const lastId = idOf(last);
    if (mode === 'tie') {
      return lastPage
        ? { records, cursor: { since, afterId: lastId, mode: 'gt' }, done: false }
        : { records, cursor: { since, afterId: lastId, mode: 'tie' }, done: false };
    }
    const next: MagentoCursor = { since: last.updated_at, afterId: lastId };
    if (lastPage) return { records, cursor: next, done: true };
    if (items[0].updated_at === last.updated_at) {
      // A full page sharing one timestamp cannot move `since`: walk that timestamp by id.
      return { records, cursor: { ...next, afterId: Math.max(lastId, since === last.updated_at ? afterId : 0), mode: 'tie' }, done: false };
    }
    return { records, cursor: next, done: false };
  }

  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null> {
    const path = entity === 'order' ? `/orders/${encodeURIComponent(id)}` : entity === 'customer' ? `/customers/${encodeURIComponent(id)}` : undefined;
    if (!path) throw new NotSupportedError(`magento ${entity}`);
    const res = await this.http.request<unknown>({ method: 'GET', url: path, signal, accept: [404] });
    return res.status === 404 ? null : res.data;
  }

  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    this.resource(entity);
    return pushEach(items, (item) => (entity === 'customer' ? this.upsertCustomer(item, signal) : this.orderStatus(item, signal)));
  }

  /** Update by linked id; otherwise look the email up first, so a retried create does not make a second customer. */
  private async upsertCustomer(item: PushItem, signal?: AbortSignal): Promise<string> {
    let id = item.externalId;
    const email = (item.payload.customer as { email?: string } | undefined)?.email;
    if (!id && email) {
      const found = await this.http.request<SearchResult>({
        method: 'GET', url: '/customers/search', signal,
        params: searchParams([[{ field: 'email', value: email, condition_type: 'eq' }]], [], 1, 1),
      });
      const hit = found.data.items?.[0];
      if (hit) id = String(idOf(hit));
    }
    const res = id
      ? await this.http.request<{ id: number }>({ method: 'PUT', url: `/customers/${encodeURIComponent(id)}`, data: { customer: { ...(item.payload.customer as object), id: Number(id) } }, signal })
      : await this.http.request<{ id: number }>({ method: 'POST', url: '/customers', data: item.payload, signal });
    return String(res.data.id);
  }

  /**
   * Orders are created in Magento's checkout, not through this API: the hub writes
   * status changes of linked orders as order comments carrying the status.
   */
  private async orderStatus(item: PushItem, signal?: AbortSignal): Promise<string> {
    if (!item.externalId) {
      throw new RemoteRejectedError(`${this.conn.name}: order ${item.key} has no linked Magento order; this connector writes status changes of existing orders only`, { status: 422 });
    }
    const history = item.payload.statusHistory as Record<string, unknown> | undefined;
    if (!history?.status) throw new RemoteRejectedError(`${this.conn.name}: the order out-mapping gave no statusHistory.status for ${item.key}`, { status: 422 });
    await this.http.request<boolean>({
      method: 'POST', url: `/orders/${encodeURIComponent(item.externalId)}/comments`, signal,
      data: { statusHistory: { is_customer_notified: 0, is_visible_on_front: 0, ...history, parent_id: Number(item.externalId) } },
    });
    return item.externalId;
  }
}
