import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient } from '../http.js';
import { OAuthTokenProvider } from '../oauth.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome, RemoveOutcome, DeletedMark } from '../types.js';

export const ZOHO_PAGE = 200;
export const ZOHO_MAX_UPSERT = 100;
/** Record ids per Get Records call (`ids`). */
export const ZOHO_FETCH_IDS = 100;
/** Past this many records, `page` stops working and `page_token` takes over. */
export const ZOHO_PAGE_LIMIT = 2000;

const FIELDS: Record<string, string[]> = {
  Contacts: ['First_Name', 'Last_Name', 'Email', 'Phone', 'Mailing_Street', 'Mailing_City', 'Mailing_State', 'Mailing_Zip', 'Mailing_Country', 'Created_Time', 'Modified_Time'],
  Sales_Orders: ['Subject', 'Status', 'Sub_Total', 'Tax', 'Adjustment', 'Discount', 'Grand_Total', 'Currency', 'Contact_Name', 'Created_Time', 'Modified_Time'],
  Deals: ['Deal_Name', 'Stage', 'Amount', 'Closing_Date', 'Currency', 'Contact_Name', 'Created_Time', 'Modified_Time'],
};

export interface ZohoCursor {
  /** If-Modified-Since of the run in progress. */
  since?: string;
  page?: number;
  pageToken?: string;
  maxSeen?: string;
  /** After the records: the deleted-records listing of the same period, page by page. */
  deletedPage?: number;
}

interface ListAnswer { data?: Record<string, any>[]; info?: { more_records?: boolean; next_page_token?: string | null; page?: number } }
interface UpsertAnswer { data?: { code: string; status: string; message: string; details?: { id?: string; api_name?: string } }[] }

