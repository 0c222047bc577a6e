import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError, RemoteUnavailableError, SourceFailedError, SourceNotReadyError, SynchubError } from '../../core/errors.js';
import type { HttpSettings, PullPage, PullRequest } from '../types.js';
import { decodeBulkPage, jsonlLines, keepBytes, openBulkResult, readBulkPage, type AttachChild } from './bulk-jsonl.js';
import type { ShopifyGraphql } from './graphql.js';
import { customerToRest, orderToRest } from './graphql-normalize.js';
import { ADDRESS, CUSTOMER_FIELDS, LINE_ITEM, ORDER_FIELDS, SHIPPING_LINE, TRANSACTION } from './graphql-queries.js';

/**
 * Full backfills through a bulk operation (api: graphql, option `backfill: bulk`).
 *
 * shopify.dev pages followed: "Perform bulk operations with the GraphQL Admin API"
 * (api/usage/bulk-operations/queries), mutations/bulkOperationRunQuery, queries/bulkOperation
 * and queries/bulkOperations (both from 2026-01, changelog "New queries for bulk operations"),
 * objects/BulkOperation, enums/BulkOperationStatus, BulkOperationErrorCode, BulkOperationUserErrorCode.
 *
 * A run with no cursor goes through three kinds of page job, each one pull of the run:
 *   1. start: `bulkOperationRunQuery` (or adopt the same query already running), an empty page
 *      whose cursor is `{ bulk: { id } }`;
 *   2. wait: `bulkOperation(id:)` while it is CREATED or RUNNING answers SourceNotReadyError,
 *      and the job layer puts the page job back as a delayed job (workers.ts). Waiting this way
 *      holds no worker slot and no lock for the minutes or hours an operation takes, and the
 *      operation's id lives in the delayed job's own data in Redis, so a crash or restart
 *      picks the same job up and looks at the same operation: nothing starts a second one;
 *   3. read: once COMPLETED, each page job reads `pageSize` root objects of the JSONL from its
 *      byte offset (bulk-jsonl.ts) and hands the next offset on in its cursor.
 * The last page's cursor is `{ since: newest updatedAt }`, the paged pull's increment cursor,
 * and the engine commits a run's cursor only once every page up to the last is recorded.
 * FAILED, CANCELED and EXPIRED operations, and any errorCode or partialDataUrl, fail the run
 * with Shopify's code (SourceFailedError): partial data is never handed on as a full sync.
 */

/** Bulk query operations a shop runs at once, at most (API 2026-01 and newer; one before). */
export const BULK_QUERY_LIMIT = 5;
/** The oldest API version with bulkOperation(id:), bulkOperations and five concurrent bulk queries. */
export const BULK_MIN_VERSION = '2026-01';
/** Wait before trying again when the shop already runs its limit of bulk queries. */
export const BULK_BUSY_WAIT_MS = 60_000;
/** Root objects a page holds at most (a pipeline's batchSize above it is capped). */
export const BULK_MAX_PAGE = 250;

export interface ShopifyBulkCursor {
  bulk: {
    /** The BulkOperation's GID. */
    id: string;
    /** Byte offset of the next page in the result file (0 until the first page is read). */
    offset?: number;
    /** Newest updatedAt seen in the pages read so far: the next run's `since`. */
    maxSeen?: string;
  };
}

export function isBulkCursor(cursor: unknown): cursor is ShopifyBulkCursor {
  const b = (cursor as ShopifyBulkCursor | null)?.bulk;
  return Boolean(b && typeof b === 'object' && typeof b.id === 'string');
}

/**
 * The shortest wait between two polls of an operation. Shopify's own CLI polls a bulk operation
 * it has just started every 300 ms (`@shopify/cli-kit`, QUICK_WATCH_POLL_INTERVAL_MS), and a
 * poll, `bulkOperation(id:)` with scalar fields only, costs 1 point of the bucket (GraphQL Admin
 * API rate limits: an object 1, a scalar 0) that restores 100 points/s on the smallest plan.
 */
export const BULK_POLL_MIN_MS = 300;
/** The longest wait between two polls of an operation, however old it is. */
export const BULK_POLL_MAX_MS = 30_000;

