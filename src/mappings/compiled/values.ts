/** jsonata's value rules (sequences, truthiness, look-up, equality, strings, regex matchers), mirrored for the compiled evaluator (../compiled.ts). */

/** Compile time: this expression uses something the compiled evaluator does not cover. */
export class Unsupported extends Error {}

const JSONATA_CODE = /^[A-Z]\d{4}$/;

/** Run time: hand this record to the interpreter. */
export class Fallback extends Error {
  /** jsonata's error code when the record failed with one (D1011, T2002, D3030, …). */
  readonly code?: string;
  constructor(reason = 'fallback', code: string | undefined = JSONATA_CODE.test(reason) ? reason : undefined) {
    super(reason);
    this.code = code;
  }

  /**
   * The Fallback for an error thrown while evaluating. jsonata's built-ins throw plain objects
   * (`{code, value, token, stack}`) and only jsonata's own entry point adds their message, so
   * the code is kept here and the message, when there is none yet, comes from the interpreter's
   * run of the same record (../engine.ts).
   */
  static of(err: unknown): Fallback {
    if (err instanceof Fallback) return err;
    const e = (err ?? {}) as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' && JSONATA_CODE.test(e.code) ? e.code : undefined;
    const message = typeof e.message === 'string' && e.message !== '' ? e.message : undefined;
    if (code) return new Fallback(message ? `${code}: ${message}` : code, code);
    return new Fallback(message ?? (err instanceof Error ? err.name : `thrown ${typeof err}`));
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
export type Node = any;
/**
 * A scope: variables are its own properties, the enclosing scope is under PARENT. Plain
 * objects linked by a property, not by prototypes: a fresh scope per block and per call that
 * then served as another's prototype cost V8 a prototype map each time.
 */
export type Frame = Record<string | symbol, any>;
export const PARENT = Symbol('parent');

export const childFrame = (parent: Frame): Frame => ({ [PARENT]: parent });

/**
 * jsonata's variable look-up: the nearest scope that binds the name, even to undefined. `in`
 * sees only a scope's own names here: names a plain object inherits never compile (inheritedName).
 */
export function lookupVariable(env: Frame, name: string): any {
  for (let f: Frame | undefined = env; f !== undefined; f = f[PARENT]) {
    const v = f[name];
    if (v !== undefined || name in f) return v;
  }
  return undefined;
}

/** Names a plain object answers through its prototype (toString, constructor, …): left to the interpreter. */
export const inheritedName = (name: string): boolean => name in Object.prototype;
export type Evaluator = (input: any, env: Frame) => any;
export type Seq = any[] & { sequence?: boolean; keepSingleton?: boolean; cons?: boolean; outerWrapper?: boolean; tupleStream?: boolean };

export interface NativeFunction {
  _jsonata_function: true;
  implementation: (...args: any[]) => any;
  signature?: { validate(args: any[], context: any): any[] };
}

export interface Lambda {
  _jsonata_lambda: true;
  arguments: { value: string }[];
  input: any;
  environment: Frame;
  body: Evaluator;
  /** How many evaluation levels its body reaches below the call (jsonata's stack guardrail: ./functions.ts). */
  height: number;
}

/**
 * Makes a plain object, as `{}` does (its prototype is Object.prototype, nothing else tells them
 * apart), with room for more fields in the object itself: `{}` has four, and each field past them
 * goes to a separate array, copied larger every three (a mapped order has ~20 fields, its lines
 * ~8). Made through a constructor, the object is sized by what the first ones held (V8's in-object
 * slack tracking: up to ten fields inside).
 */
export const PlainObject = function PlainObject() {} as unknown as new () => Record<string, any>;
PlainObject.prototype = Object.prototype;

export const fail = (reason: string): never => {
  throw new Fallback(reason);
};

// ---- jsonata's value rules, mirrored ---------------------------------------------------

export function seq(): Seq {
  const s: Seq = [];
  s.sequence = true;
  return s;
}

export function seqOf(item: unknown): Seq {
  const s: Seq = [item];
  s.sequence = true;
  return s;
}

export const isSequence = (v: any): boolean => v.sequence === true && Array.isArray(v);

export function isNumeric(n: unknown): n is number {
  if (typeof n !== 'number') return false;
  if (Number.isNaN(n)) return false;
  if (!Number.isFinite(n)) fail('D1001');
  return true;
}

export const isArrayOfNumbers = (arg: unknown): boolean => Array.isArray(arg) && arg.every((v) => isNumeric(v));

export const isFunction = (arg: any): boolean =>
  (arg && (arg._jsonata_function === true || arg._jsonata_lambda === true)) || typeof arg === 'function';

export function boolean(arg: any): boolean | undefined {
  if (arg === undefined) return undefined;
  if (Array.isArray(arg)) {
    if (arg.length === 1) return boolean(arg[0]);
    if (arg.length > 1) {
      // Every item is judged (one may throw, as in jsonata's filter), without a filtered copy.
      let any = false;
      for (let i = 0; i < arg.length; i++) if (boolean(arg[i])) any = true;
      return any;
    }
    return false;
  }
  if (typeof arg === 'string') return arg.length > 0;
  if (isNumeric(arg)) return arg !== 0;
  if (arg !== null && typeof arg === 'object' && !isFunction(arg)) return hasOwnKey(arg);
  return typeof arg === 'boolean' && arg === true;
}

/** `Object.keys(obj).length > 0` without the array of keys (a condition on an object, `customer ? {…}`, asks it each record). */
function hasOwnKey(obj: object): boolean {
  for (const key in obj) if (Object.prototype.hasOwnProperty.call(obj, key)) return true;
  return false;
}

export const boolize = (v: any): boolean => boolean(v) ?? false;

export function lookup(input: any, key: string): any {
  if (Array.isArray(input)) {
    const result = seq();
    for (let i = 0; i < input.length; i++) {
      const res = lookup(input[i], key);
      if (res !== undefined) {
        if (Array.isArray(res)) for (let j = 0; j < res.length; j++) result.push(res[j]);
        else result.push(res);
      }
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && Object.prototype.hasOwnProperty.call(input, key) && !isFunction(input)) return input[key];
  return undefined;
}

export function append(arg1: any, arg2: any): any {
  if (arg1 === undefined) return arg2;
  if (arg2 === undefined) return arg1;
  if (!Array.isArray(arg1)) arg1 = seqOf(arg1);
  if (!Array.isArray(arg2)) arg2 = [arg2];
  return arg1.concat(arg2);
}

export function deepEqual(lhs: any, rhs: any): boolean {
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
export function string(arg: any): string | undefined {
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

export interface RegexMatch { match: string; start: number; end: number; groups: string[]; next: () => RegexMatch | undefined }

/** A regex literal's value: jsonata's matcher function over a string. */
export function regexMatcher(re: RegExp) {
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
export function runMatcher(matcher: any, str?: string): RegexMatch | undefined {
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
export function substitute(replacement: string, m: RegexMatch): string {
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

export function flatten(arg: any, flattened: any[] = []): any[] {
  if (Array.isArray(arg)) for (const item of arg) flatten(item, flattened);
  else flattened.push(arg);
  return flattened;
}

export function arity(func: any): number {
  if (typeof func.arity === 'number') return func.arity;
  if (func._jsonata_lambda === true) return func.arguments.length;
  if (typeof func.implementation === 'function') return func.implementation.length;
  return typeof func.length === 'number' ? func.length : 0;
}

export const isPromise = (v: any): boolean => v !== null && typeof v === 'object' && typeof v.then === 'function';

/** `*`: the values of every field of the input, arrays flattened one level (jsonata's wildcard step). */
export function wildcard(input: any): any {
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
