import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RateLimitedError, RemoteRejectedError, RemoteUnavailableError } from '../../core/errors.js';
import { HttpClient, parseRetryAfter } from '../http.js';
import { OAuthTokenProvider } from '../oauth.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome, RemoveOutcome, DeletedMark } from '../types.js';
import { buildBatch, parseBatch, type BatchResult } from './batch.js';
import { outcomesWithRest } from '../shared.js';
import { pullTrackedDeletions, type TrackingState } from './changes.js';

export const DYNAMICS_MAX_BATCH = 1000;

const SETS: Record<'customer' | 'order', { set: string; id: string; select: string; expand?: string }> = {
  customer: {
    set: 'contacts', id: 'contactid',
    select: 'contactid,firstname,lastname,emailaddress1,telephone1,address1_line1,address1_city,address1_stateorprovince,address1_postalcode,address1_country,createdon,modifiedon',
  },
  order: {
    set: 'salesorders', id: 'salesorderid',
    select: 'salesorderid,ordernumber,name,statecode,statuscode,totalamount,totallineitemamount,totaltax,freightamount,totaldiscountamount,description,createdon,modifiedon',
    expand: 'transactioncurrencyid($select=isocurrencycode),order_details($select=salesorderdetailid,productdescription,quantity,priceperunit,manualdiscountamount,tax,extendedamount)',
  },
};

/**
 * Incremental on modifiedon, ordered by modifiedon then the id. The filter is `ge` the
 * newest time seen and the ids read at exactly that time are dropped: `gt` alone
 * would lose a record written in the same second as the last one read.
 */
export interface DynamicsCursor {
  since?: string; seenAtSince?: string[]; next?: string; maxSeen?: string; idsAtMax?: string[];
  /** Change tracking of an entity named in `changeTracking`: the delta link, kept across runs (changes.ts). */
  tracking?: TrackingState;
  /** The records are read; the run ends with the change-tracking pass. */
  readDeleted?: true;
}

/** Where the order mapping names the currency by ISO code; the connector binds the org's currency row instead. */
export const ISO_CODE = 'transactioncurrencyid@isocurrencycode';

