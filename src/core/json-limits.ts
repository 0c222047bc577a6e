/**
 * How deep a webhook body may nest (objects and arrays). Provider payloads nest well under
 * 20; past this a body is refused 400 rather than left to overflow the stack later (sealing,
 * signing a verification request), which would answer 503 and have the provider retry forever.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether a parsed JSON value nests objects/arrays deeper than `limit`.
 * Iterative (no recursion, so no stack to overflow) and linear in the number of values.
 */
export function jsonDepthOver(value: unknown, limit = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > limit) return true;
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const c of children) if (c !== null && typeof c === 'object') stack.push([c, depth + 1]);
  }
  return false;
}
