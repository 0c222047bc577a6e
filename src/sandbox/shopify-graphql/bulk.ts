import {
  getNamedType, parse, validate, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type GraphQLObjectType,
  type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode,
} from 'graphql';
import { collectFields, connectionNodeSelection, executeObject, isConnectionType, type ExecContext, type Resolvers } from './execute.js';
import { pageRoot } from './search.js';
import type { ShopRecords } from './resolvers.js';
import { SANDBOX_RULES } from './schema.js';

/**
 * Bulk query operations as shopify.dev documents them (guide "Perform bulk operations with
 * the GraphQL Admin API"; objects/BulkOperation; enums BulkOperationStatus, BulkOperationErrorCode,
 * BulkOperationUserErrorCode): `bulkOperationRunQuery` checks the query (one top-level
 * connection, at most five connections, nested at most two levels, not `node`/`nodes`) and
 * the per-shop concurrency (five query operations from API version 2026-01, one before),
 * answering `userErrors` otherwise; the operation goes CREATED → RUNNING → COMPLETED (or
 * FAILED with an errorCode, CANCELING → CANCELED, EXPIRED); its JSONL puts each object on a
 * line, nested connection nodes on lines of their own after their parent with `__parentId`.
 * As on Shopify, the file is written while the operation runs (a chunk of root objects a
 * step) and then served as it was written, with HTTP Range requests (the signed storage URL
 * Shopify hands out serves ranges), so each page a client reads at its byte offset costs the
 * sandbox that page, not the file up to it. The sandbox keeps the file in memory (about
 * 2.5 KB an order with the connector's query) until the operation expires.
 */

export interface BulkOperation {
  id: string; status: string; errorCode: string | null; type: 'QUERY'; query: string;
  createdAt: string; completedAt: string | null; objectCount: string; rootObjectCount: string;
  fileSize: string | null; url: string | null; partialDataUrl: string | null;
}
interface Running {
  op: BulkOperation; doc: DocumentNode; rootField: FieldNode; roots: number; origin: string;
  fail?: FailSpec; cancel?: boolean;
  /** The result file as written so far: one chunk a step, and the byte offset each chunk starts at. */
  chunks: Buffer[]; chunkStarts: number[];
}
/** A download of the result file from byte `start` (a Range request) of its `size` bytes. */
export interface BulkFile { body: ReadableStream<Uint8Array>; start: number; size: number }
export interface FailSpec { errorCode: 'ACCESS_DENIED' | 'INTERNAL_SERVER_ERROR' | 'TIMEOUT'; afterObjects?: number }
export interface BulkOptions {
  /** Root objects written per step while RUNNING (default 500). */ chunk?: number;
  /** Pause between steps, ms (default 0). */ stepMs?: number;
  /** Called when an operation reaches COMPLETED, FAILED or CANCELED: when Shopify sends `bulk_operations/finish` (benchmarks time the export by it). */
  onFinished?: (op: BulkOperation) => void;
}

const ACTIVE = new Set(['CREATED', 'RUNNING', 'CANCELING']);
const MAX_CONNECTIONS = 5;
const MAX_NESTING = 2;

type UserError = { field: string[] | null; message: string; code: string };

export class BulkOperations {
  private readonly ops = new Map<string, Running>();
  private next = 1;
  private failNext?: FailSpec;

  constructor(private readonly data: ShopRecords, private readonly deps: () => { schema: GraphQLSchema; resolvers: Resolvers }, private readonly opts: BulkOptions = {}) {}

  /** The next operation fails with this errorCode after that many root objects (tests). */
  failNextOperation(spec: FailSpec): void {
    this.failNext = spec;
  }

  get(id: string): BulkOperation | undefined {
    return this.ops.get(id)?.op;
  }

  current(type: string): BulkOperation | undefined {
    if (type !== 'QUERY') return undefined;
    return [...this.ops.values()].at(-1)?.op;
  }

