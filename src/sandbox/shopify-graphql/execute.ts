import {
  GraphQLIncludeDirective, GraphQLSkipDirective, getArgumentValues, getDirectiveValues, getNamedType, isAbstractType, isLeafType,
  isListType, isNonNullType, type FieldNode, type FragmentDefinitionNode, type GraphQLField, type GraphQLNamedType,
  type GraphQLObjectType, type GraphQLOutputType, type GraphQLSchema, type SelectionSetNode,
} from 'graphql';

/**
 * A small executor over a parsed and validated document (validation against the schema has
 * already refused unknown fields and badly typed arguments). It runs field resolvers over the
 * sandbox's REST-shaped records and counts the actual query cost as Shopify does: 1 per object
 * returned, 2 per connection plus its objects. In bulk mode a connection below the root is not
 * nested in its parent: its nodes are handed to `onChildConnection`, to be written as lines of
 * their own carrying `__parentId` (shopify.dev: bulk operations, JSONL output).
 */

export type Resolver = (src: any, args: Record<string, any>, ctx: ExecContext) => unknown;
export type Resolvers = Record<string, Record<string, Resolver>>;
/** What a field of an interface type (Node) resolves to: the concrete type and its record. */
export interface Typed { __type: string; src: unknown }
export interface FormattedError { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }

export interface ExecContext {
  schema: GraphQLSchema;
  resolvers: Resolvers;
  variables: Record<string, unknown>;
  fragments: Record<string, FragmentDefinitionNode>;
  actualCost: number;
  errors: FormattedError[];
  /** Currency of the order or customer being resolved, for its money bags. */
  currency: string;
  /** Set in bulk mode: a nested connection's nodes, their selection and the owner's GID. */
  onChildConnection?: (parentId: string, type: GraphQLObjectType, items: unknown[], selection: SelectionSetNode, connectionField: string) => void;
  /** Set in bulk mode: connections return every node, pagination arguments are ignored. */
  bulk?: boolean;
  /** Origin the request came to (the bulk operations' download URLs) and the API version asked for. */
  origin: string;
  version: string;
  /** The mutation root field being run (its directives, e.g. `@idempotent(key:)`). */
  mutationField?: FieldNode;
  /** Search warnings of root connections, answered in `extensions.search`. */
  search: { path: string[]; query: string; warnings: unknown[] }[];
}

export const isConnectionType = (t: { name: string }): boolean => t.name.endsWith('Connection');

function included(node: FieldNode | { directives?: readonly any[] }, vars: Record<string, unknown>): boolean {
  if (!node.directives?.length) return true;
  if (getDirectiveValues(GraphQLSkipDirective, node as FieldNode, vars)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node as FieldNode, vars)?.if !== false;
}

function typeApplies(schema: GraphQLSchema, condition: string | undefined, type: GraphQLObjectType): boolean {
  if (!condition || condition === type.name) return true;
  const cond = schema.getType(condition);
  return !!cond && isAbstractType(cond) && schema.isSubType(cond, type);
}

/** Collected fields by selection set and type, for sets whose selections carry no directives (so no variables decide them). */
const collected = new WeakMap<SelectionSetNode, Map<string, Map<string, FieldNode[]>>>();

/** Fields of a selection set by response key, fragments and directives applied (the spec's CollectFields). */
export function collectFields(ctx: Pick<ExecContext, 'schema' | 'variables' | 'fragments'>, type: GraphQLObjectType, set: SelectionSetNode): Map<string, FieldNode[]> {
  if (set.selections.some((sel) => sel.directives?.length || sel.kind === 'FragmentSpread')) return collectInto(ctx, type, set, new Map());
  let perType = collected.get(set);
  if (!perType) collected.set(set, (perType = new Map()));
  let fields = perType.get(type.name);
  if (!fields) perType.set(type.name, (fields = collectInto(ctx, type, set, new Map())));
  return fields;
}

