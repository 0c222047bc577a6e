import nock from 'nock';

/**
 * A Shopify bulk query operation as shopify.dev's bulk operations guide shows it
 * (api/usage/bulk-operations/queries): `bulkOperationRunQuery` answers the operation CREATED,
 * `bulkOperation(id:)` reports RUNNING then COMPLETED with `objectCount`/`fileSize` as
 * UnsignedInt64 strings and a signed storage `url`, and the result is JSONL: one object a
 * line, nested connection nodes on lines of their own with `__parentId`, grouped under their
 * parent (groupObjects: true), slashes escaped as `\/` the way Shopify writes them.
 */

const STORAGE = 'https://storage.googleapis.com';

/**
 * Paged-query GraphQL nodes (connections as `{ nodes }`) → the bulk JSONL text: the root line
 * without its connections (an order's refunds stay inline as `[{ id }]`), then each connection
 * node as its own line naming its parent.
 */
export function bulkJsonl(nodes: Record<string, any>[]): string {
  const out: string[] = [];
  const line = (o: unknown) => out.push(JSON.stringify(o).replace(/\//g, '\\/'));
  for (const node of nodes) {
    const { lineItems, shippingLines, refunds, addressesV2, ...own } = node;
    line(refunds ? { ...own, refunds: refunds.map((r: any) => ({ id: r.id })) } : own);
    for (const conn of [lineItems, shippingLines, addressesV2]) for (const child of conn?.nodes ?? []) line({ ...child, __parentId: node.id });
    for (const r of refunds ?? []) for (const t of r.transactions?.nodes ?? []) line({ ...t, __parentId: r.id });
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

export interface BulkMockOptions {
  version?: string;
  /** RUNNING answers to `bulkOperation(id:)` before the final one. */
  polls?: number;
  /** The final state; COMPLETED with the file by default. */
  final?: { status: 'FAILED' | 'CANCELED' | 'EXPIRED'; errorCode?: 'ACCESS_DENIED' | 'INTERNAL_SERVER_ERROR' | 'TIMEOUT' | null; partial?: boolean };
  /** Other bulk queries of this app already running in the shop (bulkOperations answer). */
  running?: { id: string; query: string }[];
  /** userErrors of bulkOperationRunQuery. */
  userErrors?: { field: string[] | null; message: string; code: 'INVALID' | 'LIMIT_REACHED' | 'OPERATION_IN_PROGRESS' }[];
  /** Ignore Range headers and always send the whole file (200), as some servers do. */
  noRange?: boolean;
  /** When the operation was created (default: now); an old one is polled up to 30 s apart. */
  createdAt?: string;
}

let mocks = 0;

const cost = { cost: { requestedQueryCost: 10, actualQueryCost: 10, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1990, restoreRate: 100 } } };

/**
 * Answers the bulk documents on `POST /admin/api/{version}/graphql.json` (other queries fall
 * through to other interceptors) and serves the JSONL with HTTP Range support (206).
 */
export function mockShopifyBulk(baseUrl: string, nodes: Record<string, any>[], opts: BulkMockOptions = {}) {
  const file = Buffer.from(bulkJsonl(nodes));
  // Each mock its own operation and file, so a worker left over from another test never reads this one.
  const n = 720918 + mocks++;
  const id = `gid://shopify/BulkOperation/${n}`;
  const path = `/bulk-operation-outputs/${n}-final?GoogleAccessId=assets-us-prod%40shopify-tiers.iam.gserviceaccount.com&Expires=1767744000&Signature=c2lnbmVk`;
  const state = { runs: 0, polls: 0, downloads: [] as (string | undefined)[], queries: [] as string[], bulkQuery: undefined as string | undefined, createdAt: opts.createdAt ?? new Date().toISOString() };
  const isBulk = (body: any) => typeof body?.query === 'string' && /bulkOperation/.test(body.query);
  const graphql = nock(baseUrl)
    .persist()
    .post(`/admin/api/${opts.version ?? '2026-10'}/graphql.json`, isBulk)
    .reply((_uri, body: any) => {
      const q: string = body.query;
      state.queries.push(q.match(/^\s*(?:query|mutation) (\w+)/)?.[1] ?? q);
      if (q.includes('bulkOperations(')) {
        const nodes = [
          ...(opts.running ?? []).map((r) => ({ id: r.id, status: 'RUNNING', query: r.query, createdAt: state.createdAt })),
          ...(state.runs && state.polls <= (opts.polls ?? 0) ? [{ id, status: 'RUNNING', query: state.bulkQuery, createdAt: state.createdAt }] : []),
        ];
        return [200, { data: { bulkOperations: { nodes } }, extensions: cost }];
      }
      if (q.includes('bulkOperationRunQuery')) {
        if (opts.userErrors?.length) return [200, { data: { bulkOperationRunQuery: { bulkOperation: null, userErrors: opts.userErrors } }, extensions: cost }];
        state.runs++;
        state.bulkQuery = body.variables.query;
        return [200, { data: { bulkOperationRunQuery: { bulkOperation: { id, status: 'CREATED', createdAt: state.createdAt }, userErrors: [] } }, extensions: cost }];
      }
      if (body.variables?.id !== id) return [200, { data: { bulkOperation: null }, extensions: cost }];
      state.polls++;
      const base = { id, createdAt: state.createdAt, completedAt: null, rootObjectCount: String(nodes.length) };
      if (state.polls <= (opts.polls ?? 0)) {
        return [200, { data: { bulkOperation: { ...base, status: 'RUNNING', errorCode: null, objectCount: String(Math.floor(nodes.length / 2)), fileSize: null, url: null, partialDataUrl: null } }, extensions: cost }];
      }
      if (opts.final) {
        return [200, { data: { bulkOperation: { ...base, status: opts.final.status, errorCode: opts.final.errorCode ?? null, objectCount: String(Math.floor(nodes.length / 2)), fileSize: null, url: null, partialDataUrl: opts.final.partial ? `${STORAGE}${path}&partial=1` : null } }, extensions: cost }];
      }
      const done = { ...base, status: 'COMPLETED', errorCode: null, completedAt: new Date().toISOString(), objectCount: String(file.toString().split('\n').filter(Boolean).length), partialDataUrl: null };
      return [200, { data: { bulkOperation: file.length ? { ...done, fileSize: String(file.length), url: `${STORAGE}${path}` } : { ...done, fileSize: null, url: null } }, extensions: cost }];
    });
  const storage = nock(STORAGE)
    .persist()
    .get(path)
    .reply(function () {
      const range = this.req.headers.range as string | undefined;
      state.downloads.push(range);
      const m = range && !opts.noRange ? /^bytes=(\d+)-$/.exec(range) : null;
      if (!m) return [200, file, { 'content-type': 'application/jsonl', 'content-length': String(file.length) }];
      const start = Number(m[1]);
      if (start >= file.length) return [416, '', { 'content-range': `bytes */${file.length}` }];
      return [206, file.subarray(start), { 'content-type': 'application/jsonl', 'content-range': `bytes ${start}-${file.length - 1}/${file.length}` }];
    });
  return { graphql, storage, state, file, id };
}