  /**
   * queries/bulkOperations (API 2026-01): the shop's operations, newest first, filtered by the
   * search terms the hub sends: `operation_type:` and `status:` (several statuses are alternatives).
   */
  list(search: string): BulkOperation[] {
    const terms = search.replace(/[()]/g, ' ').split(' ').filter((t) => t.includes(':'));
    const statuses = terms.filter((t) => t.toLowerCase().startsWith('status:')).map((t) => t.slice('status:'.length).toUpperCase());
    const types = terms.filter((t) => t.toLowerCase().startsWith('operation_type:')).map((t) => t.slice('operation_type:'.length).toUpperCase());
    return [...this.ops.values()].map((r) => r.op).reverse()
      .filter((op) => (!statuses.length || statuses.includes(op.status)) && (!types.length || types.includes(op.type)));
  }

  /** Marks a finished operation EXPIRED (its URLs gone), as Shopify does seven days on. */
  expire(id: string): void {
    const r = this.ops.get(id);
    if (!r || ACTIVE.has(r.op.status)) return;
    Object.assign(r.op, { status: 'EXPIRED', url: null, partialDataUrl: null });
    r.chunks = [];
    r.chunkStarts = [];
  }

  private check(query: string, schema: GraphQLSchema): { doc: DocumentNode; rootField: FieldNode } | UserError {
    const invalid = (message: string): UserError => ({ field: ['query'], message, code: 'INVALID' });
    let doc: DocumentNode;
    try {
      doc = parse(query, { maxTokens: 5000 });
    } catch (err) {
      return invalid(`Invalid bulk query: ${(err as Error).message}`);
    }
    const errors = validate(schema, doc, SANDBOX_RULES);
    if (errors.length) return invalid(`Invalid bulk query: ${errors[0].message}`);
    const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
    if (ops.length !== 1 || ops[0].operation !== 'query') return invalid('Bulk queries must contain exactly one query operation.');
    const fragments = this.fragments(doc);
    const ctx = { schema, variables: {}, fragments };
    const top = [...collectFields(ctx, schema.getQueryType()!, ops[0].selectionSet).values()];
    if (top.length !== 1) return invalid('Bulk queries must contain exactly one top-level field.');
    const rootField = top[0][0];
    if (rootField.name.value === 'node' || rootField.name.value === 'nodes') return invalid(`The top-level ${rootField.name.value} field can't be used in bulk queries.`);
    const rootType = getNamedType(schema.getQueryType()!.getFields()[rootField.name.value].type) as GraphQLObjectType;
    if (!isConnectionType(rootType)) return invalid('Bulk queries must contain at least one connection.');
    let connections = 0;
    let deepest = 0;
    const walk = (type: GraphQLObjectType, set: SelectionSetNode | undefined, depth: number) => {
      if (!set) return;
      for (const [, nodes] of collectFields(ctx, type, set)) {
        const def = type.getFields()[nodes[0].name.value];
        if (!def) continue;
        const named = getNamedType(def.type);
        if (!('getFields' in named)) continue;
        const d = isConnectionType(named) ? depth + 1 : depth;
        if (isConnectionType(named)) connections++;
        deepest = Math.max(deepest, d);
        for (const n of nodes) walk(named as GraphQLObjectType, n.selectionSet, d);
      }
    };
    walk(rootType, rootField.selectionSet, 1);
    connections++;
    if (connections > MAX_CONNECTIONS) return invalid(`Bulk queries cannot contain more than ${MAX_CONNECTIONS} connections.`);
    if (deepest > MAX_NESTING) return invalid(`Bulk queries cannot contain connections with a nesting depth greater than ${MAX_NESTING}.`);
    return { doc, rootField };
  }

  private fragments(doc: DocumentNode): Record<string, FragmentDefinitionNode> {
    const out: Record<string, FragmentDefinitionNode> = {};
    for (const d of doc.definitions) if (d.kind === 'FragmentDefinition') out[d.name.value] = d;
    return out;
  }

