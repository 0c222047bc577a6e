/**
 * A synchronous evaluator for the JSONata that mappings are written in.
 *
 * jsonata 2.x interprets its syntax tree with async functions: every node of every record
 * costs an await, which made the default Shopify order mapping ~0.3-0.5 ms per order, the
 * largest cost on the data path. This module turns the tree jsonata has already parsed
 * (`expr.ast()`) into plain closures once, mirroring the interpreter's rules node by node
 * (sequences, singleton unwrapping, filters and indexes, object grouping, the built-in
 * functions and their signatures, which it takes from jsonata itself).
 *
 * It is deliberately partial. An expression using anything not covered here (regular
 * sorting, tuple/focus/index binding, parent and descendant steps, transforms, partial
 * application, typed lambdas, the async built-ins without a rewrite) is
 * refused at compile time with {@link Unsupported} and stays on the interpreter. At run time,
 * anything unexpected, every error included, throws {@link Fallback}: the caller then
 * evaluates that record with the interpreter, so errors keep jsonata's exact codes and
 * positions and a gap here can cost time but never change a result. The equivalence is
 * tested over every shipped mapping and a table of expressions (test/unit/mapping-compiled).
 */
import jsonata from 'jsonata';

/** Compile time: this expression uses something the compiled evaluator does not cover. */
export class Unsupported extends Error {}

/** Run time: hand this record to the interpreter. */
export class Fallback extends Error {
  constructor(reason = 'fallback') {
    super(reason);
  }
}

