import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RateLimitedError, RemoteRejectedError } from '../../core/errors.js';
import { sleep, type HttpClient } from '../http.js';
import type { HttpSettings, PullPage, PullRequest } from '../types.js';
import { customerToRest, orderToRest } from './graphql-normalize.js';
import { isProtectedDataError, keepWithheld, withheldMessage, withheldNodes, type GraphqlError } from './protected-data.js';
import type { ConnectionNotices } from '../notices.js';
import { CUSTOMERS_QUERY, CUSTOMER_PAGE, NESTED_FIRST, ORDER_PAGE, NESTED_PAGE_SIZE, ORDERS_QUERY, ORDER_QUERY, CUSTOMER_QUERY, ORDER_REFUNDS_QUERY, REFUNDS_MAX, nestedPageQuery, type NestedField } from './graphql-queries.js';

/**
 * Pulls through the GraphQL Admin API (`POST /admin/api/{version}/graphql.json`).
 *
 * Rate limits are by calculated query cost (shopify.dev: GraphQL Admin API rate
 * limits): every answer's `extensions.cost` carries `requestedQueryCost` and
 * `throttleStatus { maximumAvailable currentlyAvailable restoreRate }`. Before each
 * query the bucket is refilled at `restoreRate` since the last answer; a query the
 * bucket cannot pay for waits (or, past `http.maxInlineWaitMs`, goes back to the job
 * layer as RateLimitedError). A `THROTTLED` answer (HTTP 200, `errors[].extensions.code`)
 * is the same wait, never a failure.
 */

/** Orders and customers a page, at most: what keeps the query under Shopify's 1,000-point single-query limit (graphql-queries.ts). */
export const GRAPHQL_ORDER_PAGE = ORDER_PAGE;
export const GRAPHQL_CUSTOMER_PAGE = CUSTOMER_PAGE;
/** Follow-up pages read for one nested connection of one record, at most (work per record stays bounded). */
export const NESTED_MAX_PAGES = 100;

export interface ShopifyGraphqlCursor {
  /** updated_at lower bound of the run in progress (inclusive). */
  since?: string;
  /** endCursor of the last page of the run in progress. */
  after?: string;
  /** Newest updatedAt seen in the run: the next run's `since`. */
  maxSeen?: string;
}

interface ThrottleStatus { maximumAvailable: number; currentlyAvailable: number; restoreRate: number }
interface Cost { requestedQueryCost?: number; actualQueryCost?: number | null; throttleStatus?: ThrottleStatus }
interface GraphqlBody { data?: Record<string, any> | null; errors?: GraphqlError[]; extensions?: { cost?: Cost } }
interface Connection<T> { nodes: T[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }

const ROOT: Partial<Record<Entity, { query: string; one: string; type: string; field: 'orders' | 'customers'; normalize: (n: any) => Record<string, unknown> }>> = {
  order: { query: ORDERS_QUERY, one: ORDER_QUERY, type: 'Order', field: 'orders', normalize: orderToRest },
  customer: { query: CUSTOMERS_QUERY, one: CUSTOMER_QUERY, type: 'Customer', field: 'customers', normalize: customerToRest },
};

/** Milliseconds until a bucket holding `available` (refilling at `restoreRate`/s) can pay `cost`. */
export function costWaitMs(cost: number, available: number, restoreRate: number): number {
  if (cost <= available) return 0;
  if (!(restoreRate > 0)) return 1000;
  return Math.ceil(((cost - available) / restoreRate) * 1000);
}

/** `updated_at:>='2025-01-01T00:00:00Z'`; the value must be a date, so no search syntax can ride in on it. */
export function updatedSinceQuery(since: string | undefined): string | undefined {
  if (!since) return undefined;
  if (Number.isNaN(Date.parse(since)) || since.includes("'") || since.includes('\\')) {
    throw new RemoteRejectedError(`shopify cursor "since" is not a date: ${JSON.stringify(since)}`);
  }
  return `updated_at:>='${since}'`;
}

export class ShopifyGraphql {
  private readonly url: string;
  /** The bucket as the last answer left it. */
  private bucket?: ThrottleStatus & { at: number };
  /** requestedQueryCost last seen per query document: what the next run of it will ask. */
  private readonly lastCost = new Map<string, number>();

  constructor(
    private readonly http: HttpClient,
    apiPath: string,
    private readonly connection: string,
    private readonly settings: HttpSettings,
    /** Where withheld protected customer data is reported (protected-data.ts). */
    private readonly notices?: ConnectionNotices,
  ) {
    this.url = `${apiPath}/graphql.json`;
  }

  /** Points available now, refilled since the last answer. */
  available(now = Date.now()): number | undefined {
    const b = this.bucket;
    if (!b) return undefined;
    return Math.min(b.maximumAvailable, b.currentlyAvailable + ((now - b.at) / 1000) * b.restoreRate);
  }

  private async waitFor(ms: number, why: string, signal?: AbortSignal): Promise<void> {
    if (ms <= 0) return;
    if (ms > this.settings.maxInlineWaitMs) throw new RateLimitedError(`${this.connection}: ${why}; waiting ${Math.ceil(ms / 1000)} s`, ms);
    await sleep(ms, signal);
  }