  runQuery(query: string, req: ExecContext): { bulkOperation: BulkOperation | null; userErrors: UserError[] } {
    // API versions from 2026-01 run up to five bulk query operations at a time per shop; earlier ones, one.
    const limit = req.version >= '2026-01' ? 5 : 1;
    const active = [...this.ops.values()].filter((r) => ACTIVE.has(r.op.status));
    if (active.length >= limit) {
      const userError = limit === 1
        ? { field: null, message: `A bulk query operation for this app and shop is already in progress: ${active[0].op.id}.`, code: 'OPERATION_IN_PROGRESS' }
        : { field: null, message: 'Bulk operations limit reached. Please try again later.', code: 'LIMIT_REACHED' };
      return { bulkOperation: null, userErrors: [userError] };
    }
    const checked = this.check(query, req.schema);
    if ('code' in checked) return { bulkOperation: null, userErrors: [checked] };
    const id = `gid://shopify/BulkOperation/${this.next++}`;
    const op: BulkOperation = {
      id, status: 'CREATED', errorCode: null, type: 'QUERY', query, createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      completedAt: null, objectCount: '0', rootObjectCount: '0', fileSize: null, url: null, partialDataUrl: null,
    };
    const running: Running = { op, ...checked, roots: 0, origin: req.origin, fail: this.failNext, chunks: [], chunkStarts: [] };
    this.failNext = undefined;
    this.ops.set(id, running);
    setTimeout(() => this.step(running, 0, 0), this.opts.stepMs ?? 0);
    return { bulkOperation: op, userErrors: [] };
  }

  cancel(id: string): { bulkOperation: BulkOperation | null; userErrors: { field: string[]; message: string }[] } {
    const r = this.ops.get(id);
    if (!r) return { bulkOperation: null, userErrors: [{ field: ['id'], message: 'Bulk operation does not exist' }] };
    if (!ACTIVE.has(r.op.status)) return { bulkOperation: r.op, userErrors: [{ field: ['id'], message: `A bulk operation cannot be canceled when it is ${r.op.status.toLowerCase()}` }] };
    r.op.status = 'CANCELING';
    r.cancel = true;
    return { bulkOperation: r.op, userErrors: [] };
  }

  /** Counts the result a chunk of root objects at a time, so polls see RUNNING and a growing objectCount. */
  private step(r: Running, objects: number, bytes: number): void {
    if (r.cancel) {
      Object.assign(r.op, { status: 'CANCELED', objectCount: String(objects) });
      this.opts.onFinished?.(r.op);
      return;
    }
    r.op.status = 'RUNNING';
    const chunk = this.opts.chunk ?? 500;
    const all = this.roots(r);
    const stop = Math.min(all.length, r.roots + chunk);
    let text = '';
    for (const line of this.linesOf(r, r.roots, stop)) {
      objects++;
      text += `${line}\n`;
    }
    if (text) {
      const written = Buffer.from(text);
      r.chunkStarts.push(bytes);
      r.chunks.push(written);
      bytes += written.length;
    }
    r.roots = stop;
    Object.assign(r.op, { objectCount: String(objects), rootObjectCount: String(r.roots) });
    if (r.fail && r.roots >= (r.fail.afterObjects ?? 0)) {
      // Shopify keeps what a failed operation had fetched at partialDataUrl.
      Object.assign(r.op, { status: 'FAILED', errorCode: r.fail.errorCode, partialDataUrl: objects ? this.fileUrl(r, 'partial') : null });
      this.opts.onFinished?.(r.op);
      return;
    }
    if (r.roots >= all.length) {
      Object.assign(r.op, {
        status: 'COMPLETED', completedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        url: objects ? this.fileUrl(r, 'result') : null, fileSize: objects ? String(bytes) : null,
      });
      this.opts.onFinished?.(r.op);
      return;
    }
    setTimeout(() => this.step(r, objects, bytes), this.opts.stepMs ?? 0);
  }

  private fileUrl(r: Running, kind: 'result' | 'partial'): string {
    return `${r.origin}/bulk-operation-results/${r.op.id.slice(r.op.id.lastIndexOf('/') + 1)}-${kind}.jsonl`;
  }