/** Run time: the record ran past the mapping's time limit. */
export class CompiledTimeout extends Error {
  readonly code = 'D1012';
  constructor(readonly value: number) {
    super(`Evaluation timeout after ${value} milliseconds. Check for infinite loop`);
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Node = any;
/** A scope: variables are own properties, enclosing scopes are the prototype chain. */
type Frame = Record<string | symbol, any>;
type Evaluator = (input: any, env: Frame) => any;
type Seq = any[] & { sequence?: boolean; keepSingleton?: boolean; cons?: boolean; outerWrapper?: boolean; tupleStream?: boolean };

interface NativeFunction {
  _jsonata_function: true;
  implementation: (...args: any[]) => any;
  signature?: { validate(args: any[], context: any): any[] };
}

interface Lambda {
  _jsonata_lambda: true;
  arguments: { value: string }[];
  input: any;
  environment: Frame;
  body: Evaluator;
}

const fail = (reason: string): never => {
  throw new Fallback(reason);
};

// ---- jsonata's value rules, mirrored ---------------------------------------------------

function seq(): Seq {
  const s: Seq = [];
  s.sequence = true;
  return s;
}

function seqOf(item: unknown): Seq {
  const s: Seq = [item];
  s.sequence = true;
  return s;
}

const isSequence = (v: any): boolean => v.sequence === true && Array.isArray(v);

function isNumeric(n: unknown): n is number {
  if (typeof n !== 'number') return false;
  if (Number.isNaN(n)) return false;
  if (!Number.isFinite(n)) fail('D1001');
  return true;
}

const isArrayOfNumbers = (arg: unknown): boolean => Array.isArray(arg) && arg.every((v) => isNumeric(v));

const isFunction = (arg: any): boolean =>
  (arg && (arg._jsonata_function === true || arg._jsonata_lambda === true)) || typeof arg === 'function';

function boolean(arg: any): boolean | undefined {
  if (arg === undefined) return undefined;
  if (Array.isArray(arg)) {
    if (arg.length === 1) return boolean(arg[0]);
    if (arg.length > 1) return arg.filter((v) => boolean(v)).length > 0;
    return false;
  }
  if (typeof arg === 'string') return arg.length > 0;
  if (isNumeric(arg)) return arg !== 0;
  if (arg !== null && typeof arg === 'object' && !isFunction(arg)) return Object.keys(arg).length > 0;
  return typeof arg === 'boolean' && arg === true;
}

const boolize = (v: any): boolean => boolean(v) ?? false;

function lookup(input: any, key: string): any {
  if (Array.isArray(input)) {
    const result = seq();
    for (let i = 0; i < input.length; i++) {
      const res = lookup(input[i], key);
      if (res !== undefined) {
        if (Array.isArray(res)) for (const v of res) result.push(v);
        else result.push(res);
      }
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && Object.prototype.hasOwnProperty.call(input, key) && !isFunction(input)) return input[key];
  return undefined;
}

function append(arg1: any, arg2: any): any {
  if (arg1 === undefined) return arg2;
  if (arg2 === undefined) return arg1;
  if (!Array.isArray(arg1)) arg1 = seqOf(arg1);
  if (!Array.isArray(arg2)) arg2 = [arg2];
  return arg1.concat(arg2);
}

function deepEqual(lhs: any, rhs: any): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs === 'object' && typeof rhs === 'object' && lhs !== null && rhs !== null) {
    if (Array.isArray(lhs) && Array.isArray(rhs)) {
      if (lhs.length !== rhs.length) return false;
      for (let i = 0; i < lhs.length; i++) if (!deepEqual(lhs[i], rhs[i])) return false;
      return true;
    }
    const lk = Object.getOwnPropertyNames(lhs).sort();
    const rk = Object.getOwnPropertyNames(rhs).sort();
    if (lk.length !== rk.length) return false;
    for (let i = 0; i < lk.length; i++) if (lk[i] !== rk[i]) return false;
    for (const k of lk) if (!deepEqual(lhs[k], rhs[k])) return false;
    return true;
  }
  return false;
}

/** $string and `&`: strings as they are, everything else as JSON with 15 significant digits. */
function string(arg: any): string | undefined {
  if (arg === undefined) return undefined;
  if (typeof arg === 'string') return arg;
  if (isFunction(arg)) return '';
  if (typeof arg === 'number' && !Number.isFinite(arg)) fail('D3001');
  if (Array.isArray(arg) && (arg as Seq).outerWrapper) arg = arg[0];
  return JSON.stringify(arg, (_k, val) => {
    if (val !== undefined && val !== null && isNumeric(val)) return !Number.isInteger(val) ? Number(val.toPrecision(15)) : val;
    return val && isFunction(val) ? '' : val;
  });
}

interface RegexMatch { match: string; start: number; end: number; groups: string[]; next: () => RegexMatch | undefined }

/** A regex literal's value: jsonata's matcher function over a string. */
function regexMatcher(re: RegExp) {
  const closure = (str: string, fromIndex?: number): RegexMatch | undefined => {
    re.lastIndex = fromIndex || 0;
    const m = re.exec(str);
    if (m === null) return undefined;
    const result: RegexMatch = {
      match: m[0],
      start: m.index,
      end: m.index + m[0].length,
      groups: m.slice(1),
      next: () => {
        if (re.lastIndex >= str.length) return undefined;
        const next = closure(str, re.lastIndex);
        if (next && next.match === '') fail('D1004');
        return next;
      },
    };
    return result;
  };
  return closure;
}

/** jsonata's evaluateMatcher, for the matchers this evaluator makes. */
function runMatcher(matcher: any, str?: string): RegexMatch | undefined {
  if (typeof matcher !== 'function') fail('matcher is not a function');
  const result = matcher(str);
  if (isPromise(result)) {
    result.catch(() => undefined);
    fail('async matcher');
  }
  if (result && !(typeof result.start === 'number' || result.end === 'number' || Array.isArray(result.groups) || isFunction(result.next))) fail('T1010');
  return result;
}

/** $replace's replacement text: $0 the match, $1… its groups, $$ a dollar. */
function substitute(replacement: string, m: RegexMatch): string {
  let out = '';
  let position = 0;
  let index = replacement.indexOf('$', position);
  while (index !== -1 && position < replacement.length) {
    out += replacement.substring(position, index);
    position = index + 1;
    const dollarVal = replacement.charAt(position);
    if (dollarVal === '$') {
      out += '$';
      position++;
    } else if (dollarVal === '0') {
      out += m.match;
      position++;
    } else {
      const maxDigits = m.groups.length === 0 ? 1 : Math.floor(Math.log(m.groups.length) * Math.LOG10E) + 1;
      let group = parseInt(replacement.substring(position, position + maxDigits), 10);
      if (maxDigits > 1 && group > m.groups.length) group = parseInt(replacement.substring(position, position + maxDigits - 1), 10);
      if (!Number.isNaN(group)) {
        if (m.groups.length > 0) {
          const sub = m.groups[group - 1];
          if (sub !== undefined) out += sub;
        }
        position += group.toString().length;
      } else {
        out += '$';
      }
    }
    index = replacement.indexOf('$', position);
  }
  return out + replacement.substring(position);
}

function flatten(arg: any, flattened: any[] = []): any[] {
  if (Array.isArray(arg)) for (const item of arg) flatten(item, flattened);
  else flattened.push(arg);
  return flattened;
}

function arity(func: any): number {
  if (typeof func.arity === 'number') return func.arity;
  if (func._jsonata_lambda === true) return func.arguments.length;
  if (typeof func.implementation === 'function') return func.implementation.length;
  return typeof func.length === 'number' ? func.length : 0;
}

const isPromise = (v: any): boolean => v !== null && typeof v === 'object' && typeof v.then === 'function';

// ---- one evaluation's limits -------------------------------------------------------------
// A compiled evaluation is synchronous, so these module-level counters belong to one record at a time.

let deadline = Infinity;
let timeoutMs = 0;
let ticks = 0;
let depth = 0;
let maxDepth = Infinity;

function tick(): void {
  if ((++ticks & 1023) === 0 && Date.now() > deadline) throw new CompiledTimeout(timeoutMs);
}

// ---- functions ----------------------------------------------------------------------------

/** Applies a function value the way jsonata's apply() does, for the kinds this evaluator makes or knows. */
function apply(proc: any, args: any[], input: any, env: Frame): any {
  if (proc && proc._jsonata_lambda === true) {
    if (!proc.body || typeof proc.body !== 'function') fail('foreign lambda');
    return callLambda(proc as Lambda, args);
  }
  if (proc && proc._jsonata_function === true) {
    const native = proc as NativeFunction;
    const validated = native.signature ? validate(native, args, input) : args;
    const rewrite = REWRITES.get(native);
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

/** Argument type strings a function's signature has passed unchanged (nothing inserted or wrapped). */
const passed = new WeakMap<NativeFunction, Set<string>>();

/**
 * jsonata's signature check, remembered: whether a signature accepts arguments unchanged
 * depends only on their type letters, except for arrays, whose items it may inspect.
 */
function validate(native: NativeFunction, args: any[], input: any): any[] {
  let types = '';
  for (const a of args) types += symbol(a);
  const known = passed.get(native);
  if (known?.has(types)) return args;
  const out = native.signature!.validate(args, input);
  if (!types.includes('a') && out.length === args.length && out.every((v, i) => v === args[i])) {
    if (known) known.add(types);
    else passed.set(native, new Set([types]));
  }
  return out;
}

function callLambda(lambda: Lambda, args: any[]): any {
  if (++depth > maxDepth) fail('D1011');
  tick();
  try {
    const frame: Frame = Object.create(lambda.environment);
    const params = lambda.arguments;
    for (let i = 0; i < params.length; i++) frame[params[i].value] = args[i];
    return lambda.body(lambda.input, frame);
  } finally {
    depth--;
  }
}

/**
 * `this` for jsonata's own built-ins: what their implementations read from it. One object
 * serves every call: built-ins run synchronously here and none calls back into a mapping.
 */
const focus = {
  input: undefined as any,
  environment: { timestamp: undefined as Date | undefined },
  options: {},
  createSequence(...items: any[]) {
    const s = seq();
    if (items.length === 1) s.push(items[0]);
    return s;
  },
};

function focusOf(input: any, env: Frame): object {
  focus.input = input;
  focus.environment.timestamp = env[TIMESTAMP];
  return focus;
}

const TIMESTAMP = Symbol('timestamp');

type Rewrite = (args: any[], input: any, env: Frame) => any;

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
    const n = arity(func);
    for (let i = 0; i < arr.length; i++) {
      const res = apply(func, n >= 3 ? [arr[i], i, arr] : n >= 2 ? [arr[i], i] : [arr[i]], null, env);
      if (res !== undefined) result.push(res);
    }
    return result;
  },
  filter([arr, func], _input, env) {
    if (arr === undefined) return undefined;
    const result = seq();
    const n = arity(func);
    for (let i = 0; i < arr.length; i++) {
      const res = apply(func, n >= 3 ? [arr[i], i, arr] : n >= 2 ? [arr[i], i] : [arr[i]], null, env);
      if (boolean(res)) result.push(arr[i]);
    }
    return result;
  },
  now([picture, timezone], input, env) {
    return fromMillis!.implementation.call(focusOf(input, env), env[TIMESTAMP].getTime(), picture, timezone);
  },
  millis(_args, _input, env) {
    return env[TIMESTAMP].getTime();
  },
};

/** Async built-ins with no rewrite here: an expression naming one stays on the interpreter. */
const ASYNC_BUILTINS = new Set(['single', 'reduce', 'sift', 'each', 'sort', 'eval']);

const BUILTIN_NAMES = [
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter', 'lowercase',
  'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join', 'formatNumber', 'formatBase',
  'formatInteger', 'parseInteger', 'number', 'floor', 'ceil', 'round', 'abs', 'sqrt', 'power', 'random', 'boolean', 'not',
  'map', 'zip', 'filter', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse', 'error', 'assert', 'type',
  'shuffle', 'distinct', 'base64encode', 'base64decode', 'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent',
  'decodeUrl', 'toMillis', 'fromMillis', 'clone', 'now', 'millis',
];

const REWRITES = new Map<NativeFunction, Rewrite>();
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
function builtinFrame(): Promise<Frame> {
  builtins ??= functionObjects(jsonata(functionTableSource(BUILTIN_NAMES)), BUILTIN_NAMES).then((fns) => {
    const frame: Frame = Object.create(null);
    fromMillis = fns.fromMillis;
    nativeString = fns.string;
    for (const name of BUILTIN_NAMES) {
      frame[name] = fns[name];
      const rewrite = REWRITE_BY_NAME[name];
      if (rewrite) REWRITES.set(fns[name], rewrite);
    }
    return frame;
  });
  return builtins;
}

// ---- the compiler -------------------------------------------------------------------------

function compile(node: Node): Evaluator {
  let core = compileCore(node);
  if (node.predicate) {
    for (const p of node.predicate) {
      if (p.type !== 'filter') throw new Unsupported(`predicate ${p.type}`);
      const inner = core;
      const filter = compileFilter(p.expr);
      core = (input, env) => filter(inner(input, env), env);
    }
  }
  if (node.type !== 'path' && node.group) {
    const inner = core;
    const group = compileGroup(node.group);
    core = (input, env) => group(inner(input, env), env);
  }
  const keepArray = node.keepArray === true;
  return (input, env) => {
    let result = core(input, env);
    if (result && isSequence(result) && !result.tupleStream) {
      if (keepArray) result.keepSingleton = true;
      if (result.length === 0) result = undefined;
      else if (result.length === 1) result = result.keepSingleton ? result : result[0];
    }
    return result;
  };
}

function compileCore(node: Node): Evaluator {
  switch (node.type) {
    case 'path': return compilePath(node);
    case 'binary': return compileBinary(node);
    case 'unary': return compileUnary(node);
    case 'name': {
      const key = node.value;
      return (input) => lookup(input, key);
    }
    case 'string':
    case 'number':
    case 'value': {
      const value = node.value;
      return () => value;
    }
    case 'wildcard': return wildcard;
    case 'condition': {
      const cond = compile(node.condition);
      const then = compile(node.then);
      const otherwise = node.else === undefined ? undefined : compile(node.else);
      return (input, env) => (boolean(cond(input, env)) ? then(input, env) : otherwise?.(input, env));
    }
    case 'block': {
      const parts = node.expressions.map(compile) as Evaluator[];
      return (input, env) => {
        const frame: Frame = Object.create(env);
        let result;
        for (const part of parts) result = part(input, frame);
        return result;
      };
    }
    case 'bind': {
      const name = node.lhs.value;
      const value = compile(node.rhs);
      return (input, env) => {
        const v = value(input, env);
        env[name] = v;
        return v;
      };
    }
    case 'variable': {
      const name = node.value;
      if (ASYNC_BUILTINS.has(name)) throw new Unsupported(`$${name}`);
      if (name === '') return (input) => (input && input.outerWrapper ? input[0] : input);
      return (_input, env) => env[name];
    }
    case 'function': return compileCall(node, undefined);
    case 'lambda': {
      // jsonata turns a call in tail position into a thunk its apply() loop then runs; here it just runs.
      if (node.thunk === true) return compile(node.body);
      if (node.signature) throw new Unsupported('lambda with a signature');
      const body = compile(node.body);
      const params = node.arguments;
      return (input, env): Lambda => ({ _jsonata_lambda: true, arguments: params, input, environment: env, body });
    }
    case 'apply': return compileApply(node);
    case 'regex': {
      const source = node.value as RegExp;
      return () => regexMatcher(new RegExp(source));
    }
    default:
      throw new Unsupported(node.type);
  }
}

/** A step that only reads a field: no filter, grouping or array flags. */
const plainName = (s: Node): boolean => s.type === 'name' && !s.stages && !s.predicate && !s.group && !s.keepArray;

function compilePath(node: Node): Evaluator {
  const steps: Node[] = node.steps;
  for (const s of steps) {
    if (s.tuple || s.focus !== undefined || s.index !== undefined || s.ancestor || s.type === 'sort') throw new Unsupported('tuple, focus, index, parent or sort step');
  }
  const general = compileSteps(node, steps);
  // `a.b.c` and `$v.b.c` over single objects (most of a mapping): the same answer as the
  // general walk below, without building a sequence per step. Arrays take the general walk.
  const head = steps[0];
  const variableHead = head.type === 'variable' && head.value !== '' && !head.stages && !head.predicate && !head.group && !head.keepArray;
  const names = (variableHead ? steps.slice(1) : steps);
  if (node.keepSingletonArray || node.group || !names.every(plainName) || (!variableHead && !plainName(head))) return general;
  const keys = names.map((s) => s.value as string);
  const variable: string | undefined = variableHead ? head.value : undefined;
  return (input, env) => {
    let cur = variable === undefined ? input : env[variable];
    if (Array.isArray(cur)) return general(input, env);
    for (let i = 0; i < keys.length; i++) {
      if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, keys[i]) || isFunction(cur)) return undefined;
      cur = cur[keys[i]];
      if (cur === undefined) return undefined;
      if (Array.isArray(cur) && (i < keys.length - 1 || isSequence(cur))) return general(input, env);
    }
    return cur;
  };
}

