import { ShopifyRemoval } from './removal.js';
import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { pushEach } from '../shared.js';
import { HttpClient } from '../http.js';
import { ConnectionNotices } from '../notices.js';
import { shopifyAuth } from './auth.js';
import { ShopifyGraphql } from './graphql.js';
import { GraphqlShopifyWriter } from './graphql-writes.js';
import { scopeReport, ShopifyScopes } from './scopes.js';
import { ShopifyVersionWatch } from './versions.js';
import { RestShopifyWriter, type ShopifyWriter } from './writes.js';
import type { Connection, ConnectionInspection, ConnectionUse, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';
import { BULK_MIN_VERSION, ShopifyBulk } from './bulk.js';

/** The newest stable Admin API version (shopify.dev/docs/api/usage/versioning): the default of `apiVersion`. */
export const SHOPIFY_API_VERSION = '2026-10';

/** Shopify allows at most 250 records a page (Admin REST). */
export const SHOPIFY_MAX_PAGE = 250;

/** State kept between pages and runs. */
export interface ShopifyCursor {
  /** updated_at_min of the run in progress (inclusive). */
  since?: string;
  /** The rel="next" URL of the run in progress; it carries page_info. */
  next?: string;
  /** Newest updated_at seen in the run: the next run's `since`. */
  maxSeen?: string;
}

const RESOURCE: Partial<Record<Entity, { path: string; key: string; one: string }>> = {
  order: { path: 'orders', key: 'orders', one: 'order' },
  customer: { path: 'customers', key: 'customers', one: 'customer' },
};

/** `<https://…page_info=abc>; rel="next", <…>; rel="previous"` → the next URL. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    // Anchored: each part starts with its <URL>; unanchored, a part of many "<" was quadratic.
    const m = /^<([^>]+)>\s*;\s*rel="?next"?/.exec(part.trim());
    if (m) return m[1];
  }
  return undefined;
}

/**
 * X-Shopify-Shop-Api-Call-Limit is `used/size` of the leaky bucket, which drains
 * at 2 calls/s on standard plans. Near the top, wait for room before the next call.
 */
export function shopifyThrottle(callLimit: string | undefined, leakPerSecond = 2): number {
  const m = /^(\d+)\/(\d+)$/.exec(callLimit ?? '');
  if (!m) return 0;
  const used = Number(m[1]);
  const size = Number(m[2]);
  const over = used - Math.floor(size * 0.8);
  return over > 0 ? Math.ceil((over / leakPerSecond) * 1000) : 0;
}

/** Which Admin API pulls, look-ups and write-backs use (option `api`; GraphQL unless `rest` is asked for). */
export function shopifyApi(conn: Connection): 'graphql' | 'rest' {
  return conn.options.api === 'rest' ? 'rest' : 'graphql';
}

export class ShopifyClient {
  readonly http: HttpClient;
  private readonly apiPath: string;
  /** Pulls and look-ups through the GraphQL Admin API when `api: graphql`. */
  private readonly graphql?: ShopifyGraphql;
  /** Write-backs: REST or GraphQL, by `api` (writes.ts). */
  private readonly writer: ShopifyWriter;
  private readonly versions: ShopifyVersionWatch;
  private readonly scopes: ShopifyScopes;
  /** Full pulls through a bulk operation (bulk.ts) when `api: graphql` and `backfill: bulk`. */
  private readonly bulk?: ShopifyBulk;
  /** Deletes, closes and tags records as a target (removal.ts), through GraphQL whatever `api` says. */
  readonly removal: ShopifyRemoval;

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    const version = String(conn.options.apiVersion ?? SHOPIFY_API_VERSION);
    this.apiPath = `/admin/api/${version}`;
    const notices = new ConnectionNotices(conn.name, ctx.logger, ctx.shared);
    this.versions = new ShopifyVersionWatch(version, notices);
    const { headers, auth } = shopifyAuth(conn, ctx);
    this.http = new HttpClient({
      connection: conn.name,
      baseURL: conn.baseUrl!,
      settings: conn.http,
      logger: ctx.logger,
      headers: { ...headers, 'content-type': 'application/json' },
      auth,
      observe: (res) => this.versions.observe(res.headers['x-shopify-api-version']),
      throttle: (res) => shopifyThrottle(res.headers['x-shopify-shop-api-call-limit'], Number(conn.options.leakRate ?? 2)),
      describeError: (res) => {
        const errors = (res.data as { errors?: unknown })?.errors;
        return errors === undefined ? undefined : typeof errors === 'string' ? errors : JSON.stringify(errors);
      },
    });
    // The GraphQL endpoint serves every app, whichever `api` it pulls with: scopes are read through it.
    const graphql = new ShopifyGraphql(this.http, this.apiPath, conn.name, conn.http, notices);
    this.scopes = new ShopifyScopes(graphql, notices);
    this.removal = new ShopifyRemoval(graphql, conn.name);
    if (shopifyApi(conn) === 'graphql') {
      this.graphql = graphql;
      this.writer = new GraphqlShopifyWriter(graphql, conn.name);
    } else {
      this.writer = new RestShopifyWriter(this.http, this.apiPath, conn.name);
    }
    if (this.graphql && conn.options.backfill !== 'pages' && version >= BULK_MIN_VERSION) this.bulk = new ShopifyBulk(this.graphql, conn.name, conn.http, /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?(\/|$)/.test(conn.baseUrl ?? ''));
  }

  private resource(entity: Entity) {
    const r = RESOURCE[entity];
    if (!r) throw new NotSupportedError(`shopify ${entity}`);
    return r;
  }

  /**
   * One page. Incremental by updated_at_min; paging by the Link header's page_info,
   * with which Shopify allows only `limit` (and `fields`) beside it.
   */
  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    let page: PullPage;
    const bulk = Boolean(this.bulk && ShopifyBulk.handles(req.cursor));
    if (bulk) page = await this.bulk!.pull(entity, req);
    else if (this.graphql) page = await this.graphql.pull(entity, req);
    else return this.pullRest(entity, req);
    // A pull from the beginning (a bulk export, or the first page of a paged one): say whether Shopify
    // lets it see more than 60 days of orders. The run keeps each notice once (store.addRunNotices).
    const from = req.cursor as { since?: string; after?: string } | null;
    if (entity === 'order' && (bulk || (!from?.since && !from?.after))) {
      const notice = await this.scopes.fullOrderPullNotice(req.signal);
      if (notice) page.notices = [...(page.notices ?? []), notice];
    }
    return page;
  }

  private async pullRest(entity: Entity, req: PullRequest): Promise<PullPage> {
    const r = this.resource(entity);
    const cursor = (req.cursor ?? {}) as ShopifyCursor;
    const limit = Math.min(req.pageSize, SHOPIFY_MAX_PAGE);
    const res = cursor.next
      ? await this.http.request<Record<string, unknown>>({ method: 'GET', url: cursor.next, signal: req.signal, rawBody: true })
      : await this.http.request<Record<string, unknown>>({
          method: 'GET',
          rawBody: true,
          url: `${this.apiPath}/${r.path}.json`,
          params: {
            limit,
            ...(entity === 'order' ? { status: 'any' } : {}),
            ...(cursor.since ? { updated_at_min: cursor.since } : {}),
          },
          signal: req.signal,
        });
    const records = res.data?.[r.key];
    if (!Array.isArray(records)) {
      throw new RemoteRejectedError(`${this.conn.name}: ${r.path} page has no "${r.key}" array`, { status: res.status, details: { body: res.data } });
    }
    let maxSeen = cursor.maxSeen;
    for (const rec of records as { updated_at?: string }[]) {
      if (rec.updated_at && (!maxSeen || Date.parse(rec.updated_at) > Date.parse(maxSeen))) maxSeen = rec.updated_at;
    }
    const next = nextLink(res.headers.link);
    // The records are the body's array as it came: the hub can keep the body itself.
    const raw = res.body ? { body: res.body, recordsAt: r.key } : undefined;
    if (next) return { records, cursor: { since: cursor.since, next, maxSeen }, done: false, raw };
    return { records, cursor: { since: maxSeen ?? cursor.since }, done: true, raw };
  }

  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null> {
    if (this.graphql) return this.graphql.fetch(entity, id, signal);
    const r = this.resource(entity);
    const res = await this.http.request<Record<string, unknown>>({
      method: 'GET', url: `${this.apiPath}/${r.path}/${encodeURIComponent(id)}.json`, signal, accept: [404],
    });
    return res.status === 404 ? null : (res.data?.[r.one] ?? null);
  }

  /** Order status changes and customers, one record at a time, through the writer `api` chose. */
  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    if (entity !== 'customer' && entity !== 'order') throw new NotSupportedError(`shopify push of ${entity}`);
    return pushEach(items, (item) => (entity === 'order' ? this.writer.order(item, signal) : this.writer.customer(item, signal)));
  }

  /** Granted scopes against what the pipelines need, and the API version Shopify answered with. */
  async inspect(uses: ConnectionUse[], signal?: AbortSignal): Promise<ConnectionInspection> {
    const report = scopeReport(await this.scopes.granted(signal), uses);
    const version = this.versions.describe();
    if (version && this.versions.served !== this.versions.asked) report.notices.unshift(version);
    return report;
  }
}