  private rootsCache = new WeakMap<Running, unknown[]>();
  private roots(r: Running): any[] {
    let roots = this.rootsCache.get(r);
    if (!roots) {
      const { schema } = this.deps();
      const name = r.rootField.name.value;
      const def = schema.getQueryType()!.getFields()[name];
      const args: Record<string, any> = {};
      for (const a of r.rootField.arguments ?? []) if (a.value.kind !== 'Variable') args[a.name.value] = 'value' in a.value ? a.value.value : undefined;
      delete args.first;
      delete args.after;
      const kind = name === 'orders' ? 'order' : name === 'customers' ? 'customer' : undefined;
      if (!kind || !def) throw new Error(`bulk root ${name} is not served by the sandbox`);
      roots = pageRoot(kind, kind === 'order' ? this.data.orders : this.data.customers, args, undefined).items;
      this.rootsCache.set(r, roots);
    }
    return roots as any[];
  }

  /** JSONL lines of root objects [from, to), each followed by its nested connections' nodes. */
  *linesOf(r: Running, from: number, to: number): Generator<string> {
    const { schema, resolvers } = this.deps();
    const rootType = getNamedType(schema.getQueryType()!.getFields()[r.rootField.name.value].type) as GraphQLObjectType;
    const nodeType = getNamedType(rootType.getFields().nodes.type) as GraphQLObjectType;
    type Pending = { parentId: string; type: GraphQLObjectType; items: unknown[]; selection: SelectionSetNode };
    let pending: Pending[] = [];
    const ctx: ExecContext = {
      schema, resolvers, variables: {}, fragments: this.fragments(r.doc), actualCost: 0, errors: [], currency: 'USD', bulk: true,
      origin: r.origin, version: '', search: [],
      onChildConnection: (parentId, type, items, selection) => pending.push({ parentId, type, items, selection }),
    };
    const selection = connectionNodeSelection(ctx, rootType, r.rootField.selectionSet!);
    const roots = this.roots(r);
    function* emit(type: GraphQLObjectType, src: unknown, set: SelectionSetNode, parentId?: string): Generator<string> {
      pending = [];
      const obj = executeObject(ctx, type, src, set, undefined);
      if (parentId) obj.__parentId = parentId;
      const children = pending;
      yield JSON.stringify(obj);
      for (const c of children) for (const item of c.items) yield* emit(c.type, item, c.selection, c.parentId);
    }
    for (let i = from; i < to && i < roots.length; i++) {
      if (selection) yield* emit(nodeType, roots[i], selection);
    }
  }

  /**
   * The JSONL file of an operation as written: `result` once COMPLETED, `partial` once FAILED;
   * from byte `from` on (a Range request's first byte). Undefined when there is no such file;
   * `start` past the end when the range cannot be satisfied.
   */
  file(name: string, from = 0): BulkFile | undefined {
    const dash = name.lastIndexOf('-');
    const r = this.ops.get(`gid://shopify/BulkOperation/${name.slice(0, dash)}`);
    const kind = name.slice(dash + 1);
    if (!r || !((kind === 'result.jsonl' && r.op.status === 'COMPLETED') || (kind === 'partial.jsonl' && r.op.status === 'FAILED'))) return undefined;
    const { chunks, chunkStarts } = r;
    const size = chunks.length ? chunkStarts[chunks.length - 1] + chunks[chunks.length - 1].length : 0;
    // The chunk holding byte `from`, by binary search over the chunks' start offsets.
    let lo = 0;
    let hi = chunks.length;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (chunkStarts[mid] <= from) lo = mid;
      else hi = mid;
    }
    let i = lo;
    let skip = from - (chunkStarts[i] ?? 0);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i >= chunks.length) return controller.close();
        const chunk = skip > 0 ? chunks[i].subarray(skip) : chunks[i];
        skip = 0;
        i++;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      },
    });
    return { body, start: from, size };
  }
}