function compileSteps(node: Node, steps: Node[]): Evaluator {
  const fns = steps.map(compile);
  const stages = steps.map((s) => (s.stages ? (s.stages as Node[]).map((st) => {
    if (st.type !== 'filter') throw new Unsupported(`stage ${st.type}`);
    return compileFilter(st.expr);
  }) : undefined));
  const absolute = steps[0].type === 'variable';
  const consFirst = steps[0].consarray === true;
  const keepSingletonArray = node.keepSingletonArray === true;
  const group = node.group ? compileGroup(node.group) : undefined;
  const last = steps.length - 1;
  return (input, env) => {
    let inputSequence: any = Array.isArray(input) && !absolute ? input : seqOf(input);
    let result: any;
    for (let i = 0; i <= last; i++) {
      result = i === 0 && consFirst ? fns[0](inputSequence, env) : step(fns[i], stages[i], inputSequence, env, i === last);
      if (result === undefined || result.length === 0) break;
      inputSequence = result;
    }
    if (keepSingletonArray) {
      if (Array.isArray(result) && (result as Seq).cons && !(result as Seq).sequence) result = seqOf(result);
      result.keepSingleton = true;
    }
    if (group) result = group(result, env);
    return result;
  };
}

function step(fn: Evaluator, stages: ((input: any, env: Frame) => any)[] | undefined, input: any[], env: Frame, lastStep: boolean): any {
  const result: any[] = [];
  for (let i = 0; i < input.length; i++) {
    tick();
    let res = fn(input[i], env);
    if (stages) for (const stage of stages) res = stage(res, env);
    if (res !== undefined) result.push(res);
  }
  if (lastStep && result.length === 1 && Array.isArray(result[0]) && !isSequence(result[0])) return result[0];
  const out = seq();
  for (const res of result) {
    if (!Array.isArray(res) || (res as Seq).cons) out.push(res);
    else for (const v of res) out.push(v);
  }
  return out;
}