function collectInto(ctx: Pick<ExecContext, 'schema' | 'variables' | 'fragments'>, type: GraphQLObjectType, set: SelectionSetNode, into: Map<string, FieldNode[]>): Map<string, FieldNode[]> {
  for (const sel of set.selections) {
    if (!included(sel, ctx.variables)) continue;
    if (sel.kind === 'Field') {
      const key = sel.alias?.value ?? sel.name.value;
      const list = into.get(key);
      if (list) list.push(sel);
      else into.set(key, [sel]);
    } else if (sel.kind === 'InlineFragment') {
      if (typeApplies(ctx.schema, sel.typeCondition?.name.value, type)) collectInto(ctx, type, sel.selectionSet, into);
    } else {
      const frag = ctx.fragments[sel.name.value];
      if (frag && typeApplies(ctx.schema, frag.typeCondition.name.value, type)) collectInto(ctx, type, frag.selectionSet, into);
    }
  }
  return into;
}

const merged = new WeakMap<FieldNode[], SelectionSetNode>();
/** One selection set merged from several field nodes with the same response key. */
function mergedSelection(nodes: FieldNode[]): SelectionSetNode {
  if (nodes.length === 1) return nodes[0].selectionSet!;
  let set = merged.get(nodes);
  if (!set) merged.set(nodes, (set = { kind: 'SelectionSet' as any, selections: nodes.flatMap((n) => n.selectionSet?.selections ?? []) }));
  return set;
}

/** A field's type taken apart once: its list and non-null wrappers, and what it finally is. */
interface FieldPlan { wrappers: ('nonNull' | 'list')[]; named: GraphQLNamedType; kind: 'leaf' | 'abstract' | 'object'; connection: boolean; cost: 0 | 1 | 2; defaults: boolean }
const plans = new WeakMap<GraphQLField<unknown, unknown>, FieldPlan>();
function planOf(def: GraphQLField<unknown, unknown>): FieldPlan {
  let plan = plans.get(def);
  if (plan) return plan;
  const wrappers: FieldPlan['wrappers'] = [];
  let t: GraphQLOutputType = def.type;
  for (;;) {
    if (isNonNullType(t)) { wrappers.push('nonNull'); t = t.ofType; } else if (isListType(t)) { wrappers.push('list'); t = t.ofType; } else break;
  }
  const named = t as GraphQLNamedType;
  const kind = isLeafType(named) ? 'leaf' : isAbstractType(named) ? 'abstract' : 'object';
  const connection = isConnectionType(named);
  // Connections cost 2 and their nodes 1 each (counted as objects); edges and pageInfo are part of the connection.
  const cost = kind === 'leaf' ? 0 : connection ? 2 : named.name.endsWith('Edge') || named.name === 'PageInfo' ? 0 : 1;
  plans.set(def, (plan = { wrappers, named, kind, connection, cost, defaults: def.args.some((a) => a.defaultValue !== undefined) }));
  return plan;
}

/** Argument values of a field node, computed once per request's variables. */
const argsCache = new WeakMap<FieldNode, { vars: Record<string, unknown>; args: Record<string, any> }>();
const NO_ARGS: Record<string, any> = Object.freeze({}) as Record<string, any>;
function argsOf(def: GraphQLField<unknown, unknown>, plan: FieldPlan, node: FieldNode, vars: Record<string, unknown>): Record<string, any> {
  if (!node.arguments?.length && !plan.defaults) return NO_ARGS;
  const hit = argsCache.get(node);
  if (hit && (hit.vars === vars || !node.arguments?.some((a) => a.value.kind === 'Variable'))) return hit.args;
  const args = getArgumentValues(def, node, vars);
  argsCache.set(node, { vars, args });
  return args;
}

/** A response path kept as links, made into an array only for an error. */
interface PathLink { prev: PathLink | undefined; key: string | number }
const pathArray = (p: PathLink | undefined): (string | number)[] => {
  const out: (string | number)[] = [];
  for (let l = p; l; l = l.prev) out.unshift(l.key);
  return out;
};