const GUID = /\(([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\)/i;

export class DynamicsClient {
  readonly http: HttpClient;
  private readonly api: string;
  private readonly currencies = new Map<string, Promise<string | null>>();

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    const root = conn.baseUrl!.replace(/\/$/, '');
    this.api = `${root}/api/data/v9.2`;
    const { tenantId, clientId, clientSecret } = conn.credentials;
    this.http = new HttpClient({
      connection: conn.name,
      baseURL: this.api,
      settings: conn.http,
      logger: ctx.logger,
      headers: { 'odata-version': '4.0', 'odata-maxversion': '4.0', accept: 'application/json' },
      auth: new OAuthTokenProvider({
        connection: conn.name,
        tokenUrl: String(conn.options.tokenUrl ?? `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`),
        grant: 'client_credentials', clientId, clientSecret, params: { scope: `${root}/.default` },
        settings: conn.http, logger: ctx.logger,
      }),
      describeError: (res) => {
        const e = (res.data as { error?: { code?: string; message?: string } } | undefined)?.error;
        return e ? `${e.code ?? 'error'}: ${e.message ?? ''}` : undefined;
      },
    });
  }

  private meta(entity: Entity) {
    if (entity === 'payment') throw new NotSupportedError('dynamics payment');
    return SETS[entity];
  }

  alternateKey(set: string): string {
    const per = (this.conn.options.alternateKeys ?? {}) as Record<string, string>;
    return per[set] ?? String(this.conn.options.alternateKey ?? 'synchub_id');
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const m = this.meta(entity);
    const cursor = (req.cursor ?? {}) as DynamicsCursor;
    if (cursor.readDeleted) {
      const { readDeleted: _r, tracking, ...end } = cursor;
      const pass = await pullTrackedDeletions(this.http, this.conn.name, m.set, m.id, tracking ?? {}, req.signal);
      return {
        records: [], deletions: pass.deletions, done: pass.done,
        cursor: { ...end, tracking: pass.state, ...(pass.done ? {} : { readDeleted: true }) },
        ...(pass.notices ? { notices: pass.notices } : {}),
      };
    }
    const tracked = this.tracksChanges(entity);
    const kept = tracked && cursor.tracking ? { tracking: cursor.tracking } : {};
    const pageSize = Math.min(Math.max(req.pageSize, 1), 5000);
    const headers = { prefer: `odata.maxpagesize=${pageSize},odata.include-annotations="OData.Community.Display.V1.FormattedValue"` };
    const res = cursor.next
      // @odata.nextLink is followed exactly as given.
      ? await this.http.request<{ value?: Record<string, any>[]; '@odata.nextLink'?: string }>({ method: 'GET', url: cursor.next, headers, signal: req.signal })
      : await this.http.request<{ value?: Record<string, any>[]; '@odata.nextLink'?: string }>({
          method: 'GET', url: `/${m.set}`, headers, signal: req.signal,
          params: {
            $select: m.select,
            ...(m.expand ? { $expand: m.expand } : {}),
            ...(cursor.since ? { $filter: `modifiedon ge ${cursor.since}` } : {}),
            $orderby: `modifiedon asc,${m.id} asc`,
          },
        });
    const value = res.data?.value;
    if (!Array.isArray(value)) throw new RemoteRejectedError(`${this.conn.name}: /${m.set} answered without a value array`, { status: res.status, details: { body: res.data } });
    const seen = new Set(cursor.seenAtSince ?? []);
    const records = value.filter((r) => !(r.modifiedon === cursor.since && seen.has(r[m.id])));
    let { maxSeen, idsAtMax = [] } = cursor;
    for (const r of value) {
      if (!maxSeen || r.modifiedon > maxSeen) {
        maxSeen = r.modifiedon;
        idsAtMax = [r[m.id]];
      } else if (r.modifiedon === maxSeen) idsAtMax = [...idsAtMax, r[m.id]];
    }
    const next = res.data['@odata.nextLink'];
    if (next) return { records, cursor: { since: cursor.since, seenAtSince: cursor.seenAtSince, next, maxSeen, idsAtMax, ...kept }, done: false };
    const end: DynamicsCursor = maxSeen
      ? { since: maxSeen, seenAtSince: maxSeen === cursor.since ? [...new Set([...(cursor.seenAtSince ?? []), ...idsAtMax])] : idsAtMax }
      : { since: cursor.since, seenAtSince: cursor.seenAtSince };
    // A tracked entity's run (full or incremental) ends with the change-tracking pass.
    if (tracked) return { records, cursor: { ...end, tracking: { deltaLink: cursor.tracking?.deltaLink }, readDeleted: true }, done: false };
    return { records, cursor: end, done: true };
  }

  /** The entity's table has change tracking on, as the connection says (`changeTracking`). */
  tracksChanges(entity: Entity): boolean {
    return ((this.conn.options.changeTracking ?? []) as string[]).includes(entity);
  }

  /**
   * `DELETE /{set}({id})` per record ("Basic delete": 204); one Dataverse no longer has (404)
   * counts as removed. One call a record: deletions come a few at a time.
   */
  async remove(entity: Entity, ids: string[], signal?: AbortSignal): Promise<RemoveOutcome[]> {
    const m = this.meta(entity);
    return this.eachRow(ids, (id) => this.http.request({ method: 'DELETE', url: `/${m.set}(${id})`, signal, accept: [404] }));
  }

  /**
   * `onDelete: mark`: `PATCH /{set}({id})` with the column, per record, `If-Match: *` so a row
   * Dataverse no longer has is not created again by the upsert semantics of PATCH ("Prevent create
   * in upsert"): its 404 counts as done.
   */
  async mark(entity: Entity, ids: string[], mark: DeletedMark, signal?: AbortSignal): Promise<RemoveOutcome[]> {
    const m = this.meta(entity);
    return this.eachRow(ids, (id) => this.http.request({ method: 'PATCH', url: `/${m.set}(${id})`, data: { [mark.field]: mark.value }, headers: { 'if-match': '*', 'content-type': 'application/json' }, signal, accept: [404] }));
  }

  /** One call per row, in order; an id that is not a Dataverse GUID is refused without a call (it would go into the URL). */
  private async eachRow(ids: string[], call: (id: string) => Promise<unknown>): Promise<RemoveOutcome[]> {
    const out: RemoveOutcome[] = [];
    for (const id of ids) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) {
        out.push({ id, ok: false, error: new RemoteRejectedError(`${this.conn.name}: ${id} is not a Dataverse id`) });
        continue;
      }
      await call(id);
      out.push({ id, ok: true });
    }
    return out;
  }

  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null> {
    const m = this.meta(entity);
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const res = await this.http.request<Record<string, any>>({
      method: 'GET', url: `/${m.set}(${id})`, params: { $select: m.select, ...(m.expand ? { $expand: m.expand } : {}) }, signal, accept: [404],
    });
    return res.status === 404 ? null : res.data;
  }

  /**
   * Upserts by alternate key (`PATCH /contacts(synchub_id='…')`), grouped in `$batch`
   * requests of `batchSize` operations (default 100, at most 1,000) outside change sets,
   * with continue-on-error, so each operation succeeds or fails alone. Each operation's
   * result is its record's outcome: one answered 429 (Dataverse's service protection limits
   * apply inside a batch) or 5xx leaves that record for a later attempt with its Retry-After,
   * while the operations that succeeded stay pushed. After a throttled batch no further batch
   * is sent: Dataverse asks for no new requests until the Retry-After has passed.
   */
  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    const m = this.meta(entity);
    const key = this.alternateKey(m.set);
    const size = Math.min(Number(this.conn.options.batchSize ?? 100), DYNAMICS_MAX_BATCH);
    const out: PushOutcome[] = [];
    const { ready, refused } = await this.bindCurrencies(items, signal);
    out.push(...refused);
    for (let i = 0; i < ready.length; i += size) {
      const chunk = ready.slice(i, i + size);
      let results: BatchResult[];
      try {
        results = await this.sendBatch(m.set, key, chunk, signal);
      } catch (err) {
        return outcomesWithRest(out, ready.slice(i), err);
      }
      let throttled: RateLimitedError | undefined;
      chunk.forEach((item, n) => {
        const outcome = this.outcomeOf(m.id, item, results[n]);
        if (!outcome.ok && outcome.error instanceof RateLimitedError) throttled = outcome.error;
        out.push(outcome);
      });
      if (throttled && i + size < ready.length) return outcomesWithRest(out, ready.slice(i + size), throttled);
    }
    return out;
  }

  private async sendBatch(set: string, key: string, chunk: PushItem[], signal?: AbortSignal): Promise<BatchResult[]> {
    const { boundary, body } = buildBatch(chunk.map((item) => {
      const value = String(item.payload[key] ?? item.key).replace(/'/g, "''");
      return { method: 'PATCH', url: `${this.api}/${set}(${key}='${encodeURIComponent(value)}')`, body: { ...item.payload, [key]: item.payload[key] ?? item.key } };
    }));
    const res = await this.http.request<string>({
      method: 'POST', url: '/$batch', data: body, signal, rawText: true,
      headers: { 'content-type': `multipart/mixed; boundary=${boundary}`, prefer: 'odata.continue-on-error', accept: 'multipart/mixed' },
    });
    const results = parseBatch(res.headers['content-type'], typeof res.data === 'string' ? res.data : String(res.data));
    if (results.length !== chunk.length) throw new RemoteRejectedError(`${this.conn.name}: $batch answered ${results.length} results for ${chunk.length} operations`, { status: res.status });
    return results;
  }

  private outcomeOf(idColumn: string, item: PushItem, r: BatchResult): PushOutcome {
    const e = (r.body as { error?: { code?: string; message?: string } } | undefined)?.error;
    const what = `${this.conn.name}: an operation of the $batch answered ${r.status}${e ? ` ${e.code ?? ''}: ${e.message ?? ''}` : ''}`;
    if (r.status >= 200 && r.status < 300) {
      const id = GUID.exec(r.headers['odata-entityid'] ?? '')?.[1] ?? (r.body as Record<string, string> | undefined)?.[idColumn];
      return id ? { key: item.key, ok: true, externalId: id } : { key: item.key, ok: false, error: new RemoteRejectedError(`${this.conn.name}: the upsert of ${item.key} answered no record id`) };
    }
    if (r.status === 429) return { key: item.key, ok: false, error: new RateLimitedError(what, parseRetryAfter(r.headers['retry-after']) ?? 5000, { code: e?.code }) };
    if (r.status >= 500 || r.status === 408) return { key: item.key, ok: false, error: new RemoteUnavailableError(what, { status: r.status, details: { code: e?.code } }) };
    return { key: item.key, ok: false, error: new RemoteRejectedError(`${this.conn.name}: ${r.status} ${e?.code ?? ''}: ${e?.message ?? 'refused'}`, { status: r.status, details: { code: e?.code } }) };
  }

  /**
   * A sales order carries its currency as the `transactioncurrencyid` lookup, else Dataverse
   * books its amounts in the org's base currency. The mapping names the currency by ISO code
   * (`transactioncurrencyid@isocurrencycode`); it is looked up once per connection in
   * `transactioncurrencies` and bound by id. An order in a currency the org does not have is
   * refused with that reason (dead-lettered, replayable once the currency is added).
   */
  private async bindCurrencies(items: PushItem[], signal?: AbortSignal): Promise<{ ready: PushItem[]; refused: PushOutcome[] }> {
    const codes = [...new Set(items.flatMap((i) => (typeof i.payload[ISO_CODE] === 'string' ? [i.payload[ISO_CODE] as string] : [])))];
    if (!codes.length) return { ready: items, refused: [] };
    const ids = new Map<string, string | null>();
    for (const code of codes) ids.set(code, await this.currencyId(code, signal));
    const ready: PushItem[] = [];
    const refused: PushOutcome[] = [];
    for (const item of items) {
      const code = item.payload[ISO_CODE];
      if (code === undefined) {
        ready.push(item);
        continue;
      }
      const id = typeof code === 'string' ? ids.get(code) : null;
      if (!id) {
        refused.push({ key: item.key, ok: false, error: new RemoteRejectedError(`${this.conn.name}: the Dataverse org has no currency ${JSON.stringify(code)} (no transactioncurrencies row with that isocurrencycode): add it in Settings > Currencies, then replay`) });
        continue;
      }
      const { [ISO_CODE]: _code, ...payload } = item.payload;
      ready.push({ ...item, payload: { ...payload, 'transactioncurrencyid@odata.bind': `/transactioncurrencies(${id})` } });
    }
    return { ready, refused };
  }

  /**
   * The id of the org's currency with this ISO code, or null. A found id is kept for the
   * connection's lifetime, and concurrent pushes share one look-up; a miss or a failed
   * look-up is asked again next time (the currency may be added meanwhile).
   */
  private currencyId(code: string, signal?: AbortSignal): Promise<string | null> {
    if (!/^[A-Z]{3}$/.test(code)) return Promise.resolve(null);
    let pending = this.currencies.get(code);
    if (!pending) {
      pending = this.http.request<{ value?: { transactioncurrencyid?: string }[] }>({
        method: 'GET', url: '/transactioncurrencies', signal,
        params: { $select: 'transactioncurrencyid,isocurrencycode', $filter: `isocurrencycode eq '${code}'` },
      }).then((res) => {
        const id = res.data?.value?.[0]?.transactioncurrencyid;
        return id && /^[0-9a-f-]{36}$/i.test(id) ? id : null;
      });
      this.currencies.set(code, pending);
      pending.then((id) => { if (!id) this.currencies.delete(code); }, () => this.currencies.delete(code));
    }
    return pending;
  }
}