function compileFilter(predicate: Node): (input: any, env: Frame) => any {
  if (predicate.type === 'number') {
    const at = Math.floor(predicate.value);
    return (input) => {
      let results: any = seq();
      if (!Array.isArray(input)) input = seqOf(input);
      const index = at < 0 ? input.length + at : at;
      const item = input[index];
      if (item !== undefined) {
        if (Array.isArray(item)) results = item;
        else results.push(item);
      }
      return results;
    };
  }
  const test = compile(predicate);
  return (input, env) => {
    const results = seq();
    if (!Array.isArray(input)) input = seqOf(input);
    for (let index = 0; index < input.length; index++) {
      const item = input[index];
      let res = test(item, env);
      if (isNumeric(res)) res = [res];
      if (isArrayOfNumbers(res)) {
        for (const ires of res) {
          let ii = Math.floor(ires);
          if (ii < 0) ii = input.length + ii;
          if (ii === index) results.push(item);
        }
      } else if (boolean(res)) {
        results.push(item);
      }
    }
    return results;
  };
}

function compileBinary(node: Node): Evaluator {
  const lhs = compile(node.lhs);
  const rhs = compile(node.rhs);
  switch (node.value) {
    case 'and': return (input, env) => boolize(lhs(input, env)) && boolize(rhs(input, env));
    case 'or': return (input, env) => boolize(lhs(input, env)) || boolize(rhs(input, env));
    case '+':
    case '-':
    case '*':
    case '/':
    case '%': {
      const op = node.value as string;
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        if (l !== undefined && !isNumeric(l)) fail('T2001');
        if (r !== undefined && !isNumeric(r)) fail('T2002');
        if (l === undefined || r === undefined) return undefined;
        switch (op) {
          case '+': return l + r;
          case '-': return l - r;
          case '*': return l * r;
          case '/': return l / r;
          default: return l % r;
        }
      };
    }
    case '=':
    case '!=': {
      const negate = node.value === '!=';
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        if (l === undefined || r === undefined) return false;
        return negate ? !deepEqual(l, r) : deepEqual(l, r);
      };
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const op = node.value as string;
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        const lt = typeof l;
        const rt = typeof r;
        if (!(lt === 'undefined' || lt === 'string' || lt === 'number') || !(rt === 'undefined' || rt === 'string' || rt === 'number')) fail('T2010');
        if (lt === 'undefined' || rt === 'undefined') return undefined;
        if (lt !== rt) fail('T2009');
        switch (op) {
          case '<': return l < r;
          case '<=': return l <= r;
          case '>': return l > r;
          default: return l >= r;
        }
      };
    }
    case '&':
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        return (l === undefined ? '' : string(l)!).concat(r === undefined ? '' : string(r)!);
      };
    case '..':
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        if (l !== undefined && !Number.isInteger(l)) fail('T2003');
        if (r !== undefined && !Number.isInteger(r)) fail('T2004');
        if (l === undefined || r === undefined || l > r) return undefined;
        if (r - l + 1 > 1e7) fail('D2014');
        const result: Seq = new Array(r - l + 1);
        for (let item = l, i = 0; item <= r; item++, i++) result[i] = item;
        result.sequence = true;
        return result;
      };
    case 'in':
      return (input, env) => {
        const l = lhs(input, env);
        let r = rhs(input, env);
        if (l === undefined || r === undefined) return false;
        if (!Array.isArray(r)) r = [r];
        for (let i = 0; i < r.length; i++) if (r[i] === l) return true;
        return false;
      };
    default:
      throw new Unsupported(`operator ${node.value}`);
  }
}