export function executeObject(ctx: ExecContext, type: GraphQLObjectType, src: unknown, set: SelectionSetNode, path: PathLink | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = type.getFields();
  const resolvers = ctx.resolvers[type.name];
  const saved = ctx.currency;
  if (type.name === 'Order' || type.name === 'Customer') ctx.currency = (src as any).currency ?? saved;
  for (const [key, nodes] of collectFields(ctx, type, set)) {
    const name = nodes[0].name.value;
    if (name === '__typename') {
      out[key] = type.name;
      continue;
    }
    const def = fields[name];
    const plan = planOf(def);
    const args = argsOf(def, plan, nodes[0], ctx.variables);
    if (ctx.onChildConnection && plan.connection) {
      // Bulk: the connection's nodes become lines of their own, after this object's line.
      const conn = resolvers?.[name] ? resolvers[name](src, args, ctx) as { items: unknown[] } : { items: [] };
      const connType = plan.named as GraphQLObjectType;
      const nodeType = getNamedType(connType.getFields().nodes.type) as GraphQLObjectType;
      const sub = connectionNodeSelection(ctx, connType, mergedSelection(nodes));
      if (sub) ctx.onChildConnection(ctx.resolvers[type.name].id(src, NO_ARGS, ctx) as string, nodeType, conn.items, sub, name);
      continue;
    }
    const resolver = resolvers?.[name];
    if (path === undefined && type.name === 'Mutation') ctx.mutationField = nodes[0];
    let value: unknown;
    if (resolver) {
      try {
        value = resolver(src, args, ctx);
      } catch (err) {
        ctx.errors.push({ message: (err as Error).message, path: pathArray({ prev: path, key }) });
        value = null;
      }
    } else {
      value = (src as any)?.[name];
    }
    out[key] = plan.kind === 'leaf' && plan.wrappers.length === 0
      ? value ?? null
      : complete(ctx, plan, 0, value, nodes, { prev: path, key });
  }
  ctx.currency = saved;
  return out;
}

/** The selection on a connection's nodes, from `nodes { … }` and `edges { node { … } }` alike. */
export function connectionNodeSelection(ctx: ExecContext, conn: GraphQLObjectType, set: SelectionSetNode): SelectionSetNode | undefined {
  const selections = [];
  for (const [, nodes] of collectFields(ctx, conn, set)) {
    for (const n of nodes) {
      if (n.name.value === 'nodes' && n.selectionSet) selections.push(...n.selectionSet.selections);
      if (n.name.value === 'edges' && n.selectionSet) {
        const edgeType = getNamedType(conn.getFields().edges.type) as GraphQLObjectType;
        for (const [, edgeNodes] of collectFields(ctx, edgeType, n.selectionSet)) {
          for (const e of edgeNodes) if (e.name.value === 'node' && e.selectionSet) selections.push(...e.selectionSet.selections);
        }
      }
    }
  }
  return selections.length ? { kind: 'SelectionSet' as any, selections } : undefined;
}

function complete(ctx: ExecContext, plan: FieldPlan, depth: number, value: unknown, nodes: FieldNode[], path: PathLink): unknown {
  const wrapper = plan.wrappers[depth];
  if (wrapper === 'nonNull') {
    const v = complete(ctx, plan, depth + 1, value, nodes, path);
    if (v === null || v === undefined) {
      ctx.errors.push({ message: `Cannot return null for non-nullable field`, path: pathArray(path) });
      return null;
    }
    return v;
  }
  if (value === null || value === undefined) return null;
  if (wrapper === 'list') {
    return (value as unknown[]).map((item, i) => complete(ctx, plan, depth + 1, item, nodes, { prev: path, key: i }));
  }
  if (plan.kind === 'leaf') return value;
  let objectType: GraphQLObjectType;
  let src: unknown = value;
  if (plan.kind === 'abstract') {
    const typed = value as Typed;
    objectType = ctx.schema.getType(typed.__type) as GraphQLObjectType;
    src = typed.src;
  } else {
    objectType = plan.named as GraphQLObjectType;
  }
  ctx.actualCost += plan.kind === 'abstract' ? 1 : plan.cost;
  return executeObject(ctx, objectType, src as object, mergedSelection(nodes), path);
}

/** Runs the operation's root selection on `root` (QueryRoot or Mutation). */
export function executeRoot(ctx: ExecContext, rootType: GraphQLObjectType, set: SelectionSetNode): Record<string, unknown> {
  return executeObject(ctx, rootType, {}, set, undefined);
}
