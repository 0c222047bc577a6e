import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient, type HttpResponse } from '../http.js';
import { OAuthTokenProvider } from '../oauth.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome, RemoveOutcome, DeletedMark } from '../types.js';

export const SALESFORCE_MAX_PUSH = 200;
/** Ids per `Id IN (…)` query: about 2,600 characters of URL with the field list. */
export const SALESFORCE_FETCH_IDS = 100;

const FIELDS: Record<string, string[]> = {
  Contact: ['Id', 'FirstName', 'LastName', 'Email', 'Phone', 'MailingStreet', 'MailingCity', 'MailingState', 'MailingPostalCode', 'MailingCountry', 'CreatedDate', 'SystemModstamp'],
  Account: ['Id', 'Name', 'Phone', 'BillingStreet', 'BillingCity', 'BillingState', 'BillingPostalCode', 'BillingCountry', 'CreatedDate', 'SystemModstamp'],
  Order: ['Id', 'OrderNumber', 'Status', 'TotalAmount', 'EffectiveDate', 'Description', 'CreatedDate', 'SystemModstamp'],
  Opportunity: ['Id', 'Name', 'StageName', 'Amount', 'CloseDate', 'Description', 'CreatedDate', 'SystemModstamp'],
};

/**
 * Incremental by SystemModstamp, ordered by SystemModstamp, Id. The filter is `>=` the
 * newest stamp seen, and the ids already read at exactly that stamp are dropped: `>`
 * alone would lose a record written in the same second as the last one read.
 */
export interface SalesforceCursor {
  since?: string;
  seenAtSince?: string[];
  /** nextRecordsUrl of the query in progress. */
  next?: string;
  maxSeen?: string;
  idsAtMax?: string[];
  /**
   * Where the next run's deleted-records window starts (ISO): the getDeleted answer's
   * latestDateCovered, or when the first (full) run started. Kept across runs.
   */
  deletedFrom?: string;
  /** When the full run in progress started: its end cursor's deletedFrom. */
  startedAt?: string;
  /** The records are read; the run ends with the deleted-records call (incremental runs). */
  readDeleted?: true;
}

/** getDeleted answers "no more than 15 days previous to the day the call is executed" (sObject Get Deleted). */
export const SALESFORCE_DELETED_WINDOW_MS = 15 * 24 * 3600_000;

interface GetDeletedResult { deletedRecords?: { id: string; deletedDate?: string }[]; earliestDateAvailable?: string; latestDateCovered?: string }

interface QueryResult { done: boolean; totalSize: number; records: Record<string, any>[]; nextRecordsUrl?: string }
interface SaveResult { id?: string; success: boolean; created?: boolean; errors?: { statusCode: string; message: string; fields?: string[] }[] }

