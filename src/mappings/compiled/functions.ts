/** Function application, jsonata's built-ins (some rewritten to run synchronously) and one evaluation's limits, for the compiled evaluator. */
import jsonata from 'jsonata';
import {
  append, arity, boolean, childFrame, CompiledTimeout, deepEqual, fail, Fallback, isFunction, isPromise, runMatcher, seq, substitute,
  type Frame, type Lambda, type NativeFunction, type Seq,
} from './values.js';
import { CHECKED_BUILTINS, checkArguments, checkProduced, DEFAULT_SIZE_LIMITS, distinctLinear, type SizeLimits } from '../limits.js';

// ---- one evaluation's limits -------------------------------------------------------------
// A compiled evaluation is synchronous, so these module-level counters belong to one record at a time.

let deadline = Infinity;
let timeoutMs = 0;
let ticks = 0;
/**
 * jsonata's stack guardrail (`stack`, D1011) counts nested evaluate() calls, one per syntax
 * node, not function calls: a lambda's body is evaluated one level below the call that
 * applied it. `callDepth` is the evaluation depth of the call under way (set by each call
 * node, see ../compiled.ts), and a lambda may start only if its deepest node would stay within
 * the limit; otherwise the record falls back to the interpreter, which decides.
 */
export const callDepth = { current: 0 };
let maxDepth = Infinity;
/**
 * The evaluation's time: $now() and $millis() answer it however often they are called. Its
 * Date is made when first asked for (few mappings do), from the time the evaluation started.
 */
let startedAt = Date.now();
let timestamp: Date | undefined;
const evaluationTime = (): Date => (timestamp ??= new Date(startedAt));
let sizeLimits: SizeLimits = DEFAULT_SIZE_LIMITS;
/** The limits sizeLimits was read from: a mapping passes the same object for every record. */
let sizeLimitsOf: object | undefined;

/** Starts one record's evaluation under these limits. */
export function startEvaluation(limits: { timeoutMs: number; maxDepth: number } & Partial<SizeLimits>): void {
  if (limits !== sizeLimitsOf) {
    sizeLimits = { maxStringLength: limits.maxStringLength ?? DEFAULT_SIZE_LIMITS.maxStringLength, maxArrayLength: limits.maxArrayLength ?? DEFAULT_SIZE_LIMITS.maxArrayLength };
    sizeLimitsOf = limits;
  }
  timeoutMs = limits.timeoutMs;
  deadline = limits.timeoutMs > 0 ? Date.now() + limits.timeoutMs : Infinity;
  maxDepth = limits.maxDepth > 0 ? limits.maxDepth : Infinity;
  callDepth.current = 0;
  ticks = 0;
  startedAt = Date.now();
  timestamp = undefined;
}

/** The size limits of the evaluation under way (../limits.ts). */
export const currentSizeLimits = (): SizeLimits => sizeLimits;

/** A value a function call produced, against the size limits: throws MappingLimitExceeded (a Fallback to the interpreter, which reports it). */
export const checkResult = (value: unknown, what: string): void => checkProduced(value, sizeLimits, what);

export function tick(): void {
  if ((++ticks & 1023) === 0 && Date.now() > deadline) throw new CompiledTimeout(timeoutMs);
}

// ---- functions ----------------------------------------------------------------------------

/** Applies a function value the way jsonata's apply() does, for the kinds this evaluator makes or knows. */
export function apply(proc: any, args: any[], input: any, env: Frame): any {
  if (proc && proc._jsonata_lambda === true) {
    if (!proc.body || typeof proc.body !== 'function') fail('foreign lambda');
    return callLambda(proc as Lambda, args, input);
  }
  if (proc && proc._jsonata_function === true) {
    const native = proc as NativeFunction;
    const plan = planOf(native);
    const validated = native.signature ? validate(native, plan, args, input) : args;
    const checked = plan.checked;
    if (checked && checkArguments(checked, validated, sizeLimits, substitute)) fail('asynchronous check');
    const rewrite = plan.rewrite;
    const result = rewrite ? rewrite(validated, input, env) : native.implementation.apply(focusOf(input, env), validated);
    if (isPromise(result)) {
      (result as Promise<unknown>).catch(() => undefined);
      fail('async built-in');
    }
    if (result !== null && typeof result === 'object' && typeof result.next === 'function' && Symbol.iterator in result) fail('generator');
    return result;
  }
  if (typeof proc === 'function') {
    const result = proc.apply(input, args);
    if (isPromise(result)) {
      (result as Promise<unknown>).catch(() => undefined);
      fail('async function');
    }
    return result;
  }
  return fail('T1006');
}

