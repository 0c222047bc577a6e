import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient, type HttpResponse } from '../http.js';
import type { AuthProvider } from '../http.js';
import type { Connection, ConnectorContext, DeletedMark, PullPage, PullRequest, PushItem, PushOutcome, RemoveOutcome } from '../types.js';
import { HUBSPOT_API_VERSION, hubspotPaths, type HubspotPaths } from './versions.js';

/** Batch endpoints take at most 100 inputs; search returns at most 200 a page and 10,000 a query. */
export const HUBSPOT_MAX_BATCH = 100;
export const HUBSPOT_MAX_SEARCH_PAGE = 200;
const SEARCH_WINDOW = 10_000;

export interface HubspotCursor {
  /** Lower bound (ms since epoch, inclusive) of the query in progress. */
  since?: number;
  /** paging.next.after of the query in progress. */
  after?: string;
  /** Newest modification time seen (ms). */
  maxSeen?: number;
  /**
   * Records archived at or after this time (ms) are the next run's deletions: when the last
   * run's archived list was read, or when the first (full) run started. Kept across runs.
   */
  archivedSince?: number;
  /** When the full run in progress started. */
  startedAt?: number;
  /** The records are read; the run ends with the archived list (incremental runs), from this `after` when set. */
  archived?: { after?: string; readAt: number };
}

/** The list endpoint's page limit. */
const HUBSPOT_LIST_PAGE = 100;

interface ObjectSpec { type: string; modified: string; idProperty: string; properties: string[] }

export const DEFAULT_PROPERTIES = {
  customer: ['email', 'firstname', 'lastname', 'phone', 'company', 'address', 'city', 'state', 'zip', 'country', 'createdate', 'lastmodifieddate'],
  order: ['dealname', 'amount', 'deal_currency_code', 'dealstage', 'pipeline', 'closedate', 'createdate', 'hs_lastmodifieddate'],
};

interface SearchResult { id: string; properties: Record<string, string | null>; createdAt?: string; updatedAt?: string; archived?: boolean; archivedAt?: string }

/**
 * A 429 without Retry-After names its policy: the secondly limits clear within a
 * second or ten, the daily one not before tomorrow.
 */
function hubspotRateLimit(res: HttpResponse<unknown>): number | undefined {
  if (res.status !== 429 || res.headers['retry-after']) return undefined;
  const policy = String((res.data as { policyName?: string })?.policyName ?? '');
  if (policy === 'DAILY') {
    const now = new Date();
    return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime();
  }
  return policy === 'SECONDLY' ? 1000 : 10_000;
}

export class HubspotClient {
  readonly http: HttpClient;
  private readonly specs: Partial<Record<Entity, ObjectSpec>>;
  private readonly paths: HubspotPaths;

  /** @param auth the token provider of an OAuth connection; without it, the static `accessToken`. */
  constructor(private readonly conn: Connection, ctx: ConnectorContext, auth?: AuthProvider) {
    this.paths = hubspotPaths(String(conn.options.apiVersion ?? HUBSPOT_API_VERSION));
    this.http = new HttpClient({
      connection: conn.name,
      baseURL: conn.baseUrl!,
      settings: conn.http,
      logger: ctx.logger,
      headers: { ...(auth ? {} : { authorization: `Bearer ${conn.credentials.accessToken}` }), 'content-type': 'application/json' },
      auth,
      rateLimitSignal: hubspotRateLimit,
      describeError: (res) => (res.data as { message?: string })?.message,
    });
    const props = (conn.options.properties ?? {}) as { customer?: string[]; order?: string[] };
    const orderIdProperty = String(conn.options.orderIdProperty ?? 'synchub_order_number');
    this.specs = {
      customer: { type: 'contacts', modified: 'lastmodifieddate', idProperty: 'email', properties: props.customer ?? DEFAULT_PROPERTIES.customer },
      order: { type: 'deals', modified: 'hs_lastmodifieddate', idProperty: orderIdProperty, properties: [...new Set([...(props.order ?? DEFAULT_PROPERTIES.order), orderIdProperty])] },
    };
  }

  private spec(entity: Entity): ObjectSpec {
    const s = this.specs[entity];
    if (!s) throw new NotSupportedError(`hubspot ${entity}`);
    return s;
  }