/**
 * Wait before polling an operation again: a tenth of its age, from 300 ms to 30 s. A small
 * export (seconds) is seen COMPLETED within a few hundred ms of its end; one that runs for hours
 * is asked about twice a minute. Polls in an operation's first minute: ~40 (~40 points).
 */
export function bulkPollDelayMs(createdAt: string | undefined, now = Date.now()): number {
  const age = createdAt ? now - Date.parse(createdAt) : 0;
  return Math.min(BULK_POLL_MAX_MS, Math.max(BULK_POLL_MIN_MS, Number.isFinite(age) ? Math.round(age / 10) : BULK_POLL_MIN_MS));
}

/** What a page job waiting for this operation is remembered by; the bulk_operations/finish webhook names the same (webhooks.ts). */
export const bulkWakeKey = (operationGid: string) => `bulk:${operationGid}`;

const edges = (selection: string) => `edges { node { ${selection} } }`;

/**
 * The bulk query documents. Bulk queries take no `first`/`after` and no pageInfo; nested
 * connections (at most five, two levels deep) come back as lines of their own, so each
 * child selects `id` (its GID names its type, see CHILD_FIELD).
 */
export const BULK_QUERIES: Partial<Record<Entity, string>> = {
  order: `{ orders { ${edges(`${ORDER_FIELDS}
  lineItems { ${edges(LINE_ITEM)} }
  shippingLines { ${edges(SHIPPING_LINE)} }
  refunds { id transactions { ${edges(TRANSACTION)} } }`)} } }`,
  customer: `{ customers { ${edges(`${CUSTOMER_FIELDS}
  addressesV2 { ${edges(`id ${ADDRESS}`)} }`)} } }`,
};

const NORMALIZE: Partial<Record<Entity, (node: Record<string, any>) => Record<string, unknown>>> = { order: orderToRest, customer: customerToRest };

/**
 * A bulk page is kept (sealed, as its source page) as its JSONL bytes, not as its records'
 * JSON written again (~250 records a page): these read the records back from the bytes, with
 * the same grouping and normalisation as the page job that read them.
 */
export const BULK_PAGE_FORMATS: Record<string, (body: Buffer) => unknown[]> = {
  'bulk-order': (body) => decodeBulkPage(body, { attach: attachBulkChild, complete: orderToRest }),
  'bulk-customer': (body) => decodeBulkPage(body, { attach: attachBulkChild, complete: customerToRest }),
};
const PAGE_FORMAT: Partial<Record<Entity, string>> = { order: 'bulk-order', customer: 'bulk-customer' };

/** Child line type (from its GID) → the connection field of its parent it belongs to. */
const CHILD_FIELD: Record<string, string> = {
  LineItem: 'lineItems',
  ShippingLine: 'shippingLines',
  OrderTransaction: 'transactions',
  MailingAddress: 'addressesV2',
};

const GID_PREFIX = 'gid://shopify/';

/** `gid://shopify/LineItem/1?x=y` → `LineItem` (one call per child line: no split). */
export function gidType(gid: unknown): string | undefined {
  if (typeof gid !== 'string' || !gid.startsWith(GID_PREFIX)) return undefined;
  const end = gid.indexOf('/', GID_PREFIX.length);
  return gid.slice(GID_PREFIX.length, end < 0 ? undefined : end) || undefined;
}

/** Puts a child line back under its parent as the paged query shapes it: `{ nodes: [...] }`. */
export const attachBulkChild: AttachChild = (parent, child) => {
  const type = gidType(child.id);
  const field = type ? CHILD_FIELD[type] : undefined;
  if (!field) throw new RemoteRejectedError(`bulk result: a nested object of type ${type ?? '(no id)'} under ${parent.id} is not one the query selects`);
  const conn = (parent[field] ??= { nodes: [] }) as { nodes: unknown[] };
  conn.nodes.push(child);
};

const RUN_MUTATION = `mutation SynchubBulkRun($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) { bulkOperation { id status createdAt } userErrors { field message code } }
}`;
// Only the app's own operations are listed (queries/bulkOperations).
const RUNNING_QUERY = `query SynchubBulkRunning {
  bulkOperations(first: 10, query: "operation_type:query AND (status:created OR status:running)") { nodes { id status query createdAt } }
}`;
const OPERATION_QUERY = `query SynchubBulkOperation($id: ID!) {
  bulkOperation(id: $id) { id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl }
}`;