/** jsonata's type letter for a value, as its signature checks read it. */
function symbol(value: any): string {
  if (isFunction(value)) return 'f';
  switch (typeof value) {
    case 'string': return 's';
    case 'number': return 'n';
    case 'boolean': return 'b';
    case 'object': return value === null ? 'l' : Array.isArray(value) ? 'a' : 'o';
    default: return 'm';
  }
}

/**
 * Argument type keys (see typeKey) a function's signature has passed unchanged (nothing
 * inserted or wrapped), each with the number of arguments it passed: optional parameters
 * left out come as undefined.
 */
interface NativePlan {
  /** Its name when its arguments are checked against the size limits (CHECKED). */
  checked: string | undefined;
  rewrite: Rewrite | undefined;
  /** Argument type keys its signature passed unchanged (see above). */
  passed: Map<number, number> | undefined;
}

/**
 * What apply() looks up for a function object, kept on the object itself (a symbol, invisible to
 * jsonata and to field look-ups) after the first call: one property read per call instead of a
 * map look-up each for the checks, the rewrite and the signature's passed types (a mapping makes
 * dozens of calls a record). The rewrites and checks are all known before the first evaluation
 * (builtinFrame).
 */
const PLAN = Symbol('apply plan');

function planOf(native: NativeFunction): NativePlan {
  const known = (native as unknown as { [PLAN]?: NativePlan })[PLAN];
  if (known) return known;
  const plan: NativePlan = { checked: CHECKED.get(native), rewrite: REWRITES.get(native), passed: undefined };
  Object.defineProperty(native, PLAN, { value: plan, enumerable: false });
  return plan;
}

/** jsonata's type letters (see symbol), as numbers 1-8 (none is 0, so the number of arguments shows). */
const LETTER: Record<string, number> = { s: 1, n: 2, b: 3, l: 4, o: 5, m: 6, a: 7, f: 8 };
const ITEM_BITS: Record<string, number> = { s: 1, n: 2, b: 4, l: 8, o: 16, m: 32 };

/**
 * The type letters of arguments as jsonata's signature checks read them, as one number: 4
 * bits a letter, and after an array's letter 6 bits of its item letters (`a<so>`), since an
 * array parameter's item type is checked against them. Undefined when an array holds arrays
 * or functions (nested item types), or for more arguments than fit: those are checked every
 * time.
 */
function typeKey(args: any[]): number | undefined {
  let key = 0;
  let scale = 1;
  for (let i = 0; i < args.length; i++) {
    const t = symbol(args[i]);
    key += LETTER[t] * scale;
    scale *= 16;
    if (t === 'a') {
      let items = 0;
      const list = args[i];
      for (let j = 0; j < list.length; j++) {
        const it = symbol(list[j]);
        if (it === 'a' || it === 'f') return undefined;
        items |= ITEM_BITS[it];
      }
      key += items * scale;
      scale *= 64;
    }
    if (scale > 2 ** 45) return undefined;
  }
  return key;
}

/**
 * jsonata's signature check, remembered: whether a signature accepts arguments unchanged
 * depends only on their type letters and, for arrays, their items' letters.
 */
