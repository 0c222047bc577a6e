import {
  GraphQLError, getVariableValues, parse, validate, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode,
} from 'graphql';
import type { Context } from 'hono';
import { CostBucket, FirstOrLastMissing, PLANS, requestedCost, SINGLE_QUERY_MAX_COST, type Plan } from './cost.js';
import { executeRoot, type ExecContext, type FormattedError } from './execute.js';
import { BulkOperations, type BulkOptions } from './bulk.js';
import { shopResolvers, type ShopRecords } from './resolvers.js';
import { SANDBOX_RULES, sandboxSchema } from './schema.js';
import { ShopMutations, type MutationOptions } from './mutations.js';

/**
 * `POST /admin/api/{version}/graphql.json` of the sandbox: the request parsed with the
 * `graphql` package under a size limit, validated against the sandbox's schema (an unknown
 * field is answered as Shopify answers it: `Field 'x' doesn't exist on type 'Order'`, code
 * `undefinedField`), priced before it runs (cost.ts) and charged to the leaky bucket: a query
 * over 1,000 points is MAX_COST_EXCEEDED, one the bucket cannot pay for is THROTTLED (HTTP
 * 200, nothing run), every answer carries `extensions.cost` (shopify.dev: GraphQL Admin API
 * rate limits).
 */

export interface GraphqlSandboxOptions {
  /** Store plan, which sets the bucket (default standard: 100 points/s). */
  plan?: Plan;
  /** Overrides of the plan's bucket (benchmarks measure the hub, not the plan). */
  restoreRate?: number;
  maximumAvailable?: number;
  bulk?: BulkOptions;
  /** Write-back mutations (how long an orderCancel job stays queued). */
  mutations?: MutationOptions;
}

const MAX_BODY_BYTES = 1 << 20;
const MAX_TOKENS = 10_000;
const DOCS_KEPT = 200;
const RATE_DOC = 'https://shopify.dev/api/usage/rate-limits';

const format = (e: GraphQLError): FormattedError & { locations?: unknown } => ({
  message: e.message,
  ...(e.locations ? { locations: e.locations } : {}),
  ...(e.extensions && Object.keys(e.extensions).length ? { extensions: e.extensions } : {}),
});

export class ShopifyGraphqlApi {
  readonly bucket: CostBucket;
  readonly bulk: BulkOperations;
  /** Answers so far: THROTTLED ones and all (tests, benchmarks). */
  readonly answers = { throttled: 0, total: 0 };
  /** The write-back mutations (their `counts`). */
  readonly mutations: ShopMutations;
  private readonly resolvers;
  /** Parsed and validated documents by query text (the connector sends the same few again and again). */
  private readonly docs = new Map<string, { doc?: DocumentNode; errors?: FormattedError[] }>();

  constructor(data: ShopRecords, opts: GraphqlSandboxOptions = {}) {
    const plan = PLANS[opts.plan ?? 'standard'];
    this.bucket = new CostBucket(opts.maximumAvailable ?? plan.maximumAvailable, opts.restoreRate ?? plan.restoreRate);
    this.bulk = new BulkOperations(data, () => ({ schema: sandboxSchema(), resolvers: this.resolvers }), opts.bulk);
    this.mutations = new ShopMutations(data, opts.mutations);
    this.resolvers = shopResolvers(data, this.bulk, this.mutations);
  }

  private document(query: string) {
    let hit = this.docs.get(query);
    if (hit) return hit;
    try {
      const doc = parse(query, { maxTokens: MAX_TOKENS });
      const errors = validate(sandboxSchema(), doc, SANDBOX_RULES);
      hit = errors.length ? { errors: errors.map(format) } : { doc };
    } catch (err) {
      hit = { errors: [err instanceof GraphQLError ? format(err) : { message: (err as Error).message }] };
    }
    if (this.docs.size >= DOCS_KEPT) this.docs.delete(this.docs.keys().next().value!);
    this.docs.set(query, hit);
    return hit;
  }

  async handle(c: Context): Promise<Response> {
    if (!c.req.header('x-shopify-access-token')) {
      return c.json({ errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' }, 401);
    }
    if (Number(c.req.header('content-length') ?? 0) > MAX_BODY_BYTES) return c.json({ errors: 'Request body too large' }, 413);
    const raw = await c.req.arrayBuffer();
    if (raw.byteLength > MAX_BODY_BYTES) return c.json({ errors: 'Request body too large' }, 413);
    const text = new TextDecoder().decode(raw);
    let body: { query?: unknown; variables?: unknown; operationName?: unknown };
    if ((c.req.header('content-type') ?? '').startsWith('application/graphql')) body = { query: text };
    else {
      try {
        body = JSON.parse(text);
      } catch {
        return c.json({ errors: 'Invalid JSON in request body' }, 400);
      }
    }
    if (typeof body?.query !== 'string' || !body.query) return c.json({ errors: [{ message: 'No query string was present' }] });
    const { doc, errors } = this.document(body.query);
    if (!doc) return c.json({ errors });
    const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
    const op = typeof body.operationName === 'string' ? ops.find((o) => o.name?.value === body.operationName) : ops.length === 1 ? ops[0] : undefined;
    if (!op) return c.json({ errors: [{ message: ops.length > 1 ? 'An operation name is required' : `No operation named "${String(body.operationName)}"` }] });
    const schema = sandboxSchema();
    const coerced = getVariableValues(schema, op.variableDefinitions ?? [], (body.variables ?? {}) as Record<string, unknown>);
    if (coerced.errors) return c.json({ errors: coerced.errors.map(format) });
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const d of doc.definitions) if (d.kind === 'FragmentDefinition') fragments[d.name.value] = d;
    const mutation = op.operation === 'mutation';
    const rootType = mutation ? schema.getMutationType()! : schema.getQueryType()!;
    const ctx: ExecContext = {
      schema, resolvers: this.resolvers, variables: coerced.coerced, fragments, actualCost: 0, errors: [], currency: 'USD',
      origin: new URL(c.req.url).origin, version: c.req.param('version') ?? '', search: [],
    };
    let requested: number;
    try {
      requested = requestedCost(ctx, rootType, op.selectionSet, mutation);
    } catch (err) {
      if (err instanceof FirstOrLastMissing) return c.json({ errors: [{ message: err.message }] });
      throw err;
    }
    if (requested > SINGLE_QUERY_MAX_COST) {
      return c.json({
        errors: [{
          message: `Query cost is ${requested}, which exceeds the single query max cost limit (${SINGLE_QUERY_MAX_COST}).`,
          extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: SINGLE_QUERY_MAX_COST, documentation: RATE_DOC },
        }],
        extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: this.bucket.status() } },
      });
    }
    this.answers.total++;
    if (!this.bucket.take(requested)) {
      this.answers.throttled++;
      // THROTTLED is an HTTP 200 with nothing run and nothing charged.
      return c.json({
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: RATE_DOC } }],
        extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: this.bucket.status() } },
      });
    }
    const data = executeRoot(ctx, rootType, op.selectionSet);
    const actual = mutation ? requested : Math.min(ctx.actualCost, requested);
    this.bucket.refund(requested - actual);
    c.header('x-shopify-api-version', ctx.version);
    return c.json({
      data,
      ...(ctx.errors.length ? { errors: ctx.errors } : {}),
      extensions: {
        cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: this.bucket.status() },
        ...(ctx.search.length ? { search: ctx.search } : {}),
      },
    });
  }
}
