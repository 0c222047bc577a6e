/**
 * Size limits on what a mapping makes, shared by both evaluators (jsonata's interpreter,
 * wired in ./engine.ts, and the compiled evaluator, ./compiled.ts).
 *
 * The mapping timeout is checked between the nodes of an expression, so it cannot stop one
 * built-in call: `$pad("", 1e8)` or a `$join` of 100 MB allocates for seconds inside a
 * single call. Every check here is a function of the call's arguments or of the value a
 * node produced, so both evaluators decide the same way on the same record; the checks that
 * can run before the allocation do ($pad, $join, $string, $split, $replace, `&`, `..`),
 * and the result of every function call and `&` is checked after.
 */

export interface SizeLimits {
  /** Longest string a function call, `&` or `$string` may produce (UTF-16 code units). Default 1,048,576. */
  maxStringLength: number;
  /** Longest array a function call or the range operator `..` may produce. Default 100,000. */
  maxArrayLength: number;
}

export const DEFAULT_SIZE_LIMITS: SizeLimits = { maxStringLength: 1_048_576, maxArrayLength: 100_000 };

/** A mapping made (or was about to make) a value over a limit. Thrown as jsonata errors are, so the position is added. */
export class MappingLimitExceeded extends Error {
  position?: number;
  token?: string;
  constructor(message: string) {
    super(message);
    this.name = 'MappingLimitExceeded';
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any */

const isFunctionValue = (v: any): boolean => typeof v === 'function' || (v !== null && typeof v === 'object' && (v._jsonata_function === true || v._jsonata_lambda === true));

/**
 * A lower bound of the length of `$string(value)` (JSON, strings quoted), counted without
 * building it and given up once past `cap`: a refusal on it is certain, and what passes is at
 * most a few times the cap (escapes), checked again once built.
 */
export function jsonLengthAtLeast(value: any, cap: number): number {
  // A string, number or other single value (most `&` operands and `$string` arguments): no stack to walk.
  if (cap >= 0 && typeof value !== 'object' && typeof value !== 'function') {
    if (value === undefined) return 4;
    if (typeof value === 'string') return value.length + 2;
    if (typeof value === 'number' || typeof value === 'boolean') return 1;
    return 0;
  }
  let total = 0;
  const stack: any[] = [value];
  while (stack.length > 0 && total <= cap) {
    const v = stack.pop();
    if (typeof v === 'string') total += v.length + 2;
    else if (typeof v === 'number' || typeof v === 'boolean') total += 1;
    else if (v === null || v === undefined) total += 4;
    else if (isFunctionValue(v)) total += 2;
    else if (Array.isArray(v)) {
      total += 1 + v.length;
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else if (typeof v === 'object') {
      total += 1;
      for (const k of Object.keys(v)) {
        if (v[k] === undefined) continue;
        total += k.length + 4;
        stack.push(v[k]);
      }
    }
  }
  return total;
}

/** The length `&` gives an operand: a string's own, anything else's JSON (at least: see exactLength). */
const concatLength = (v: any, cap: number): number => {
  if (v === undefined) return 0;
  if (typeof v === 'string') return v.length;
  if (Array.isArray(v) && (v as any).outerWrapper) v = v[0];
  return jsonLengthAtLeast(v, cap);
};
/** Whether concatLength is the length itself, not a lower bound. */
const exactLength = (v: any): boolean => v === undefined || typeof v === 'string';

const tooLongString = (what: string, length: number, limits: SizeLimits, exact = true) =>
  new MappingLimitExceeded(`${what} would make a string of ${exact ? '' : 'at least '}${length} characters, over mappings.maxStringLength (${limits.maxStringLength})`);
const tooLongArray = (what: string, length: number, limits: SizeLimits, made = false) =>
  new MappingLimitExceeded(`${what} ${made ? 'made' : 'would make'} an array of ${length} items, over mappings.maxArrayLength (${limits.maxArrayLength})`);

/** `lhs & rhs`, before the strings are built. */
export function checkConcat(lhs: any, rhs: any, limits: SizeLimits): void {
  const cap = limits.maxStringLength;
  const l = concatLength(lhs, cap);
  const r = l > cap ? 0 : concatLength(rhs, cap);
  const length = l + r;
  if (length > cap) throw tooLongString('&', length, limits, exactLength(lhs) && (l > cap || exactLength(rhs)));
}

/** `lhs..rhs`, before the array is allocated. */
export function checkRange(lhs: any, rhs: any, limits: SizeLimits): void {
  if (!Number.isInteger(lhs) || !Number.isInteger(rhs) || lhs > rhs) return;
  const size = rhs - lhs + 1;
  if (size > limits.maxArrayLength) throw tooLongArray('..', size, limits);
}

/** A value a function call or `&` produced. */
export function checkProduced(value: any, limits: SizeLimits, what: string): void {
  if (typeof value === 'string') {
    if (value.length > limits.maxStringLength) throw new MappingLimitExceeded(`${what} made a string of ${value.length} characters, over mappings.maxStringLength (${limits.maxStringLength})`);
  } else if (Array.isArray(value) && value.length > limits.maxArrayLength) {
    throw tooLongArray(what, value.length, limits, true);
  }
}

type Matcher = (str: string, fromIndex?: number) => { match: string; start: number; end: number; groups: string[]; next: () => any } | undefined;

/** The built-ins whose result can be sized from their (validated) arguments before it is built. */
type Substitute = (replacement: string, m: any) => string;
type Check = (args: any[], limits: SizeLimits, substitute: Substitute) => void | Promise<void>;

const BEFORE: Record<string, Check> = {
  pad([str, width], limits) {
    if (str === undefined || typeof width !== 'number') return;
    const length = Math.max(str.length, Math.abs(Math.trunc(width)));
    if (length > limits.maxStringLength) throw tooLongString('$pad', length, limits);
  },
  join([strs, separator], limits) {
    if (!Array.isArray(strs)) return;
    const sep = typeof separator === 'string' ? separator.length : 0;
    let length = strs.length > 0 ? sep * (strs.length - 1) : 0;
    for (let i = 0; i < strs.length; i++) if (typeof strs[i] === 'string') length += strs[i].length;
    if (length > limits.maxStringLength) throw tooLongString('$join', length, limits);
  },
  string([arg], limits) {
    if (arg === undefined || typeof arg === 'string') return;
    const length = concatLength(arg, limits.maxStringLength);
    if (length > limits.maxStringLength) throw tooLongString('$string', length, limits, false);
  },
  split([str, separator, limit], limits) {
    if (typeof str !== 'string' || typeof separator !== 'string') return;
    let items = 1;
    if (separator === '') items = str.length;
    else for (let i = str.indexOf(separator); i !== -1; i = str.indexOf(separator, i + separator.length)) items++;
    if (typeof limit === 'number') items = Math.min(items, limit);
    if (items > limits.maxArrayLength) throw tooLongArray('$split', items, limits);
  },
  replace([str, pattern, replacement, limit], limits, substitute) {
    if (typeof str !== 'string' || typeof replacement !== 'string' || pattern === '' || pattern === undefined) return;
    const max = typeof limit === 'number' ? limit : Infinity;
    if (typeof pattern === 'string') {
      let length = str.length;
      for (let i = str.indexOf(pattern), count = 0; i !== -1 && count < max; i = str.indexOf(pattern, i + pattern.length), count++) length += replacement.length - pattern.length;
      if (length > limits.maxStringLength) throw tooLongString('$replace', length, limits);
      return;
    }
    if (typeof pattern !== 'function') return;
    // The exact length, match by match; given up (as "at least") once past the limit.
    const plain = !replacement.includes('$');
    const measure = (m: ReturnType<Matcher>): void => {
      let length = str.length;
      let count = 0;
      for (; m !== undefined && count < max && length <= limits.maxStringLength; m = m.next(), count++) {
        length += (plain ? replacement.length : substitute(replacement, m).length) - m.match.length;
      }
      if (length > limits.maxStringLength) throw tooLongString('$replace', length, limits, m === undefined || count >= max);
    };
    const first = (pattern as Matcher)(str) as ReturnType<Matcher> | Promise<ReturnType<Matcher>>;
    return first instanceof Promise ? first.then(measure) : measure(first);
  },
};

/** Names of the built-ins checked before they run. */
export const CHECKED_BUILTINS = Object.keys(BEFORE);

/** Checks a built-in's arguments against the limits before it runs (a no-op for the others). */
export function checkArguments(name: string, args: any[], limits: SizeLimits, substitute: Substitute): void | Promise<void> {
  return BEFORE[name]?.(args, limits, substitute);
}

/** What a node of a parsed expression produces, for the limits' messages: `$name` for a call, `&`; undefined for the others. */
export function producerName(node: any): string | undefined {
  switch (node?.type) {
    case 'function':
    case 'partial': {
      const p = node.procedure;
      const name = p?.type === 'path' ? p.steps?.[0]?.value : p?.type === 'variable' ? p.value : undefined;
      return typeof name === 'string' ? `$${name}` : 'a function';
    }
    case 'apply': return producerName(node.rhs) ?? '~>';
    case 'binary': return node.value === '&' ? '&' : undefined;
    default: return undefined;
  }
}

/** A key equal for values jsonata's deep equality calls equal (and rarely for others: candidates are compared again). */
function shapeKey(v: any): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (isFunctionValue(v)) return '\0f';
  const out: string[] = [];
  const walk = (x: any): void => {
    if (x === null || typeof x !== 'object') out.push(typeof x === 'string' ? JSON.stringify(x) : `${typeof x}:${String(x)}`);
    else if (Array.isArray(x)) {
      out.push('[');
      for (const item of x) walk(item);
      out.push(']');
    } else if (isFunctionValue(x)) out.push('f');
    else {
      out.push('{');
      for (const k of Object.getOwnPropertyNames(x).sort()) {
        out.push(JSON.stringify(k));
        walk(x[k]);
      }
      out.push('}');
    }
  };
  walk(v);
  return `\0${out.join(',')}`;
}

/**
 * `$distinct` in linear time. jsonata's compares each item with every distinct one kept so
 * far, inside one call the timeout cannot stop: 100,000 different items are 5·10⁹
 * comparisons, minutes of a blocked thread. Same answer, same order: items are bucketed by
 * a key of their shape and compared with `deepEqual` (jsonata's rule) only within a bucket.
 */
export function distinctLinear(arr: any, createSequence: () => any[], deepEqual: (a: any, b: any) => boolean): any {
  if (arr === undefined) return undefined;
  if (!Array.isArray(arr) || arr.length <= 1) return arr;
  const results = (arr as any).sequence === true ? createSequence() : [];
  const buckets = new Map<unknown, any[]>();
  for (const value of arr) {
    const key = shapeKey(value);
    const bucket = buckets.get(key);
    if (bucket === undefined) buckets.set(key, [value]);
    else if (bucket.some((kept) => deepEqual(value, kept))) continue;
    else bucket.push(value);
    results.push(value);
  }
  return results;
}