function validate(native: NativeFunction, plan: NativePlan, args: any[], input: any): any[] {
  const types = typeKey(args);
  const known = plan.passed;
  const length = types === undefined ? undefined : known?.get(types);
  // Passed unchanged: the parameters left out are undefined as they would be in a padded copy (no
  // built-in, rewrite or check here reads arguments.length or the array's length).
  if (length !== undefined) return args;
  const out = native.signature!.validate(args, input);
  // Arguments left out come back undefined, unless a parameter takes the context (`-`) in their place.
  if (types !== undefined && out.length >= args.length && out.every((v, i) => v === args[i]) && !contextAfter(native, args.length, out.length)) {
    if (known) known.set(types, out.length);
    else plan.passed = new Map([[types, out.length]]);
  }
  return out;
}

/** Whether a parameter from `from` to `to` takes the context when its argument is left out. */
function contextAfter(native: NativeFunction, from: number, to: number): boolean {
  if (from >= to) return false;
  let ctx = contextParams.get(native);
  if (!ctx) contextParams.set(native, (ctx = parseContextParams((native.signature as { definition?: string }).definition ?? '')));
  for (let i = from; i < to; i++) if (ctx[i] !== false) return true;
  return false;
}

const contextParams = new WeakMap<NativeFunction, boolean[]>();

/** For each parameter of a jsonata signature (`<x-b?:s>`: x, then b), whether it is marked `-` (takes the context). */
function parseContextParams(definition: string): boolean[] {
  const out: boolean[] = [];
  let i = definition.indexOf('<') + 1;
  while (i > 0 && i < definition.length && definition[i] !== ':' && definition[i] !== '>') {
    i = definition[i] === '(' ? definition.indexOf(')', i) + 1 : i + 1;
    if (i === 0) break;
    if (definition[i] === '<') {
      for (let depth = 0; i < definition.length;) {
        if (definition[i] === '<') depth++;
        else if (definition[i] === '>') depth--;
        i++;
        if (depth === 0) break;
      }
    }
    let context = false;
    for (; definition[i] === '+' || definition[i] === '?' || definition[i] === '-'; i++) if (definition[i] === '-') context = true;
    out.push(context);
  }
  return out;
}

/** Whether an expression `height` levels deep, evaluated below the call under way, could pass jsonata's stack limit. */
export const pastDepthLimit = (height: number): boolean => callDepth.current + height > maxDepth;

/** The record goes to the interpreter, which fails it with D1011 or (a tail call, a shallower path) answers. */
export const depthFallback = (height: number): never => {
  throw new Fallback(`D1011: ${callDepth.current + height} evaluation levels could pass the stack limit of ${maxDepth}`, 'D1011');
};

/**
 * The input the lambda under way was applied with: a call in its tail position (a thunk in
 * jsonata) is made with it instead of the lambda's own input, as jsonata's apply() loop does.
 * That is the call site's input for a direct call, and null for $map and $filter (so a
 * built-in called there without its argument takes null, not the input, as its context).
 */
export const tailCall = { input: undefined as any };

function callLambda(lambda: Lambda, args: any[], input: any): any {
  if (pastDepthLimit(lambda.height)) depthFallback(lambda.height);
  tick();
  const frame: Frame = childFrame(lambda.environment);
  const params = lambda.arguments;
  for (let i = 0; i < params.length; i++) frame[params[i].value] = args[i];
  const outer = tailCall.input;
  tailCall.input = input;
  try {
    return lambda.body(lambda.input, frame);
  } finally {
    tailCall.input = outer;
  }
}

/**
 * `this` for jsonata's own built-ins: what their implementations read from it. One object
 * serves every call: built-ins run synchronously here and none calls back into a mapping.
 */
const focus = {
  input: undefined as any,
  environment: {
    get timestamp(): Date {
      return evaluationTime();
    },
  },
  options: {},
  createSequence(...items: any[]) {
    const s = seq();
    if (items.length === 1) s.push(items[0]);
    return s;
  },
};

function focusOf(input: any, _env: Frame): object {
  focus.input = input;
  return focus;
}


type Rewrite = (args: any[], input: any, env: Frame) => any;