/** `2025-03-01T10:00:00.000+0000` → `2025-03-01T10:00:00Z`, the SOQL dateTime literal. */
export function soqlDateTime(stamp: string): string {
  return new Date(stamp.replace(/\+0000$/, 'Z')).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `Sforce-Limit-Info: api-usage=4800/5000`: inside the headroom, slow to a call a minute. */
export function salesforceThrottle(limitInfo: string | undefined, headroom: number): number {
  const m = /api-usage=(\d+)\/(\d+)/.exec(limitInfo ?? '');
  if (!m) return 0;
  const used = Number(m[1]);
  const limit = Number(m[2]);
  return limit > 0 && used >= limit * (1 - headroom) ? 60_000 : 0;
}

export class SalesforceClient {
  readonly http: HttpClient;
  readonly objects: Record<'customer' | 'order', string>;
  private readonly root: string;

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    const o = conn.options;
    this.objects = { customer: String(o.customerObject ?? 'Contact'), order: String(o.orderObject ?? 'Order') };
    const version = String(o.apiVersion ?? 'v62.0');
    this.root = conn.baseUrl!.replace(/\/$/, '');
    const { accessToken, clientId, clientSecret } = conn.credentials;
    const headroom = Number(o.limitHeadroom ?? 0.1);
    this.http = new HttpClient({
      connection: conn.name,
      baseURL: `${this.root}/services/data/${version}`,
      settings: conn.http,
      logger: ctx.logger,
      headers: { 'content-type': 'application/json', ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) },
      auth: accessToken ? undefined : new OAuthTokenProvider({
        connection: conn.name, tokenUrl: `${this.root}/services/oauth2/token`, grant: 'client_credentials',
        clientId, clientSecret, settings: conn.http, logger: ctx.logger,
      }),
      throttle: (res) => salesforceThrottle(res.headers['sforce-limit-info'], headroom),
      // The org's daily API limit: wait for the rolling window, without using up attempts.
      rateLimitSignal: (res) => (errorsOf(res).some((e) => e.errorCode === 'REQUEST_LIMIT_EXCEEDED') ? Number(o.limitExceededWaitMs ?? 900_000) : undefined),
      describeError: (res) => errorsOf(res).map((e) => `${e.errorCode}: ${e.message}`).join('; ') || undefined,
    });
  }

  objectOf(entity: Entity): string {
    if (entity === 'payment') throw new NotSupportedError('salesforce payment');
    return this.objects[entity];
  }

  externalIdField(object: string): string {
    const per = (this.conn.options.externalIdFields ?? {}) as Record<string, string>;
    return per[object] ?? String(this.conn.options.externalIdField ?? 'Synchub_Id__c');
  }

  private fields(object: string): string {
    const extra = [this.externalIdField(object), ...(this.conn.options.multiCurrency ? ['CurrencyIsoCode'] : [])];
    return [...FIELDS[object], ...extra].join(', ');
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const object = this.objectOf(entity);
    const cursor = (req.cursor ?? {}) as SalesforceCursor;
    if (cursor.readDeleted) return this.pullDeleted(object, cursor, req.signal);
    // A full run remembers when it started: deletions from then on are read by the next run.
    const startedAt = cursor.since ? undefined : cursor.startedAt ?? new Date().toISOString();
    let res: HttpResponse<QueryResult>;
    if (cursor.next) {
      res = await this.http.request<QueryResult>({ method: 'GET', url: `${this.root}${cursor.next}`, signal: req.signal });
    } else {
      const where = cursor.since ? ` WHERE SystemModstamp >= ${soqlDateTime(cursor.since)}` : '';
      const q = `SELECT ${this.fields(object)} FROM ${object}${where} ORDER BY SystemModstamp, Id`;
      const batch = Math.max(200, Math.min(2000, req.pageSize));
      res = await this.http.request<QueryResult>({ method: 'GET', url: '/query', params: { q }, headers: { 'sforce-query-options': `batchSize=${batch}` }, signal: req.signal });
    }
    const data = res.data;
    if (!data || !Array.isArray(data.records)) throw new RemoteRejectedError(`${this.conn.name}: the query answered without records`, { status: res.status, details: { body: data } });
    const seen = new Set(cursor.seenAtSince ?? []);
    const records = data.records.filter((r) => !(r.SystemModstamp === cursor.since && seen.has(r.Id)));
    let { maxSeen, idsAtMax = [] } = cursor;
    for (const r of data.records) {
      if (!maxSeen || r.SystemModstamp > maxSeen) {
        maxSeen = r.SystemModstamp;
        idsAtMax = [r.Id];
      } else if (r.SystemModstamp === maxSeen) idsAtMax = [...idsAtMax, r.Id];
    }
    const kept = { ...(cursor.deletedFrom ? { deletedFrom: cursor.deletedFrom } : {}), ...(startedAt ? { startedAt } : {}) };
    if (!data.done && data.nextRecordsUrl) {
      return { records, cursor: { since: cursor.since, seenAtSince: cursor.seenAtSince, next: data.nextRecordsUrl, maxSeen, idsAtMax, ...kept }, done: false };
    }
    const end: SalesforceCursor = maxSeen
      ? { since: maxSeen, seenAtSince: maxSeen === cursor.since ? [...new Set([...(cursor.seenAtSince ?? []), ...idsAtMax])] : idsAtMax }
      : { since: cursor.since, seenAtSince: cursor.seenAtSince };
    // An incremental run then reads what was deleted since the last one (a cursor from before
    // deletions were read starts its window at its `since`).
    if (cursor.since) return { records, cursor: { ...end, deletedFrom: cursor.deletedFrom ?? cursor.since, readDeleted: true }, done: false };
    return { records, cursor: { ...end, deletedFrom: startedAt }, done: true };
  }

  /**
   * sObject Get Deleted: `GET /sobjects/{object}/deleted/?start=…&end=…` answers the ids deleted in
   * the window (`deletedRecords[{ id, deletedDate }]`, `earliestDateAvailable`, `latestDateCovered`).
   * It looks back at most 15 days, so an older start is moved up (and the run says so); the next
   * window starts at `latestDateCovered`, as the docs ask ("use this value for the startDate of
   * your next call"); a delete log purged past the start (`earliestDateAvailable` later than it)
   * may have lost deletions, which the run says too.
   */
  private async pullDeleted(object: string, cursor: SalesforceCursor, signal?: AbortSignal): Promise<PullPage> {
    const now = Date.now();
    const notices: string[] = [];
    let start = Date.parse(soqlDateTime(cursor.deletedFrom ?? cursor.since!));
    const oldest = now - SALESFORCE_DELETED_WINDOW_MS + 60_000;
    if (!(start >= oldest)) {
      notices.push(`${object} records deleted before ${new Date(oldest).toISOString()} cannot be seen: Salesforce lists deletions of the last 15 days only`);
      start = oldest;
    }
    // "The specified startDate must chronologically precede the specified endDate value by more than
    // one minute" (getDeleted(), SOAP API guide, which the resource follows): a shorter window waits for the next run.
    if (now - start <= 60_000) return { records: [], cursor: { since: cursor.since, seenAtSince: cursor.seenAtSince, deletedFrom: cursor.deletedFrom ?? cursor.since }, done: true };
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
    const res = await this.http.request<GetDeletedResult>({ method: 'GET', url: `/sobjects/${object}/deleted/`, params: { start: iso(start), end: iso(now) }, signal });
    const body = res.data;
    if (!body || !Array.isArray(body.deletedRecords)) throw new RemoteRejectedError(`${this.conn.name}: /sobjects/${object}/deleted answered without deletedRecords`, { status: res.status });
    if (body.earliestDateAvailable && Date.parse(soqlDateTime(body.earliestDateAvailable)) > start) {
      notices.push(`Salesforce purged its ${object} delete log up to ${soqlDateTime(body.earliestDateAvailable)}: deletions before then may be missed`);
    }
    const deletions = body.deletedRecords.map((d) => ({ id: String(d.id), ...(d.deletedDate ? { deletedAt: soqlDateTime(d.deletedDate) } : {}) }));
    const deletedFrom = body.latestDateCovered ? soqlDateTime(body.latestDateCovered) : new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { records: [], deletions, cursor: { since: cursor.since, seenAtSince: cursor.seenAtSince, deletedFrom }, done: true, ...(notices.length ? { notices } : {}) };
  }

  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null> {
    const object = this.objectOf(entity);
    if (!/^[A-Za-z0-9]{15,18}$/.test(id)) return null;
    const res = await this.http.request<QueryResult>({ method: 'GET', url: '/query', params: { q: `SELECT ${this.fields(object)} FROM ${object} WHERE Id = '${id}'` }, signal });
    return res.data.records?.[0] ?? null;
  }

  /**
   * Several records in one SOQL query, `WHERE Id IN ('…', …)`, at most SALESFORCE_FETCH_IDS
   * ids a query: the query goes in the URL, and Salesforce answers 414 past 16,384 bytes of
   * URI and headers ("Maximum number of rows returned by SOQL queries over the REST API").
   * Ids that are not Salesforce ids are left out (they name nothing). A record deleted
   * since is simply not in the answer.
   */
  async fetchMany(entity: Entity, ids: string[], signal?: AbortSignal): Promise<Map<string, unknown>> {
    const object = this.objectOf(entity);
    const valid = [...new Set(ids.filter((id) => /^[A-Za-z0-9]{15,18}$/.test(id)))];
    const found = new Map<string, unknown>();
    for (let i = 0; i < valid.length; i += SALESFORCE_FETCH_IDS) {
      const chunk = valid.slice(i, i + SALESFORCE_FETCH_IDS);
      const q = `SELECT ${this.fields(object)} FROM ${object} WHERE Id IN (${chunk.map((id) => `'${id}'`).join(', ')})`;
      let res = await this.http.request<QueryResult>({ method: 'GET', url: '/query', params: { q }, signal });
      for (;;) {
        if (!res.data || !Array.isArray(res.data.records)) throw new RemoteRejectedError(`${this.conn.name}: the query answered without records`, { status: res.status });
        for (const r of res.data.records) {
          // The answer carries 18-character ids; the webhook may have named the 15-character form.
          const id = String(r.Id);
          found.set(id, r);
          if (id.length === 18) found.set(id.slice(0, 15), r);
        }
        if (res.data.done || !res.data.nextRecordsUrl) break;
        res = await this.http.request<QueryResult>({ method: 'GET', url: `${this.root}${res.data.nextRecordsUrl}`, signal });
      }
    }
    return found;
  }

  /**
   * sObject Collections upsert by external id: at most 200 records a call,
   * allOrNone false, one result per record in order.
   */
  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    const object = this.objectOf(entity);
    const ext = this.externalIdField(object);
    if (items.length > SALESFORCE_MAX_PUSH) throw new RangeError(`salesforce takes at most ${SALESFORCE_MAX_PUSH} records an upsert call`);
    const res = await this.http.request<SaveResult[]>({
      method: 'PATCH', url: `/composite/sobjects/${object}/${ext}`, signal,
      data: { allOrNone: false, records: items.map((i) => ({ attributes: { type: object }, ...i.payload, [ext]: i.payload[ext] ?? i.key })) },
    });
    if (!Array.isArray(res.data) || res.data.length !== items.length) {
      throw new RemoteRejectedError(`${this.conn.name}: the upsert answered ${Array.isArray(res.data) ? res.data.length : 'no'} results for ${items.length} records`, { status: res.status });
    }
    return items.map((item, n) => {
      const r = res.data[n];
      if (r.success && r.id) return { key: item.key, ok: true, externalId: r.id };
      const e = r.errors?.[0];
      return { key: item.key, ok: false, error: new RemoteRejectedError(`${this.conn.name}: ${e?.statusCode ?? 'ERROR'}: ${e?.message ?? 'refused'}${e?.fields?.length ? ` (${e.fields.join(', ')})` : ''}`, { status: 400, details: { code: e?.statusCode } }) };
    });
  }

  /**
   * sObject Collections delete: `DELETE /composite/sobjects?ids=…&allOrNone=false`, at most 200 ids
   * a call, one result per id in order. A record deleted already (ENTITY_IS_DELETED) or unknown
   * (INVALID_CROSS_REFERENCE_KEY) counts as removed.
   */
  async remove(entity: Entity, ids: string[], signal?: AbortSignal): Promise<RemoveOutcome[]> {
    this.objectOf(entity);
    const out: RemoveOutcome[] = [];
    for (let i = 0; i < ids.length; i += SALESFORCE_MAX_PUSH) {
      const chunk = ids.slice(i, i + SALESFORCE_MAX_PUSH);
      const res = await this.http.request<SaveResult[]>({ method: 'DELETE', url: '/composite/sobjects', params: { ids: chunk.join(','), allOrNone: 'false' }, signal });
      chunk.forEach((id, n) => {
        const r = Array.isArray(res.data) ? res.data[n] : undefined;
        const code = r?.errors?.[0]?.statusCode;
        if (r && (r.success || (code && GONE_CODES.has(code)))) out.push({ id, ok: true });
        else out.push({ id, ok: false, error: new RemoteRejectedError(`${this.conn.name}: delete ${id}: ${code ?? 'no result in the answer'}`, { status: 400, details: { code } }) });
      });
    }
    return out;
  }

  /**
   * `onDelete: mark`: sObject Collections update by id, `PATCH /composite/sobjects` with
   * `allOrNone: false`, at most 200 records a call, one result per record in order; a record
   * deleted already or unknown counts as done.
   */
  async mark(entity: Entity, ids: string[], mark: DeletedMark, signal?: AbortSignal): Promise<RemoveOutcome[]> {
    const object = this.objectOf(entity);
    const out: RemoveOutcome[] = [];
    for (let i = 0; i < ids.length; i += SALESFORCE_MAX_PUSH) {
      const chunk = ids.slice(i, i + SALESFORCE_MAX_PUSH);
      const res = await this.http.request<SaveResult[]>({
        method: 'PATCH', url: '/composite/sobjects', signal,
        data: { allOrNone: false, records: chunk.map((id) => ({ attributes: { type: object }, id, [mark.field]: mark.value })) },
      });
      chunk.forEach((id, n) => {
        const r = Array.isArray(res.data) ? res.data[n] : undefined;
        const code = r?.errors?.[0]?.statusCode;
        if (r && (r.success || (code && GONE_CODES.has(code)))) out.push({ id, ok: true });
        else out.push({ id, ok: false, error: new RemoteRejectedError(`${this.conn.name}: mark ${object} ${id}: ${code ?? 'no result in the answer'}: ${r?.errors?.[0]?.message ?? ''}`, { status: 400, details: { code } }) });
      });
    }
    return out;
  }
}

/** Results of a composite delete or update that mean the record is not there any more. */
const GONE_CODES = new Set(['ENTITY_IS_DELETED', 'INVALID_CROSS_REFERENCE_KEY']);

function errorsOf(res: HttpResponse<unknown>): { errorCode?: string; message?: string }[] {
  return Array.isArray(res.data) ? (res.data as { errorCode?: string; message?: string }[]) : [];
}