export class ZohoClient {
  readonly http: HttpClient;

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    const { clientId, clientSecret, refreshToken } = conn.credentials;
    const accounts = String(conn.options.accountsUrl ?? 'https://accounts.zoho.com').replace(/\/$/, '');
    this.http = new HttpClient({
      connection: conn.name,
      baseURL: `${conn.baseUrl!.replace(/\/$/, '')}/crm/v8`,
      settings: conn.http,
      logger: ctx.logger,
      headers: { 'content-type': 'application/json' },
      auth: new OAuthTokenProvider({
        connection: conn.name, tokenUrl: `${accounts}/oauth/v2/token`, grant: 'refresh_token',
        clientId, clientSecret, refreshToken, scheme: 'Zoho-oauthtoken', settings: conn.http, logger: ctx.logger,
      }),
      describeError: (res) => {
        const d = res.data as { code?: string; message?: string } | undefined;
        return d?.code ? `${d.code}: ${d.message ?? ''}` : undefined;
      },
    });
  }

  module(entity: Entity): string {
    if (entity === 'customer') return 'Contacts';
    if (entity === 'order') return String(this.conn.options.orderModule ?? 'Sales_Orders');
    throw new NotSupportedError('zoho payment');
  }

  orderNumberField(): string {
    return String(this.conn.options.orderNumberField ?? 'Synchub_Order_Number');
  }

  private fields(module: string): string {
    return [...FIELDS[module], ...(module === 'Contacts' ? [] : [this.orderNumberField()])].join(',');
  }

  /**
   * page / per_page=200 sorted by Modified_Time, If-Modified-Since for increments;
   * past 2,000 records the API wants page_token instead of page.
   */
  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const module = this.module(entity);
    const cursor = (req.cursor ?? {}) as ZohoCursor;
    if (cursor.deletedPage) return this.pullDeleted(module, cursor, req.signal);
    const page = cursor.page ?? 1;
    const params: Record<string, string | number> = {
      fields: this.fields(module), per_page: ZOHO_PAGE, sort_by: 'Modified_Time', sort_order: 'asc',
      ...(cursor.pageToken ? { page_token: cursor.pageToken } : { page }),
    };
    const res = await this.http.request<ListAnswer | ''>({
      method: 'GET', url: `/${module}`, params, signal: req.signal, accept: [204, 304],
      headers: cursor.since ? { 'if-modified-since': cursor.since } : {},
    });
    const body = res.status === 204 || res.status === 304 || !res.data ? { data: [], info: { more_records: false } } : res.data;
    if (!Array.isArray(body.data)) throw new RemoteRejectedError(`${this.conn.name}: /${module} answered without data`, { status: res.status, details: { body } });
    const records = body.data;
    let maxSeen = cursor.maxSeen;
    for (const r of records) if (r.Modified_Time && (!maxSeen || Date.parse(r.Modified_Time) > Date.parse(maxSeen))) maxSeen = r.Modified_Time;
    if (body.info?.more_records) {
      const usePageToken = (page + 1) * ZOHO_PAGE > ZOHO_PAGE_LIMIT || cursor.pageToken !== undefined;
      if (usePageToken && !body.info.next_page_token) throw new RemoteRejectedError(`${this.conn.name}: /${module} has more records past ${ZOHO_PAGE_LIMIT} but gave no next_page_token`);
      const next: ZohoCursor = usePageToken
        ? { since: cursor.since, pageToken: body.info.next_page_token!, maxSeen }
        : { since: cursor.since, page: page + 1, maxSeen };
      return { records, cursor: next, done: false };
    }
    // An incremental run then reads what was deleted in the same period.
    if (cursor.since) return { records, cursor: { since: cursor.since, maxSeen, deletedPage: 1 }, done: false };
    return { records, cursor: this.endCursor(cursor.since, maxSeen), done: true };
  }

  /** If-Modified-Since is second-granular: the next run starts one second early; repeats are skipped by fingerprints. */
  private endCursor(since: string | undefined, maxSeen: string | undefined): ZohoCursor {
    return { since: maxSeen ? new Date(Date.parse(maxSeen) - 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00') : since };
  }

  /** `GET /{module}/deleted?type=all` since the run's start: recorded as deletions, nothing pushed. */
  private async pullDeleted(module: string, cursor: ZohoCursor, signal?: AbortSignal): Promise<PullPage> {
    const page = cursor.deletedPage ?? 1;
    const res = await this.http.request<{ data?: { id: string; deleted_time?: string }[]; info?: { more_records?: boolean } } | ''>({
      method: 'GET', url: `/${module}/deleted`, params: { type: 'all', per_page: ZOHO_PAGE, page }, signal, accept: [204, 304],
      headers: cursor.since ? { 'if-modified-since': cursor.since } : {},
    });
    const body = res.status === 200 && res.data ? res.data : { data: [], info: { more_records: false } };
    const deletions = (body.data ?? []).map((d) => ({ id: String(d.id), deletedAt: d.deleted_time }));
    if (body.info?.more_records && page * ZOHO_PAGE < ZOHO_PAGE_LIMIT) {
      return { records: [], deletions, cursor: { since: cursor.since, maxSeen: cursor.maxSeen, deletedPage: page + 1 }, done: false };
    }
    return { records: [], deletions, cursor: this.endCursor(cursor.since, cursor.maxSeen), done: true };
  }

  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null> {
    const module = this.module(entity);
    const res = await this.http.request<ListAnswer | ''>({ method: 'GET', url: `/${module}/${encodeURIComponent(id)}`, params: { fields: this.fields(module) }, signal, accept: [204, 404] });
    return res.status === 200 && res.data ? res.data.data?.[0] ?? null : null;
  }

  /**
   * Get Records with `ids` (comma separated, ZOHO_FETCH_IDS a call): the records found, by
   * id; 204 when none of them exists any more.
   */
  async fetchMany(entity: Entity, ids: string[], signal?: AbortSignal): Promise<Map<string, unknown>> {
    const module = this.module(entity);
    const found = new Map<string, unknown>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += ZOHO_FETCH_IDS) {
      const chunk = unique.slice(i, i + ZOHO_FETCH_IDS);
      const res = await this.http.request<ListAnswer | ''>({
        method: 'GET', url: `/${module}`, params: { ids: chunk.join(','), fields: this.fields(module), per_page: ZOHO_FETCH_IDS }, signal, accept: [204],
      });
      if (res.status === 204 || !res.data) continue;
      if (!Array.isArray(res.data.data)) throw new RemoteRejectedError(`${this.conn.name}: /${module} answered without data`, { status: res.status });
      for (const r of res.data.data) if (r.id !== undefined) found.set(String(r.id), r);
    }
    return found;
  }

  /** `/{module}/upsert`, at most 100 records a call; each record's status is read. */
  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    const module = this.module(entity);
    if (items.length > ZOHO_MAX_UPSERT) throw new RangeError(`zoho takes at most ${ZOHO_MAX_UPSERT} records an upsert call`);
    const configured = (this.conn.options.duplicateCheckFields ?? {}) as Record<string, string[]>;
    const duplicateCheck = configured[module] ?? (module === 'Contacts' ? ['Email'] : [this.orderNumberField()]);
    const res = await this.http.request<UpsertAnswer>({
      method: 'POST', url: `/${module}/upsert`, signal, accept: [400],
      data: { data: items.map((i) => (i.externalId ? { ...i.payload, id: i.externalId } : i.payload)), duplicate_check_fields: duplicateCheck },
    });
    const results = res.data?.data;
    if (!Array.isArray(results) || results.length !== items.length) {
      throw new RemoteRejectedError(`${this.conn.name}: /${module}/upsert answered ${res.status} without a result per record`, { status: res.status, details: { body: res.data } });
    }
    return items.map((item, n) => {
      const r = results[n];
      if (r.status === 'success' && r.details?.id) return { key: item.key, ok: true, externalId: String(r.details.id) };
      return { key: item.key, ok: false, error: new RemoteRejectedError(`${this.conn.name}: ${r.code}: ${r.message}${r.details?.api_name ? ` (${r.details.api_name})` : ''}`, { status: 400, details: { code: r.code } }) };
    });
  }

  /**
   * Delete Records: `DELETE /{module}?ids=…`, at most 100 ids a call; each id's status is read.
   * Zoho answers INVALID_DATA for an id it no longer has: counted as removed.
   */
  async remove(entity: Entity, ids: string[], signal?: AbortSignal): Promise<RemoveOutcome[]> {
    const module = this.module(entity);
    const out: RemoveOutcome[] = [];
    for (let i = 0; i < ids.length; i += ZOHO_MAX_UPSERT) {
      const chunk = ids.slice(i, i + ZOHO_MAX_UPSERT);
      const res = await this.http.request<{ data?: { code?: string; status?: string; message?: string; details?: { id?: string } }[] }>({
        method: 'DELETE', url: `/${module}`, params: { ids: chunk.join(',') }, signal, accept: [400],
      });
      const byId = new Map((res.data?.data ?? []).map((r) => [String(r.details?.id ?? ''), r]));
      for (const id of chunk) {
        const r = byId.get(id);
        if (r && (r.status === 'success' || r.code === 'INVALID_DATA')) out.push({ id, ok: true });
        else out.push({ id, ok: false, error: new RemoteRejectedError(`${this.conn.name}: delete ${module} ${id}: ${r?.code ?? 'no result in the answer'}`, { status: res.status, details: { code: r?.code } }) });
      }
    }
    return out;
  }

  /**
   * `onDelete: mark`: Update Records, `PUT /{module}` with `data: [{ id, field }]`, at most 100 a
   * call; each record's status is read, INVALID_DATA (no such record) counting as done.
   */
  async mark(entity: Entity, ids: string[], mark: DeletedMark, signal?: AbortSignal): Promise<RemoveOutcome[]> {
    const module = this.module(entity);
    const out: RemoveOutcome[] = [];
    for (let i = 0; i < ids.length; i += ZOHO_MAX_UPSERT) {
      const chunk = ids.slice(i, i + ZOHO_MAX_UPSERT);
      const res = await this.http.request<{ data?: { code?: string; status?: string; message?: string; details?: { id?: string } }[] }>({
        method: 'PUT', url: `/${module}`, data: { data: chunk.map((id) => ({ id, [mark.field]: mark.value })) }, signal, accept: [400],
      });
      const results = res.data?.data ?? [];
      chunk.forEach((id, n) => {
        const r = results[n];
        if (r && (r.status === 'success' || r.code === 'INVALID_DATA')) out.push({ id, ok: true });
        else out.push({ id, ok: false, error: new RemoteRejectedError(`${this.conn.name}: mark ${module} ${id}: ${r?.code ?? 'no result in the answer'}`, { status: res.status, details: { code: r?.code } }) });
      });
    }
    return out;
  }
}
