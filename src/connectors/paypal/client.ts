import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient } from '../http.js';
import { OAuthTokenProvider } from '../oauth.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';

const WINDOW_MS = 31 * 24 * 3600_000;
/** PayPal's reporting keeps three years; a first run starts this far back. */
const FIRST_RUN_MS = 31 * 24 * 3600_000;

/** Reconciliation through `/v1/reporting/transactions` in windows of at most 31 days, page by page. */
export interface PaypalCursor { since?: string; windowEnd?: string; page?: number; maxSeen?: string }

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '-0000');

export class PaypalClient {
  readonly http: HttpClient;

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    const base = conn.baseUrl!.replace(/\/$/, '');
    this.http = new HttpClient({
      connection: conn.name, baseURL: base, settings: conn.http, logger: ctx.logger,
      headers: { 'content-type': 'application/json' },
      auth: new OAuthTokenProvider({
        connection: conn.name, tokenUrl: `${base}/v1/oauth2/token`, grant: 'client_credentials', clientAuth: 'basic',
        clientId: conn.credentials.clientId, clientSecret: conn.credentials.clientSecret, settings: conn.http, logger: ctx.logger,
      }),
      describeError: (res) => {
        const d = res.data as { name?: string; message?: string; error?: string; error_description?: string } | undefined;
        return d?.name ? `${d.name}: ${d.message ?? ''}` : d?.error ? `${d.error}: ${d.error_description ?? ''}` : undefined;
      },
    });
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    if (entity !== 'payment') throw new NotSupportedError(`paypal ${entity}`);
    const cursor = (req.cursor ?? {}) as PaypalCursor;
    const now = Date.now();
    const start = cursor.since ? Date.parse(cursor.since.replace(/-0000$/, 'Z')) : now - FIRST_RUN_MS;
    const end = cursor.windowEnd ? Date.parse(cursor.windowEnd.replace(/-0000$/, 'Z')) : Math.min(start + WINDOW_MS, now);
    const page = cursor.page ?? 1;
    const res = await this.http.request<{ transaction_details?: Record<string, any>[]; total_pages?: number; page?: number }>({
      method: 'GET', url: '/v1/reporting/transactions', signal: req.signal,
      params: { start_date: iso(start), end_date: iso(end), fields: 'transaction_info', page_size: Math.min(Math.max(req.pageSize, 1), 500), page },
    });
    const details = res.data?.transaction_details;
    if (!Array.isArray(details)) throw new RemoteRejectedError(`${this.conn.name}: /v1/reporting/transactions answered without transaction_details`);
    let maxSeen = cursor.maxSeen;
    for (const d of details) {
      const u = d.transaction_info?.transaction_updated_date;
      if (u && (!maxSeen || Date.parse(u) > Date.parse(maxSeen))) maxSeen = u;
    }
    const since = iso(start);
    if (page < (res.data.total_pages ?? 1)) return { records: details, cursor: { since, windowEnd: iso(end), page: page + 1, maxSeen }, done: false };
    // This window is read: the next one starts where it ended, until now.
    if (end < now - 60_000) return { records: details, cursor: { since: iso(end), maxSeen }, done: false };
    return { records: details, cursor: { since: iso(end) }, done: true };
  }

  fetch(entity: Entity, id: string): Promise<unknown | null> {
    throw new NotSupportedError(`paypal fetch of ${entity} ${id}: webhook events carry the resource`);
  }

  push(entity: Entity, _items: PushItem[]): Promise<PushOutcome[]> {
    throw new NotSupportedError(`paypal push of ${entity} (payment results are read, not written)`);
  }
}
