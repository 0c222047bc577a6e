/**
 * jsonata's stack guardrail, as the compiled evaluator (../compiled.ts) counts it.
 *
 * jsonata counts one level per evaluate() call: each node's parts one level below it, a
 * lambda's body one level below the call that applies it, a tail call (a thunk) run by the
 * apply loop back at its caller's level. Levels are counted here per syntax node from the
 * root of the expression or of the enclosing lambda's body (level 1), each child one level
 * below its node, wrappers without a type (groups) included in their node's level. That
 * never counts fewer levels than jsonata does (a thunk is counted in place, a path step or an
 * `~>` call one level lower), so a record the compiled form runs within the limit never fails
 * D1011 in jsonata; near the limit it may hand a record to the interpreter that jsonata
 * would still answer, which costs time, not a different result.
 */

import type { Node } from './values.js';

/** A node's level within its body; the deepest level of each body. */
const LEVELS = new WeakMap<Node, number>();
const HEIGHTS = new WeakMap<Node, number>();

export const levelOf = (node: Node): number => LEVELS.get(node) ?? 1;
export const levelsOf = (body: Node): number => HEIGHTS.get(body) ?? measureLevels(body, 1);

/** Records the levels of `node` (at `level`) and of everything below it; answers the deepest level reached. */
export function measureLevels(node: Node, level: number): number {
  LEVELS.set(node, level);
  if (node.type === 'lambda' && node.thunk !== true) {
    HEIGHTS.set(node.body, measureLevels(node.body, 1));
    return level;
  }
  let deepest = level;
  const visit = (value: unknown, at: number): void => {
    if (value === null || typeof value !== 'object' || value instanceof RegExp) return;
    if (Array.isArray(value)) {
      for (const v of value) visit(v, at);
      return;
    }
    if (typeof (value as Node).type === 'string') {
      deepest = Math.max(deepest, measureLevels(value, at));
      return;
    }
    for (const v of Object.values(value)) visit(v, at);
  };
  for (const key of Object.keys(node)) if (key !== 'position' && key !== 'signature') visit(node[key], level + 1);
  return deepest;
}
