import { PARENT, type Frame, type Node } from './values.js';

/**
 * Variables a compiled expression never binds. Only an expression's own `:=` and lambda
 * parameters are ever set on the scopes an evaluation makes, so a name it never binds is the
 * evaluation's own (its bindings) or a function's: looked up in the root scope directly, not
 * through every block and lambda scope in between (most look-ups of a mapping are of its
 * functions, $money, $string…, from inside blocks and lambdas).
 */

/** While an expression compiles: the variable names it binds anywhere (`:=`, lambda parameters). */
let boundHere = new Set<string>();
/** The root scope of the evaluation under way (run(): the bindings, under it the functions). */
let rootScope: Frame = {};

/** Compiles `ast` with `compile`, knowing which names the expression binds (see isBound). */
export function compilingWith<T>(ast: Node, compile: () => T): T {
  boundHere = boundNames(ast);
  try {
    return compile();
  } finally {
    boundHere = new Set();
  }
}

/** While compiling: whether the expression binds this name anywhere. */
export const isBound = (name: string): boolean => boundHere.has(name);

/** Makes `env` the root scope of the evaluation starting now; returns the one before, to put back. */
export function enterRoot(env: Frame): Frame {
  const outer = rootScope;
  rootScope = env;
  return outer;
}

/** lookupVariable for a name the expression never binds: the root scope, else the functions. */
export function lookupUnbound(name: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  const root = rootScope;
  const v = root[name];
  return v !== undefined || name in root ? v : root[PARENT][name];
}

function boundNames(ast: Node): Set<string> {
  const names = new Set<string>();
  const seen = new Set<object>();
  const visit = (value: unknown) => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    const node = value as Node;
    if (node.type === 'bind' && node.lhs?.type === 'variable') names.add(node.lhs.value);
    if (node.type === 'lambda' && Array.isArray(node.arguments)) for (const a of node.arguments) names.add(a.value);
    for (const key in node) visit(node[key]);
  };
  visit(ast);
  return names;
}