/** $map and $filter: calls func on each item with as many of (item, index, array) as it takes. */
function eachCall(arr: any[], func: any, env: Frame, use: (result: any, item: any) => void): void {
  const n = arity(func);
  for (let i = 0; i < arr.length; i++) use(apply(func, n >= 3 ? [arr[i], i, arr] : n >= 2 ? [arr[i], i] : [arr[i]], null, env), arr[i]);
}

/** Built-ins that jsonata implements as async functions, rewritten for what mappings pass them. */
const REWRITE_BY_NAME: Record<string, Rewrite> = {
  // Not async, but the common cases are much cheaper without JSON.stringify.
  string(args, input, env) {
    const [arg, prettify] = args;
    if (typeof arg === 'string') return arg;
    if (typeof arg === 'boolean') return String(arg);
    if (typeof arg === 'number' && Number.isFinite(arg) && prettify === undefined) return String(Number.isInteger(arg) ? arg : Number(arg.toPrecision(15)));
    return nativeString!.implementation.apply(focusOf(input, env), args);
  },
  split([str, separator, limit]) {
    if (str === undefined) return undefined;
    if (limit < 0) fail('D3020');
    let result: string[] = [];
    if (limit === undefined || limit > 0) {
      if (typeof separator === 'string') {
        result = str.split(separator, limit);
      } else {
        let count = 0;
        let m = runMatcher(separator, str);
        if (m !== undefined) {
          let start = 0;
          while (m !== undefined && (limit === undefined || count < limit)) {
            result.push(str.substring(start, m.start));
            start = m.end;
            m = runMatcher(m.next);
            count++;
          }
          if (limit === undefined || count < limit) result.push(str.substring(start));
        } else {
          result.push(str);
        }
      }
    }
    return result;
  },
  replace([str, pattern, replacement, limit]) {
    if (str === undefined) return undefined;
    if (pattern === '') fail('D3010');
    if (limit < 0) fail('D3011');
    if (typeof replacement !== 'string') fail('function replacement');
    let result = '';
    let position = 0;
    if (limit === undefined || limit > 0) {
      let count = 0;
      if (typeof pattern === 'string') {
        let index = str.indexOf(pattern, position);
        while (index !== -1 && (limit === undefined || count < limit)) {
          result += str.substring(position, index) + replacement;
          position = index + pattern.length;
          count++;
          index = str.indexOf(pattern, position);
        }
        result += str.substring(position);
      } else {
        let m = runMatcher(pattern, str);
        if (m !== undefined) {
          while (m !== undefined && (limit === undefined || count < limit)) {
            result += str.substring(position, m.start) + substitute(replacement, m);
            position = m.start + m.match.length;
            count++;
            m = runMatcher(m.next);
          }
          result += str.substring(position);
        } else {
          result = str;
        }
      }
    } else {
      result = str;
    }
    return result;
  },
  contains([str, token]) {
    if (str === undefined || token === undefined) return undefined;
    if (typeof token === 'string') return str.indexOf(token) !== -1;
    return runMatcher(token, str) !== undefined;
  },
  match([str, regex, limit]) {
    if (str === undefined) return undefined;
    if (limit < 0) fail('D3040');
    const result = seq();
    if (limit === undefined || limit > 0) {
      let count = 0;
      let m = runMatcher(regex, str);
      while (m !== undefined && (limit === undefined || count < limit)) {
        result.push({ match: m.match, index: m.start, groups: m.groups });
        m = runMatcher(m.next);
        count++;
      }
    }
    return result;
  },
  map([arr, func], _input, env) {
    if (arr === undefined) return undefined;
    const result = seq();
    eachCall(arr, func, env, (res) => {
      if (res !== undefined) result.push(res);
    });
    return result;
  },
  filter([arr, func], _input, env) {
    if (arr === undefined) return undefined;
    const result = seq();
    eachCall(arr, func, env, (res, item) => {
      if (boolean(res)) result.push(item);
    });
    return result;
  },
  // jsonata's makes an object without a prototype from its first key on (a slow dictionary, which
  // each later read and copy walks as one) and an array of keys per object merged: here the same
  // own keys in the same order on a plain object, whose prototype is then set to null, which keeps
  // it fast. A key `__proto__` would set a plain object's prototype: jsonata's own way then.
  merge([arr]) {
    if (arr === undefined) return undefined;
    const result: Record<string, unknown> = {};
    for (let i = 0; i < arr.length; i++) {
      const obj = arr[i];
      if (obj === null || typeof obj !== 'object') continue;
      for (const prop in obj) {
        if (!Object.prototype.hasOwnProperty.call(obj, prop)) continue;
        if (prop === '__proto__') return mergeWithoutPrototype(arr);
        result[prop] = obj[prop];
      }
    }
    return Object.setPrototypeOf(result, null);
  },
  // jsonata's is quadratic in the number of distinct items (../limits.ts).
  distinct([arr]) {
    return distinctLinear(arr, seq, deepEqual);
  },
  now([picture, timezone], input, env) {
    return fromMillis!.implementation.call(focusOf(input, env), startedAt, picture, timezone);
  },
  millis() {
    return startedAt;
  },
};