function compileUnary(node: Node): Evaluator {
  switch (node.value) {
    case '-': {
      const operand = compile(node.expression);
      return (input, env) => {
        const v = operand(input, env);
        if (v === undefined) return undefined;
        if (isNumeric(v)) return -v;
        return fail('D1002');
      };
    }
    case '[': {
      const items = (node.expressions as Node[]).map((item) => ({ fn: compile(item), nested: item.value === '[' }));
      const cons = node.consarray === true;
      return (input, env) => {
        let result: any = [];
        for (const item of items) {
          const value = item.fn(input, env);
          if (value !== undefined) {
            if (item.nested) result.push(value);
            else result = append(result, value);
          }
        }
        if (cons) Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
        return result;
      };
    }
    case '{': return compileGroup(node);
    default:
      throw new Unsupported(`unary ${node.value}`);
  }
}

/** Object constructors, `{key: value}` and grouping `path{key: value}` alike. */
function compileGroup(node: Node): (input: any, env: Frame) => any {
  const pairs = (node.lhs as Node[][]).map(([k, v]) => ({ key: compile(k), value: compile(v), literal: k.type === 'string' ? (k.value as string) : undefined }));
  const literals = pairs.map((p) => p.literal);
  const allLiteral = literals.every((k) => k !== undefined && k !== '_jsonata_lambda' && k !== '_jsonata_function')
    && new Set(literals).size === literals.length;
  return (input, env) => {
    // One input and literal keys (almost every mapping): no grouping to do.
    if (allLiteral && !Array.isArray(input)) {
      const result = Object.create(null);
      for (const p of pairs) {
        const v = p.value(input, env);
        if (v !== undefined) result[p.literal!] = v;
      }
      return result;
    }
    const result = Object.create(null);
    const groups: Record<string, { data: any; exprIndex: number }> = Object.create(null);
    if (!Array.isArray(input)) input = seqOf(input);
    if (input.length === 0) input.push(undefined);
    for (const item of input) {
      for (let i = 0; i < pairs.length; i++) {
        const key = pairs[i].key(item, env);
        if (typeof key !== 'string' && key !== undefined) fail('T1003');
        if (key === undefined) continue;
        if (key === '_jsonata_lambda' || key === '_jsonata_function') fail('D1013');
        if (key in groups) {
          if (groups[key].exprIndex !== i) fail('D1009');
          groups[key].data = append(groups[key].data, item);
        } else {
          groups[key] = { data: item, exprIndex: i };
        }
      }
    }
    for (const key of Object.keys(groups)) {
      const entry = groups[key];
      const v = pairs[entry.exprIndex].value(entry.data, env);
      if (v !== undefined) result[key] = v;
    }
    return result;
  };
}

