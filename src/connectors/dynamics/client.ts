import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RateLimitedError, RemoteRejectedError, RemoteUnavailableError } from '../../core/errors.js';
import { HttpClient, parseRetryAfter } from '../http.js';
import { OAuthTokenProvider } from '../oauth.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';
import { buildBatch, parseBatch } from './batch.js';

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
export interface DynamicsCursor { since?: string; seenAtSince?: string[]; next?: string; maxSeen?: string; idsAtMax?: string[] }

const GUID = /\(([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\)/i;

export class DynamicsClient {
  readonly http: HttpClient;
  private readonly api: string;

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
    if (next) return { records, cursor: { since: cursor.since, seenAtSince: cursor.seenAtSince, next, maxSeen, idsAtMax }, done: false };
    const end: DynamicsCursor = maxSeen
      ? { since: maxSeen, seenAtSince: maxSeen === cursor.since ? [...new Set([...(cursor.seenAtSince ?? []), ...idsAtMax])] : idsAtMax }
      : { since: cursor.since, seenAtSince: cursor.seenAtSince };
    return { records, cursor: end, done: true };
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
   * with continue-on-error, so each operation succeeds or fails alone.
   */
  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    const m = this.meta(entity);
    const key = this.alternateKey(m.set);
    const size = Math.min(Number(this.conn.options.batchSize ?? 100), DYNAMICS_MAX_BATCH);
    const out: PushOutcome[] = [];
    for (let i = 0; i < items.length; i += size) {
      const chunk = items.slice(i, i + size);
      const { boundary, body } = buildBatch(chunk.map((item) => {
        const value = String(item.payload[key] ?? item.key).replace(/'/g, "''");
        return { method: 'PATCH', url: `${this.api}/${m.set}(${key}='${encodeURIComponent(value)}')`, body: { ...item.payload, [key]: item.payload[key] ?? item.key } };
      }));
      const res = await this.http.request<string>({
        method: 'POST', url: '/$batch', data: body, signal, rawText: true,
        headers: { 'content-type': `multipart/mixed; boundary=${boundary}`, prefer: 'odata.continue-on-error', accept: 'multipart/mixed' },
      });
      const results = parseBatch(res.headers['content-type'], typeof res.data === 'string' ? res.data : String(res.data));
      if (results.length !== chunk.length) throw new RemoteRejectedError(`${this.conn.name}: $batch answered ${results.length} results for ${chunk.length} operations`, { status: res.status });
      // An operation throttled or failing on the server side makes the whole batch a retry: upserts by key are idempotent.
      const throttled = results.find((r) => r.status === 429);
      if (throttled) throw new RateLimitedError(`${this.conn.name}: an operation of the $batch was throttled`, parseRetryAfter(throttled.headers['retry-after']) ?? 5000);
      const failing = results.find((r) => r.status >= 500);
      if (failing) throw new RemoteUnavailableError(`${this.conn.name}: an operation of the $batch answered ${failing.status}`, { status: failing.status });
      chunk.forEach((item, n) => {
        const r = results[n];
        if (r.status >= 200 && r.status < 300) {
          const id = GUID.exec(r.headers['odata-entityid'] ?? '')?.[1] ?? (r.body as Record<string, string> | undefined)?.[m.id];
          out.push(id ? { key: item.key, ok: true, externalId: id } : { key: item.key, ok: false, error: new RemoteRejectedError(`${this.conn.name}: the upsert of ${item.key} answered no record id`) });
        } else {
          const e = (r.body as { error?: { code?: string; message?: string } } | undefined)?.error;
          out.push({ key: item.key, ok: false, error: new RemoteRejectedError(`${this.conn.name}: ${r.status} ${e?.code ?? ''}: ${e?.message ?? 'refused'}`, { status: r.status, details: { code: e?.code } }) });
        }
      });
    }
    return out;
  }
}
