import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient } from '../http.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome, RemoveOutcome } from '../types.js';

/** WooCommerce caps per_page at 100 and a batch call at 100 objects. */
export const WOO_MAX_PAGE = 100;
export const WOO_MAX_BATCH = 100;

/**
 * Orders: incremental by `modified_after` (GMT), paged by `page` until X-WP-TotalPages.
 * Customers have no modified filter: newest id first, until an id the last run already saw.
 */
export interface WooCursor {
  /** modified_after of the order run in progress. */
  since?: string;
  /** Next page of the run in progress (from 1). */
  page?: number;
  /** Newest date_modified_gmt seen in the run (orders: the next run's `since`). */
  maxModified?: string;
  /** Customers: highest id the previous runs saw, and the highest id of the run in progress. */
  maxId?: number;
  runMaxId?: number;
}

const PATHS: Partial<Record<Entity, string>> = { order: 'orders', customer: 'customers' };

interface WooRecord { id: number; date_modified_gmt?: string | null }
interface BatchResult { id: number; error?: { code: string; message: string; data?: { status?: number } } }

/** WooCommerce dates are `YYYY-MM-DDTHH:MM:SS` without a zone; the `_gmt` variants are UTC. */
function gmtMillis(s: string | null | undefined): number {
  return s ? Date.parse(s.endsWith('Z') ? s : `${s}Z`) : NaN;
}