  /**
   * Pull through the search endpoint, sorted by modification time. A search stops at
   * 10,000 results, so past that the query restarts from the newest time seen.
   */
  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const s = this.spec(entity);
    const cursor = (req.cursor ?? {}) as HubspotCursor;
    if (cursor.archived) return this.pullArchived(s, cursor, req.signal);
    const startedAt = cursor.since === undefined ? cursor.startedAt ?? Date.now() : undefined;
    const limit = Math.min(req.pageSize, HUBSPOT_MAX_SEARCH_PAGE);
    const res = await this.http.request<{ results?: SearchResult[]; paging?: { next?: { after?: string } } }>({
      method: 'POST',
      url: this.paths.search(s.type),
      data: {
        filterGroups: cursor.since === undefined ? [] : [{ filters: [{ propertyName: s.modified, operator: 'GTE', value: String(cursor.since) }] }],
        sorts: [{ propertyName: s.modified, direction: 'ASCENDING' }],
        properties: s.properties,
        limit,
        ...(cursor.after ? { after: cursor.after } : {}),
      },
      signal: req.signal,
    });
    const records = res.data?.results;
    if (!Array.isArray(records)) throw new RemoteRejectedError(`${this.conn.name}: search answer has no results array`, { status: res.status, details: { body: res.data } });
    let maxSeen = cursor.maxSeen;
    for (const r of records) {
      const t = Date.parse(r.properties?.[s.modified] ?? r.updatedAt ?? '');
      if (Number.isFinite(t) && (maxSeen === undefined || t > maxSeen)) maxSeen = t;
    }
    const after = res.data.paging?.next?.after;
    const kept = { ...(cursor.archivedSince !== undefined ? { archivedSince: cursor.archivedSince } : {}), ...(startedAt !== undefined ? { startedAt } : {}) };
    if (after && Number(after) + limit > SEARCH_WINDOW) {
      return { records, cursor: { since: maxSeen ?? cursor.since, maxSeen, ...kept }, done: false };
    }
    if (after) return { records, cursor: { since: cursor.since, after, maxSeen, ...kept }, done: false };
    // Search never returns archived records: an incremental run then reads the archived list.
    if (cursor.since !== undefined) {
      return { records, cursor: { since: maxSeen ?? cursor.since, archivedSince: cursor.archivedSince ?? cursor.since, archived: { readAt: Date.now() } }, done: false };
    }
    return { records, cursor: { since: maxSeen ?? cursor.since, ...(startedAt !== undefined ? { archivedSince: startedAt } : {}) }, done: true };
  }

  /**
   * Archived records (HubSpot's deletion: the recycling bin, 90 days) are listed only by the list
   * endpoint with `archived=true` (the search endpoint cannot return them), which has no filter or
   * sort: every run pages through the whole bin, 100 a call, and keeps those archived since the
   * last run (`archivedAt`) as deletions.
   */
  private async pullArchived(s: ObjectSpec, cursor: HubspotCursor, signal?: AbortSignal): Promise<PullPage> {
    const { readAt, after } = cursor.archived!;
    const res = await this.http.request<{ results?: SearchResult[]; paging?: { next?: { after?: string } } }>({
      method: 'GET', url: this.paths.list(s.type), params: { archived: 'true', limit: HUBSPOT_LIST_PAGE, ...(after ? { after } : {}) }, signal,
    });
    const results = res.data?.results;
    if (!Array.isArray(results)) throw new RemoteRejectedError(`${this.conn.name}: the archived list has no results array`, { status: res.status });
    const since = cursor.archivedSince ?? 0;
    const deletions = results
      .filter((r) => r.archivedAt && Date.parse(r.archivedAt) >= since)
      .map((r) => ({ id: String(r.id), deletedAt: r.archivedAt }));
    const next = res.data.paging?.next?.after;
    if (next) return { records: [], deletions, cursor: { ...cursor, archived: { readAt, after: next } }, done: false };
    return { records: [], deletions, cursor: { since: cursor.since, archivedSince: readAt }, done: true };
  }

  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null> {
    const s = this.spec(entity);
    const res = await this.http.request<SearchResult>({
      method: 'GET', url: this.paths.read(s.type, id), params: { properties: s.properties.join(',') }, signal, accept: [404],
    });
    return res.status === 404 ? null : res.data;
  }

  /**
   * Batch upsert by a unique property (email for contacts, the order-number property
   * for deals). HubSpot does not promise result order: results are matched by that value.
   */
  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    const s = this.spec(entity);
    if (items.length > HUBSPOT_MAX_BATCH) throw new RemoteRejectedError(`hubspot batch upsert takes at most ${HUBSPOT_MAX_BATCH} inputs (got ${items.length})`);
    const outcomes = new Map<string, PushOutcome>();
    const inputs: { idProperty: string; id: string; properties: Record<string, unknown> }[] = [];
    const keyById = new Map<string, string>();
    for (const item of items) {
      const properties = (item.payload.properties ?? item.payload) as Record<string, unknown>;
      const idValue = properties[s.idProperty];
      if (idValue === undefined || idValue === null || idValue === '') {
        outcomes.set(item.key, { key: item.key, ok: false, error: new RemoteRejectedError(`hubspot ${s.type} upsert needs ${s.idProperty}, which the mapping left empty`) });
        continue;
      }
      const id = String(idValue);
      keyById.set(norm(s, id), item.key);
      inputs.push({ idProperty: s.idProperty, id, properties });
    }
    if (inputs.length) {
      const res = await this.http.request<{ results?: SearchResult[]; errors?: { message?: string; category?: string; context?: Record<string, string[]> }[] }>({
        method: 'POST', url: this.paths.batchUpsert(s.type), data: { inputs }, signal, accept: [207],
      });
      const results = res.data.results ?? [];
      const byValue = results.every((r) => r.properties?.[s.idProperty] != null);
      results.forEach((r, i) => {
        const key = byValue ? keyById.get(norm(s, String(r.properties[s.idProperty]))) : keyById.get(norm(s, inputs[i]?.id ?? ''));
        if (key) outcomes.set(key, { key, ok: true, externalId: String(r.id) });
      });
      const batchError = (res.data.errors ?? []).map((e) => `${e.category ?? 'error'}: ${e.message ?? ''}`).join('; ');
      for (const input of inputs) {
        const key = keyById.get(norm(s, input.id))!;
        if (!outcomes.has(key)) {
          outcomes.set(key, { key, ok: false, error: new RemoteRejectedError(`hubspot ${s.type} upsert failed for this record${batchError ? `: ${batchError}` : ''}`, { status: res.status }) });
        }
      }
    }
    return items.map((i) => outcomes.get(i.key)!);
  }

  /**
   * Archive (HubSpot's delete: the record goes to the recycling bin, restorable for 90 days) by
   * id, up to 100 a call ("Archive a batch of objects by ID", 204 with no body). A refused call
   * fails every id of its batch.
   */
  async remove(entity: Entity, ids: string[], signal?: AbortSignal): Promise<RemoveOutcome[]> {
    const s = this.spec(entity);
    const out: RemoveOutcome[] = [];
    for (let i = 0; i < ids.length; i += HUBSPOT_MAX_BATCH) {
      const chunk = ids.slice(i, i + HUBSPOT_MAX_BATCH);
      await this.http.request({ method: 'POST', url: this.paths.batchArchive(s.type), data: { inputs: chunk.map((id) => ({ id })) }, signal });
      for (const id of chunk) out.push({ id, ok: true });
    }
    return out;
  }
  /**
   * `onDelete: mark`: batch update by id, 100 a call, the mark's property set (HubSpot property
   * values are strings). A 207 lists the refused ids in `errors[].context.ids`; one HubSpot no
   * longer has (`OBJECT_NOT_FOUND`) counts as done.
   */
  async mark(entity: Entity, ids: string[], mark: DeletedMark, signal?: AbortSignal): Promise<RemoveOutcome[]> {
    const s = this.spec(entity);
    const out: RemoveOutcome[] = [];
    for (let i = 0; i < ids.length; i += HUBSPOT_MAX_BATCH) {
      const chunk = ids.slice(i, i + HUBSPOT_MAX_BATCH);
      const res = await this.http.request<{ errors?: { category?: string; message?: string; context?: { ids?: string[] } }[] }>({
        method: 'POST', url: this.paths.batchUpdate(s.type), signal, accept: [207],
        data: { inputs: chunk.map((id) => ({ id, properties: { [mark.field]: String(mark.value) } })) },
      });
      const refused = new Map<string, { category?: string; message?: string }>();
      for (const e of res.data?.errors ?? []) for (const id of e.context?.ids ?? []) refused.set(String(id), e);
      for (const id of chunk) {
        const e = refused.get(id);
        if (!e || e.category === 'OBJECT_NOT_FOUND') out.push({ id, ok: true });
        else out.push({ id, ok: false, error: new RemoteRejectedError(`${this.conn.name}: mark ${s.type} ${id}: ${e.category ?? 'error'}: ${e.message ?? ''}`, { status: res.status, details: { code: e.category } }) });
      }
    }
    return out;
  }
}

function norm(s: ObjectSpec, value: string): string {
  return s.idProperty === 'email' ? value.trim().toLowerCase() : value;
}