interface BulkOperation {
  id: string;
  status: string;
  errorCode?: string | null;
  createdAt?: string;
  objectCount?: string | null;
  rootObjectCount?: string | null;
  fileSize?: string | null;
  url?: string | null;
  partialDataUrl?: string | null;
  query?: string;
}

const sameDocument = (a: string | undefined, b: string) => typeof a === 'string' && a.replace(/\s+/g, ' ').trim() === b.replace(/\s+/g, ' ').trim();

export class ShopifyBulk {
  constructor(
    private readonly graphql: ShopifyGraphql,
    private readonly connection: string,
    private readonly settings: HttpSettings,
    /** The shop is a local sandbox over http on loopback: its result file is too. */
    private readonly loopbackHttp = false,
  ) {}

  /** Whether this pull belongs to a bulk backfill: a run with no cursor, or one a bulk page left. */
  static handles(cursor: unknown): boolean {
    return cursor === null || cursor === undefined || isBulkCursor(cursor);
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const document = BULK_QUERIES[entity];
    if (!document) throw new NotSupportedError(`shopify bulk ${entity}`);
    if (!isBulkCursor(req.cursor)) return this.start(document, req.signal);
    const op = await this.operation(req.cursor.bulk.id, req.signal);
    return this.readPage(entity, op, req.cursor, req);
  }

  /** Starts the backfill's operation, or adopts the same query already running for this app. */
  private async start(document: string, signal?: AbortSignal): Promise<PullPage> {
    const listed = await this.graphql.query<{ bulkOperations?: { nodes?: BulkOperation[] } }>(RUNNING_QUERY, {}, signal);
    const running = (listed.bulkOperations?.nodes ?? []).filter((o) => o.status === 'CREATED' || o.status === 'RUNNING');
    // A start whose answer was lost (a crash right after it) finds its own operation here.
    const same = running.find((o) => sameDocument(o.query, document));
    if (same) return { records: [], cursor: { bulk: { id: same.id } } satisfies ShopifyBulkCursor, done: false };
    if (running.length >= BULK_QUERY_LIMIT) {
      throw new SourceNotReadyError(`${this.connection}: the shop already runs ${running.length} bulk queries of this app, the most Shopify allows; the backfill waits for one to finish`, BULK_BUSY_WAIT_MS);
    }
    const data = await this.graphql.query<{ bulkOperationRunQuery?: { bulkOperation?: BulkOperation | null; userErrors?: { field?: string[] | null; message?: string; code?: string | null }[] } | null }>(RUN_MUTATION, { query: document }, signal);
    const payload = data.bulkOperationRunQuery;
    const errors = payload?.userErrors ?? [];
    if (errors.length) {
      const said = errors.map((e) => `${e.code ?? 'ERROR'}: ${e.message ?? ''}`).join('; ');
      if (errors.some((e) => e.code === 'LIMIT_REACHED' || e.code === 'OPERATION_IN_PROGRESS')) {
        throw new SourceNotReadyError(`${this.connection}: bulkOperationRunQuery: ${said}; the backfill waits`, BULK_BUSY_WAIT_MS);
      }
      throw new SourceFailedError(`${this.connection}: bulkOperationRunQuery refused the backfill query: ${said}`, errors[0].code ?? 'INVALID', { userErrors: errors });
    }
    const id = payload?.bulkOperation?.id;
    if (!id) throw new RemoteRejectedError(`${this.connection}: bulkOperationRunQuery answered no operation`);
    return { records: [], cursor: { bulk: { id } } satisfies ShopifyBulkCursor, done: false };
  }

