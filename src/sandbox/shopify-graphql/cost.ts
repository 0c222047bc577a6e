import {
  getArgumentValues, getNamedType, isAbstractType, isLeafType, isListType, isNonNullType, type GraphQLObjectType,
  type GraphQLOutputType, type SelectionSetNode,
} from 'graphql';
import { collectFields, isConnectionType, type ExecContext } from './execute.js';

/**
 * Calculated query cost as shopify.dev documents it (GraphQL Admin API rate limits, "Cost
 * calculation"): scalars and enums 0, objects 1, interfaces the maximum of their possible
 * selections, connections 2 plus the objects requested (`first`/`last` times the cost of one
 * node), mutations 10. The requested cost is known before the query runs; the actual cost
 * counts what came back (execute.ts).
 */

/** A query may not ask for more than this (MAX_COST_EXCEEDED). */
export const SINGLE_QUERY_MAX_COST = 1000;
export const MUTATION_COST = 10;

/** Restore rate per plan (points/second), from shopify.dev's table; the bucket holds 20 seconds of it. */
export const PLANS = {
  standard: { restoreRate: 100, maximumAvailable: 2000 },
  advanced: { restoreRate: 200, maximumAvailable: 4000 },
  plus: { restoreRate: 1000, maximumAvailable: 20000 },
  enterprise: { restoreRate: 2000, maximumAvailable: 40000 },
} as const;
export type Plan = keyof typeof PLANS;

type CostContext = Pick<ExecContext, 'schema' | 'variables' | 'fragments'>;

export class FirstOrLastMissing extends Error {}

function selectionCost(ctx: CostContext, type: GraphQLObjectType, set: SelectionSetNode): number {
  let total = 0;
  const fields = type.getFields();
  for (const [, nodes] of collectFields(ctx, type, set)) {
    const name = nodes[0].name.value;
    if (name === '__typename') continue;
    const def = fields[name];
    const args = getArgumentValues(def, nodes[0], ctx.variables);
    for (const node of nodes) total += fieldCost(ctx, def.type, node.selectionSet, args, name);
  }
  return total;
}

function objectCost(ctx: CostContext, type: GraphQLOutputType, set: SelectionSetNode | undefined): number {
  const named = getNamedType(type);
  if (isLeafType(named) || !set) return 0;
  if (isAbstractType(named)) {
    // The most expensive of the selections any possible type could take.
    let max = 0;
    for (const t of ctx.schema.getPossibleTypes(named)) max = Math.max(max, selectionCost(ctx, t, set));
    return 1 + max;
  }
  return 1 + selectionCost(ctx, named as GraphQLObjectType, set);
}

function fieldCost(ctx: CostContext, type: GraphQLOutputType, set: SelectionSetNode | undefined, args: Record<string, any>, name: string): number {
  const inner = isNonNullType(type) ? type.ofType : type;
  const named = getNamedType(inner);
  if (isLeafType(named)) return 0;
  if (isConnectionType(named)) {
    const size = args.first ?? args.last;
    if (typeof size !== 'number') throw new FirstOrLastMissing(`you must provide one of first or last (${name})`);
    // The connection's own fields (nodes, edges, pageInfo): the nodes' cost, per node requested.
    const conn = named as GraphQLObjectType;
    let perNode = 0;
    for (const [, nodes] of collectFields(ctx, conn, set!)) {
      for (const n of nodes) {
        if (n.name.value === 'nodes') perNode += objectCost(ctx, conn.getFields().nodes.type, n.selectionSet);
        if (n.name.value === 'edges' && n.selectionSet) {
          const edge = getNamedType(conn.getFields().edges.type) as GraphQLObjectType;
          for (const [, e] of collectFields(ctx, edge, n.selectionSet)) {
            for (const en of e) if (en.name.value === 'node') perNode += objectCost(ctx, edge.getFields().node.type, en.selectionSet);
          }
        }
      }
    }
    return 2 + size * perNode;
  }
  if (isListType(inner)) {
    const size = typeof args.first === 'number' ? args.first : 1;
    return size * objectCost(ctx, named, set);
  }
  return objectCost(ctx, named, set);
}

/** The requested cost of a query's root selection, or of a mutation (10 a root field). */
export function requestedCost(ctx: CostContext, root: GraphQLObjectType, set: SelectionSetNode, mutation: boolean): number {
  if (mutation) return MUTATION_COST * collectFields(ctx, root, set).size;
  return selectionCost(ctx, root, set);
}

export interface ThrottleStatus { maximumAvailable: number; currentlyAvailable: number; restoreRate: number }

/** The leaky bucket of one app on one shop: refills at restoreRate, never above maximumAvailable. */
export class CostBucket {
  private available: number;
  private at: number;

  constructor(readonly maximumAvailable: number, readonly restoreRate: number, private readonly now: () => number = Date.now) {
    this.available = maximumAvailable;
    this.at = now();
  }

  private refill(): void {
    const t = this.now();
    this.available = Math.min(this.maximumAvailable, this.available + ((t - this.at) / 1000) * this.restoreRate);
    this.at = t;
  }

  /** Takes `cost` points if the bucket holds them (true), or takes nothing (false: THROTTLED). */
  take(cost: number): boolean {
    this.refill();
    if (cost > this.available) return false;
    this.available -= cost;
    return true;
  }

  /** Gives back what a query was charged beyond its actual cost. */
  refund(points: number): void {
    this.available = Math.min(this.maximumAvailable, this.available + points);
  }

  /** Empties the bucket (tests: what a burst of other calls by the same app leaves). */
  drain(): void {
    this.refill();
    this.available = 0;
  }

  status(): ThrottleStatus {
    this.refill();
    return { maximumAvailable: this.maximumAvailable, currentlyAvailable: Math.floor(this.available), restoreRate: this.restoreRate };
  }
}