/** jsonata's $merge as it is written (its utils.keys: an object's own keys, none for other values). */
function mergeWithoutPrototype(arr: any[]): Record<string, unknown> {
  const result = Object.create(null);
  arr.forEach((obj) => {
    if (obj === null || typeof obj !== 'object') return;
    for (const prop of Object.keys(obj)) result[prop] = obj[prop];
  });
  return result;
}

/** Async built-ins with no rewrite here: an expression naming one stays on the interpreter. */
export const ASYNC_BUILTINS = new Set(['single', 'reduce', 'sift', 'each', 'sort', 'eval']);

const BUILTIN_NAMES = [
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter', 'lowercase',
  'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join', 'formatNumber', 'formatBase',
  'formatInteger', 'parseInteger', 'number', 'floor', 'ceil', 'round', 'abs', 'sqrt', 'power', 'random', 'boolean', 'not',
  'map', 'zip', 'filter', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse', 'error', 'assert', 'type',
  'shuffle', 'distinct', 'base64encode', 'base64decode', 'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent',
  'decodeUrl', 'toMillis', 'fromMillis', 'clone', 'now', 'millis',
];

const REWRITES = new Map<NativeFunction, Rewrite>();
/** Built-ins whose arguments are checked against the size limits before they run, by name. */
const CHECKED = new Map<NativeFunction, string>();
let fromMillis: NativeFunction | undefined;
let nativeString: NativeFunction | undefined;

/** Reads function objects out of a jsonata expression by evaluating `{"name": $name, …}`. */
export async function functionObjects(expr: jsonata.Expression, names: string[]): Promise<Record<string, NativeFunction>> {
  const out = (await expr.evaluate(null)) as Record<string, NativeFunction>;
  for (const name of names) if (!out?.[name] || out[name]._jsonata_function !== true) throw new Error(`jsonata has no function $${name}`);
  return out;
}

export const functionTableSource = (names: string[]): string => `{${names.map((n) => `${JSON.stringify(n)}: $${n}`).join(', ')}}`;

let builtins: Promise<Frame> | undefined;

/** jsonata's built-in functions, with signatures, as one frame shared by every compiled mapping. */
export function builtinFrame(): Promise<Frame> {
  builtins ??= functionObjects(jsonata(functionTableSource(BUILTIN_NAMES)), BUILTIN_NAMES).then((fns) => {
    const frame: Frame = Object.create(null);
    fromMillis = fns.fromMillis;
    nativeString = fns.string;
    for (const name of BUILTIN_NAMES) {
      frame[name] = fns[name];
      const rewrite = REWRITE_BY_NAME[name];
      if (rewrite) REWRITES.set(fns[name], rewrite);
      if (CHECKED_BUILTINS.includes(name)) CHECKED.set(fns[name], name);
    }
    return frame;
  });
  return builtins;
}