  /**
   * One query. With `withheld`, an answer whose only errors are withheld protected customer
   * data (protected-data.ts) is data, and those errors are collected there; otherwise any error fails it.
   */
  async query<T = Record<string, any>>(query: string, variables: Record<string, unknown>, signal?: AbortSignal, withheld?: GraphqlError[]): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const expected = this.lastCost.get(query);
      const available = this.available();
      if (expected !== undefined && available !== undefined && this.bucket) {
        // A bucket never holds more than maximumAvailable: waiting for more would never end.
        const need = Math.min(expected, this.bucket.maximumAvailable);
        await this.waitFor(costWaitMs(need, available, this.bucket.restoreRate), `the query costs ${expected} points and the bucket holds ${Math.floor(available)}`, signal);
      }
      const res = await this.http.request<GraphqlBody>({ method: 'POST', url: this.url, data: { query, variables }, signal });
      const body = res.data;
      if (!body || typeof body !== 'object') {
        throw new RemoteRejectedError(`${this.connection}: graphql answer is not JSON`, { status: res.status });
      }
      const cost = body.extensions?.cost;
      if (cost?.throttleStatus) this.bucket = { ...cost.throttleStatus, at: Date.now() };
      if (typeof cost?.requestedQueryCost === 'number') this.lastCost.set(query, cost.requestedQueryCost);
      const errors = Array.isArray(body.errors) ? body.errors : [];
      if (errors.some((e) => e?.extensions?.code === 'THROTTLED')) {
        const t = cost?.throttleStatus;
        const need = cost?.requestedQueryCost ?? expected ?? 0;
        const ms = t ? Math.max(costWaitMs(need, t.currentlyAvailable, t.restoreRate), 100) : 1000;
        if (attempt >= this.settings.retries) {
          throw new RateLimitedError(`${this.connection}: graphql THROTTLED (query costs ${need}, bucket holds ${t?.currentlyAvailable ?? '?'})`, ms, { cost });
        }
        await this.waitFor(ms, `graphql THROTTLED (query costs ${need}, bucket holds ${t?.currentlyAvailable ?? '?'})`, signal);
        continue;
      }
      if (withheld && body.data && errors.length && errors.every(isProtectedDataError)) {
        withheld.push(...errors);
        return body.data as T;
      }
      if (errors.length || !body.data) {
        const message = errors.map((e) => (e?.extensions?.code ? `${e.extensions.code}: ${e.message}` : e?.message)).join('; ') || 'answer has no data';
        throw new RemoteRejectedError(`${this.connection}: graphql query refused: ${message}`, { status: res.status, details: { errors } });
      }
      return body.data as T;
    }
  }

  /**
   * One page of orders or customers, as REST-shaped records (see graphql-normalize.ts).
   * A query holds at most 12 orders or 80 customers (the cost limit), so a page of the
   * pipeline's `batchSize` is filled by several queries in a row: the hub then handles one
   * page (one job, one sealed page) per batch rather than per query. It stops early, handing
   * on what it has, when the next query would have to wait for the cost bucket.
   */
  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const root = ROOT[entity];
    if (!root) throw new NotSupportedError(`shopify ${entity}`);
    // A cursor left by the REST path (`next`) restarts the run from its `since`.
    const cursor = (req.cursor ?? {}) as ShopifyGraphqlCursor;
    const cap = entity === 'order' ? GRAPHQL_ORDER_PAGE : GRAPHQL_CUSTOMER_PAGE;
    const want = Math.max(1, req.pageSize);
    const search = updatedSinceQuery(cursor.since) ?? null;
    const records: Record<string, unknown>[] = [];
    let maxSeen = cursor.maxSeen;
    let after = cursor.after ?? null;
    let withheldAny = false;
    // Fields withheld for lack of protected customer data access: reported once per connection, before the page goes on.
    const page = async (p: PullPage): Promise<PullPage> => {
      if (withheldAny) await this.notices?.report(`protected-customer-data:${entity}`, withheldMessage(entity));
      return p;
    };
    for (;;) {
      const first = Math.min(want - records.length, cap);
      const withheld: GraphqlError[] = [];
      const data = await this.query(root.query, { first, after, query: search }, req.signal, withheld);
      const conn = data[root.field] as Connection<Record<string, any>> | undefined;
      if (!conn || !Array.isArray(conn.nodes) || !conn.pageInfo) {
        throw new RemoteRejectedError(`${this.connection}: graphql ${root.field} answer has no nodes/pageInfo`, { details: { keys: Object.keys(data ?? {}) } });
      }
      const withheldAt = withheldNodes(withheld, root.field);
      if (withheld.length) withheldAny = true;
      for (const [i, node] of conn.nodes.entries()) {
        await this.completeNested(entity, node, req.signal);
        if (node.updatedAt && (!maxSeen || Date.parse(node.updatedAt) > Date.parse(maxSeen))) maxSeen = node.updatedAt;
        const record = root.normalize(node);
        // A customer left with no contact field is not pushed as an empty contact (reported once).
        if (!withheldAt.has(i) || keepWithheld(entity, record)) records.push(record);
      }
      if (!conn.pageInfo.hasNextPage || !conn.pageInfo.endCursor) return page({ records, cursor: { since: maxSeen ?? cursor.since }, done: true });
      after = conn.pageInfo.endCursor;
      if (records.length >= want || this.mustWaitFor(root.query)) return page({ records, cursor: { since: cursor.since, after, maxSeen }, done: false });
    }
  }

  /** Whether the bucket, as the last answer left it, cannot pay for another run of `query` now. */
  private mustWaitFor(query: string): boolean {
    const expected = this.lastCost.get(query);
    const available = this.available();
    return expected !== undefined && available !== undefined && costWaitMs(Math.min(expected, this.bucket!.maximumAvailable), available, this.bucket!.restoreRate) > 0;
  }

  /** One record by its REST id, REST-shaped; null when Shopify has none. */
  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<Record<string, unknown> | null> {
    const root = ROOT[entity];
    if (!root) throw new NotSupportedError(`shopify ${entity}`);
    if (!/^\d{1,20}$/.test(id)) throw new RemoteRejectedError(`${this.connection}: shopify ${entity} id must be numeric, got ${JSON.stringify(id)}`);
    const key = entity === 'order' ? 'order' : 'customer';
    const withheld: GraphqlError[] = [];
    const data = await this.query(root.one, { id: `gid://shopify/${root.type}/${id}` }, signal, withheld);
    const node = data[key];
    if (!node) return null;
    await this.completeNested(entity, node, signal);
    const record = root.normalize(node);
    if (withheld.length) {
      await this.notices?.report(`protected-customer-data:${entity}`, withheldMessage(entity));
      // Not pushed without its contact fields, and not taken for gone either: the record's failure keeps it replayable.
      if (!keepWithheld(entity, record)) throw new RemoteRejectedError(`${this.connection}: Shopify withheld the protected customer data of ${entity} ${id} (the app lacks protected customer data access)`, { status: 403 });
    }
    return record;
  }

  /** Fetches the rest of every nested connection whose first page did not hold it all. */
  private async completeNested(entity: Entity, node: Record<string, any>, signal?: AbortSignal): Promise<void> {
    if (entity === 'order') {
      await this.completeConnection(node.id, node, 'lineItems', signal);
      await this.completeConnection(node.id, node, 'shippingLines', signal);
      if (Array.isArray(node.refunds) && node.refunds.length >= NESTED_FIRST.refunds) {
        // Order.refunds is a list, not a connection: a full first list may have been cut, so it is read again whole.
        const data = await this.query<{ node?: { refunds?: unknown[] } | null }>(ORDER_REFUNDS_QUERY, { id: node.id }, signal);
        const refunds = data.node?.refunds;
        if (!Array.isArray(refunds)) throw new RemoteRejectedError(`${this.connection}: graphql refunds of ${node.id} answer has no list`, { details: { keys: Object.keys(data ?? {}) } });
        if (refunds.length >= REFUNDS_MAX) {
          throw new RemoteRejectedError(`${this.connection}: order ${node.legacyResourceId} has ${REFUNDS_MAX} or more refunds, more than one query reads; it is not pulled incomplete`);
        }
        node.refunds = refunds;
      }
      for (const refund of node.refunds ?? []) await this.completeConnection(refund.id, refund, 'transactions', signal);
    } else if (entity === 'customer') {
      await this.completeConnection(node.id, node, 'addressesV2', signal);
    }
  }

  private async completeConnection(id: string, owner: Record<string, any>, field: NestedField, signal?: AbortSignal): Promise<void> {
    const conn = owner[field] as Connection<unknown> | undefined;
    if (!conn?.pageInfo) return;
    let pageInfo = conn.pageInfo;
    const query = nestedPageQuery(field);
    for (let pages = 0; pageInfo.hasNextPage && pageInfo.endCursor; pages++) {
      if (pages >= NESTED_MAX_PAGES) {
        throw new RemoteRejectedError(`${this.connection}: ${field} of ${id} has more than ${NESTED_MAX_PAGES * NESTED_PAGE_SIZE} items; the record is not pulled incomplete`);
      }
      // Further addresses of a customer whose protected data is withheld come with the same errors: data, not a failure.
      const withheld: GraphqlError[] = [];
      const data = await this.query<{ node?: Record<string, Connection<unknown>> | null }>(query, { id, first: NESTED_PAGE_SIZE, after: pageInfo.endCursor }, signal, withheld);
      const next = data.node?.[field];
      if (!next || !Array.isArray(next.nodes) || !next.pageInfo) {
        throw new RemoteRejectedError(`${this.connection}: graphql ${field} of ${id} answer has no nodes/pageInfo`, { details: { keys: Object.keys(data ?? {}) } });
      }
      conn.nodes.push(...next.nodes);
      pageInfo = next.pageInfo;
    }
    conn.pageInfo = pageInfo;
  }
}