  /** The operation, once it is COMPLETED with its whole result; waits or fails the run otherwise. */
  private async operation(id: string, signal?: AbortSignal): Promise<BulkOperation> {
    const data = await this.graphql.query<{ bulkOperation?: BulkOperation | null }>(OPERATION_QUERY, { id }, signal);
    const op = data.bulkOperation;
    if (!op) throw new SourceFailedError(`${this.connection}: bulk operation ${id} does not exist (any more); run a full sync again`, 'NOT_FOUND');
    const progress = { status: op.status, objectCount: op.objectCount ?? null, rootObjectCount: op.rootObjectCount ?? null };
    if (op.status === 'CREATED' || op.status === 'RUNNING') {
      throw new SourceNotReadyError(`${this.connection}: bulk operation ${id} is ${op.status} (${op.objectCount ?? 0} objects so far)`, bulkPollDelayMs(op.createdAt), { details: progress, wakeKey: bulkWakeKey(id) });
    }
    if (op.status === 'COMPLETED' && !op.errorCode && !op.partialDataUrl) return op;
    // CANCELING ends as CANCELED; FAILED and EXPIRED are final. A partial result is a failure too.
    const code = op.errorCode ?? op.status;
    const partial = op.partialDataUrl ? '; Shopify kept a partial result, which is not used' : '';
    throw new SourceFailedError(`${this.connection}: bulk operation ${id} ${op.status}${op.errorCode ? ` with ${op.errorCode}` : ''}${partial}; the run stops and its cursor stays`, code, progress);
  }

  private async readPage(entity: Entity, op: BulkOperation, cursor: ShopifyBulkCursor, req: PullRequest): Promise<PullPage> {
    const offset = cursor.bulk.offset ?? 0;
    let maxSeen = cursor.bulk.maxSeen;
    const size = op.fileSize === null || op.fileSize === undefined ? undefined : Number(op.fileSize);
    const finished = (records: unknown[]): PullPage => ({ records, cursor: { since: maxSeen }, done: true });
    // No url: the query matched nothing (objectCount 0).
    if (!op.url) {
      if (Number(op.objectCount ?? 0) > 0) throw new RemoteRejectedError(`${this.connection}: bulk operation ${op.id} COMPLETED with ${op.objectCount} objects but no url`);
      return finished([]);
    }
    if (size !== undefined && offset >= size) return finished([]);
    const signal = AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), ...(req.signal ? [req.signal] : [])]);
    const limit = Math.max(1, Math.min(req.pageSize, BULK_MAX_PAGE));
    const { body, skip, close } = await openBulkResult(op.url, offset, signal, { loopbackHttp: this.loopbackHttp });
    const kept = keepBytes(body, offset - skip, offset);
    const read = { end: offset };
    const normalize = NORMALIZE[entity]!;
    let maxSeenMs = maxSeen ? Date.parse(maxSeen) : NaN;
    // Each order is normalised as soon as its lines are read (readBulkPage's complete); what the
    // normaliser throws leaves as it is, not as a broken download.
    let normalizeFailure: { error: unknown } | undefined;
    const complete = (root: Record<string, any>) => {
      try {
        if (root.updatedAt) {
          const at = Date.parse(root.updatedAt);
          // maxSeen parsed once a page, not once a record.
          if (!maxSeen || at > maxSeenMs) {
            maxSeen = root.updatedAt;
            maxSeenMs = at;
          }
        }
        return normalize(root);
      } catch (error) {
        normalizeFailure = { error };
        throw error;
      }
    };
    let page;
    try {
      page = await readBulkPage(jsonlLines(kept.body, offset - skip, skip, read), { limit, attach: attachBulkChild, read, complete });
    } catch (err) {
      if (err instanceof SynchubError || (normalizeFailure && err === normalizeFailure.error)) throw err;
      throw new RemoteUnavailableError(`${this.connection}: bulk result download broke off at byte ${read.end}: ${(err as Error).message}`, { cause: err });
    } finally {
      close();
    }
    if (page.eof && size !== undefined && page.nextOffset !== size) {
      throw new RemoteUnavailableError(`${this.connection}: bulk result ended at byte ${page.nextOffset} of ${size}`);
    }
    const records = page.roots;
    const raw = { body: kept.range(page.nextOffset), connector: 'shopify', format: PAGE_FORMAT[entity]! };
    if (page.eof) return { ...finished(records), raw };
    return { records, cursor: { bulk: { id: op.id, offset: page.nextOffset, maxSeen } } satisfies ShopifyBulkCursor, done: false, raw };
  }
}
