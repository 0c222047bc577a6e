import {
  GraphQLIncludeDirective, GraphQLSkipDirective, getArgumentValues, getDirectiveValues, getNamedType, isAbstractType, isLeafType,
  isListType, isNonNullType, isObjectType, type FieldNode, type FragmentDefinitionNode, type GraphQLObjectType,
  type GraphQLOutputType, type GraphQLSchema, type SelectionSetNode,
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

/** Fields of a selection set by response key, fragments and directives applied (the spec's CollectFields). */
export function collectFields(ctx: Pick<ExecContext, 'schema' | 'variables' | 'fragments'>, type: GraphQLObjectType, set: SelectionSetNode, into = new Map<string, FieldNode[]>()): Map<string, FieldNode[]> {
  for (const sel of set.selections) {
    if (!included(sel, ctx.variables)) continue;
    if (sel.kind === 'Field') {
      const key = sel.alias?.value ?? sel.name.value;
      const list = into.get(key);
      if (list) list.push(sel);
      else into.set(key, [sel]);
    } else if (sel.kind === 'InlineFragment') {
      if (typeApplies(ctx.schema, sel.typeCondition?.name.value, type)) collectFields(ctx, type, sel.selectionSet, into);
    } else {
      const frag = ctx.fragments[sel.name.value];
      if (frag && typeApplies(ctx.schema, frag.typeCondition.name.value, type)) collectFields(ctx, type, frag.selectionSet, into);
    }
  }
  return into;
}

/** One selection set merged from several field nodes with the same response key. */
function mergedSelection(nodes: FieldNode[]): SelectionSetNode {
  if (nodes.length === 1) return nodes[0].selectionSet!;
  return { kind: 'SelectionSet' as any, selections: nodes.flatMap((n) => n.selectionSet?.selections ?? []) };
}

export function executeObject(ctx: ExecContext, type: GraphQLObjectType, src: unknown, set: SelectionSetNode, path: (string | number)[]): Record<string, unknown> {
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
    const args = getArgumentValues(def, nodes[0], ctx.variables);
    const named = getNamedType(def.type);
    if (ctx.onChildConnection && isConnectionType(named) && isObjectType(named)) {
      // Bulk: the connection's nodes become lines of their own, after this object's line.
      const conn = resolvers?.[name] ? resolvers[name](src, args, ctx) as { items: unknown[] } : { items: [] };
      const nodeType = (named.getFields().nodes.type as any).ofType.ofType.ofType as GraphQLObjectType;
      const sub = connectionNodeSelection(ctx, named, mergedSelection(nodes));
      if (sub) ctx.onChildConnection(ctx.resolvers[type.name].id(src, {}, ctx) as string, nodeType, conn.items, sub, name);
      continue;
    }
    let value: unknown;
    try {
      value = resolvers?.[name] ? resolvers[name](src, args, ctx) : (src as any)?.[name];
    } catch (err) {
      ctx.errors.push({ message: (err as Error).message, path: [...path, key] });
      value = null;
    }
    out[key] = complete(ctx, def.type, value, nodes, [...path, key]);
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

function complete(ctx: ExecContext, type: GraphQLOutputType, value: unknown, nodes: FieldNode[], path: (string | number)[]): unknown {
  if (isNonNullType(type)) {
    const v = complete(ctx, type.ofType, value, nodes, path);
    if (v === null || v === undefined) {
      ctx.errors.push({ message: `Cannot return null for non-nullable field`, path });
      return null;
    }
    return v;
  }
  if (value === null || value === undefined) return null;
  if (isListType(type)) {
    return (value as unknown[]).map((item, i) => complete(ctx, type.ofType, item, nodes, [...path, i]));
  }
  if (isLeafType(type)) return value;
  let objectType: GraphQLObjectType;
  let src: unknown = value;
  if (isAbstractType(type)) {
    const typed = value as Typed;
    objectType = ctx.schema.getType(typed.__type) as GraphQLObjectType;
    src = typed.src;
  } else {
    objectType = type as GraphQLObjectType;
  }
  // Connections cost 2 and their nodes 1 each (counted as objects); edges and pageInfo are part of the connection.
  if (isConnectionType(objectType)) ctx.actualCost += 2;
  else if (!objectType.name.endsWith('Edge') && objectType.name !== 'PageInfo') ctx.actualCost += 1;
  return executeObject(ctx, objectType, src as object, mergedSelection(nodes), path);
}

/** Runs the operation's root selection on `root` (QueryRoot or Mutation). */
export function executeRoot(ctx: ExecContext, rootType: GraphQLObjectType, set: SelectionSetNode): Record<string, unknown> {
  return executeObject(ctx, rootType, {}, set, []);
}