function wildcard(input: any): any {
  let results: any = seq();
  if (Array.isArray(input) && (input as Seq).outerWrapper && input.length > 0) input = input[0];
  if (input !== null && typeof input === 'object' && !isFunction(input)) {
    for (const key of Object.keys(input)) {
      const value = input[key];
      if (Array.isArray(value)) results = append(results, flatten(value));
      else results.push(value);
    }
  }
  return results;
}

function compileCall(node: Node, applyTo: Evaluator | undefined): Evaluator {
  const procedure = compile(node.procedure);
  const args = (node.arguments as Node[]).map(compile);
  const pathName: string | undefined = node.procedure.type === 'path' ? node.procedure.steps[0].value : undefined;
  return (input, env) => {
    const proc = procedure(input, env);
    if (proc === undefined && pathName !== undefined && env[pathName]) fail('T1005');
    const values: any[] = applyTo ? [applyTo(input, env)] : [];
    for (const arg of args) values.push(arg(input, env));
    return apply(proc, values, input, env);
  };
}

function compileApply(node: Node): Evaluator {
  const lhs = compile(node.lhs);
  if (node.rhs.type === 'function') return compileCall(node.rhs, lhs);
  const rhs = compile(node.rhs);
  return (input, env) => {
    const l = lhs(input, env);
    const func = rhs(input, env);
    if (!isFunction(func)) fail('T2006');
    if (isFunction(l)) fail('function chaining');
    return apply(func, [l], null, env);
  };
}