export class WooClient {
  readonly http: HttpClient;

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    const { consumerKey, consumerSecret } = conn.credentials;
    const inQuery = conn.options.authInQuery === true;
    this.http = new HttpClient({
      connection: conn.name,
      baseURL: `${conn.baseUrl!.replace(/\/$/, '')}/wp-json/wc/v3`,
      settings: conn.http,
      logger: ctx.logger,
      headers: {
        'content-type': 'application/json',
        ...(inQuery ? {} : { authorization: `Basic ${Buffer.from(`${consumerKey}:${consumerSecret}`).toString('base64')}` }),
      },
      defaultParams: inQuery ? { consumer_key: consumerKey, consumer_secret: consumerSecret } : undefined,
      describeError: (res) => {
        const d = res.data as { code?: string; message?: string } | undefined;
        return d?.message ? `${d.code ?? 'error'}: ${d.message}` : undefined;
      },
    });
  }

  private path(entity: Entity): string {
    const p = PATHS[entity];
    if (!p) throw new NotSupportedError(`woocommerce ${entity}`);
    return p;
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const path = this.path(entity);
    const cursor = (req.cursor ?? {}) as WooCursor;
    const page = cursor.page ?? 1;
    const perPage = Math.min(req.pageSize, WOO_MAX_PAGE);
    const params: Record<string, string | number> = entity === 'order'
      ? { page, per_page: perPage, orderby: 'modified', order: 'asc', dates_are_gmt: 'true', ...(cursor.since ? { modified_after: cursor.since } : {}) }
      : { page, per_page: perPage, orderby: 'id', order: 'desc' };
    const res = await this.http.request<unknown>({ method: 'GET', url: `/${path}`, params, signal: req.signal });
    if (!Array.isArray(res.data)) {
      throw new RemoteRejectedError(`${this.conn.name}: /${path} page ${page} is not a JSON array`, { status: res.status, details: { body: res.data } });
    }
    const totalPages = Number(res.headers['x-wp-totalpages'] ?? 0);
    const last = !Number.isFinite(totalPages) || page >= totalPages || res.data.length === 0;
    const records = res.data as WooRecord[];
    return entity === 'order' ? this.orderPage(records, cursor, page, last) : this.customerPage(records, cursor, page, last);
  }

  private orderPage(records: WooRecord[], cursor: WooCursor, page: number, last: boolean): PullPage {
    let maxModified = cursor.maxModified;
    for (const r of records) {
      if (gmtMillis(r.date_modified_gmt) > gmtMillis(maxModified ?? null) || !maxModified) maxModified = r.date_modified_gmt ?? maxModified;
    }
    if (!last) return { records, cursor: { since: cursor.since, page: page + 1, maxModified }, done: false };
    // modified_after is exclusive and second-granular: start the next run one second earlier;
    // records seen twice are skipped by their fingerprints.
    const since = maxModified ? new Date(gmtMillis(maxModified) - 1000).toISOString().slice(0, 19) : cursor.since;
    return { records, cursor: { since }, done: true };
  }

  /** Newest first; stop at the first id the previous runs already saw. */
  private customerPage(records: WooRecord[], cursor: WooCursor, page: number, last: boolean): PullPage {
    const known = cursor.maxId ?? 0;
    const fresh = records.filter((r) => r.id > known);
    const runMaxId = Math.max(cursor.runMaxId ?? known, ...records.map((r) => r.id));
    let maxModified = cursor.maxModified;
    for (const r of fresh) if (!maxModified || gmtMillis(r.date_modified_gmt) > gmtMillis(maxModified)) maxModified = r.date_modified_gmt ?? maxModified;
    const reachedKnown = fresh.length < records.length;
    if (last || reachedKnown) return { records: fresh, cursor: { maxId: runMaxId, maxModified }, done: true };
    return { records: fresh, cursor: { maxId: known, runMaxId, maxModified, page: page + 1 }, done: false };
  }

  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null> {
    const res = await this.http.request<unknown>({ method: 'GET', url: `/${this.path(entity)}/${encodeURIComponent(id)}`, signal, accept: [404] });
    return res.status === 404 ? null : res.data;
  }

  /**
   * `/orders/batch` and `/customers/batch`: update by the linked id, create otherwise.
   * A customer without a link is looked up by email first, so a retried create does
   * not make a second one. Each object's result is read: one refused object fails alone.
   */
  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    const path = this.path(entity);
    if (items.length > WOO_MAX_BATCH) throw new RangeError(`woocommerce takes at most ${WOO_MAX_BATCH} objects a batch call`);
    const ids = new Map<string, string | undefined>();
    for (const item of items) ids.set(item.key, item.externalId ?? (entity === 'customer' ? await this.customerIdByEmail(item, signal) : undefined));
    const update = items.filter((i) => ids.get(i.key));
    const create = items.filter((i) => !ids.get(i.key));
    const res = await this.http.request<{ create?: BatchResult[]; update?: BatchResult[] }>({
      method: 'POST', url: `/${path}/batch`, signal,
      data: {
        ...(create.length ? { create: create.map((i) => i.payload) } : {}),
        ...(update.length ? { update: update.map((i) => ({ ...i.payload, id: Number(ids.get(i.key)) })) } : {}),
      },
    });
    const read = (list: PushItem[], results: BatchResult[] | undefined): PushOutcome[] => list.map((item, n) => {
      const r = results?.[n];
      if (!r) return { key: item.key, ok: false, error: new RemoteRejectedError(`${this.conn.name}: the batch answer has no result for ${item.key}`) };
      if (r.error || !r.id) {
        const status = r.error?.data?.status ?? 400;
        return { key: item.key, ok: false, error: new RemoteRejectedError(`${this.conn.name}: ${r.error?.code ?? 'error'}: ${r.error?.message ?? 'refused'}`, { status, details: { code: r.error?.code } }) };
      }
      return { key: item.key, ok: true, externalId: String(r.id) };
    });
    return [...read(create, res.data?.create), ...read(update, res.data?.update)];
  }

  /**
   * `/orders/batch` and `/customers/batch` with `delete: [ids]`, at most 100 a call. Batch deletes
   * are permanent (the batch handler deletes with `force`), not a move to the trash. Each id's
   * result is read; one the store no longer has (an `invalid_id` error, 404) counts as removed.
   */
  async remove(entity: Entity, ids: string[], signal?: AbortSignal, mode?: 'delete' | 'archive'): Promise<RemoveOutcome[]> {
    const path = this.path(entity);
    if (mode === 'archive') return this.trash(entity, path, ids, signal);
    const out: RemoveOutcome[] = [];
    for (let i = 0; i < ids.length; i += WOO_MAX_BATCH) {
      const chunk = ids.slice(i, i + WOO_MAX_BATCH);
      const res = await this.http.request<{ delete?: BatchResult[] }>({ method: 'POST', url: `/${path}/batch`, signal, data: { delete: chunk.map(Number) } });
      chunk.forEach((id, n) => {
        const r = res.data?.delete?.[n];
        const status = r?.error?.data?.status;
        if (r && (!r.error || status === 404)) out.push({ id, ok: true });
        else out.push({ id, ok: false, error: new RemoteRejectedError(`${this.conn.name}: delete ${entity} ${id}: ${r?.error?.code ?? 'no result in the batch answer'}`, { status: status ?? 400, details: { code: r?.error?.code } }) });
      });
    }
    return out;
  }

  /**
   * `onDelete: archive` (orders): `DELETE /orders/{id}` without `force` moves the order to the trash
   * ("Delete an order": "Use true whether to permanently delete the order, Default is false"); one
   * call an order, the batch endpoint deleting for good. An order the store no longer has (404) or
   * already in the trash (410 woocommerce_rest_already_trashed) counts as done. Customers have no
   * trash (config refuses archive for them).
   */
  private async trash(entity: Entity, path: string, ids: string[], signal?: AbortSignal): Promise<RemoveOutcome[]> {
    if (entity !== 'order') throw new NotSupportedError(`woocommerce cannot move ${entity} records to the trash`);
    const out: RemoveOutcome[] = [];
    for (const id of ids) {
      if (!/^\d+$/.test(id)) {
        out.push({ id, ok: false, error: new RemoteRejectedError(`${this.conn.name}: ${id} is not a WooCommerce id`) });
        continue;
      }
      await this.http.request({ method: 'DELETE', url: `/${path}/${id}`, signal, accept: [404, 410] });
      out.push({ id, ok: true });
    }
    return out;
  }

  private async customerIdByEmail(item: PushItem, signal?: AbortSignal): Promise<string | undefined> {
    const email = item.payload.email;
    if (typeof email !== 'string' || !email) return undefined;
    const res = await this.http.request<WooRecord[]>({ method: 'GET', url: '/customers', params: { email, role: 'all' }, signal });
    const hit = Array.isArray(res.data) ? res.data[0] : undefined;
    return hit ? String(hit.id) : undefined;
  }
}