// ---- entry point --------------------------------------------------------------------------

export interface CompiledExpression {
  /** Evaluates one input; throws Fallback (use the interpreter) or CompiledTimeout. */
  run(input: unknown, bindings: Record<string, unknown>, limits: { timeoutMs: number; maxDepth: number }): unknown;
}

/**
 * Compiles a parsed jsonata expression. `registered` are the expression's own functions
 * (as function objects, read with {@link functionObjects}). Throws Unsupported.
 */
export async function compileExpression(ast: Node, registered: Record<string, unknown>): Promise<CompiledExpression> {
  const root = compile(ast);
  const globals: Frame = Object.create(await builtinFrame());
  Object.assign(globals, registered);
  return {
    run(input, bindings, limits) {
      const env: Frame = Object.create(globals);
      for (const k of Object.keys(bindings)) env[k] = bindings[k];
      env.$ = input;
      env[TIMESTAMP] = new Date();
      let context: any = input;
      if (Array.isArray(context) && !isSequence(context)) {
        context = seqOf(context);
        context.outerWrapper = true;
      }
      timeoutMs = limits.timeoutMs;
      deadline = limits.timeoutMs > 0 ? Date.now() + limits.timeoutMs : Infinity;
      maxDepth = limits.maxDepth > 0 ? limits.maxDepth : Infinity;
      depth = 0;
      ticks = 0;
      try {
        return root(context, env);
      } catch (err) {
        if (err instanceof Fallback || err instanceof CompiledTimeout) throw err;
        throw new Fallback((err as Error)?.message ?? String(err));
      }
    },
  };
}
