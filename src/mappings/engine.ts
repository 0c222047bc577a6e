import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import jsonata from 'jsonata';
import type { Entity, OrderStatus, PaymentStatus } from '../core/canonical/schemas.js';
import { MappingError } from '../core/errors.js';
import { sourceDir } from '../core/source-tree.js';
import { fromMinorUnits, normalizeAmount, sumAmounts, toMinorNumber } from '../core/money.js';
import { compileExpression, CompiledTimeout, Fallback, functionObjects, functionTableSource, Unsupported, type CompiledExpression } from './compiled.js';
import { deepEqual, isFunction, PlainObject, substitute } from './compiled/values.js';
import { CHECKED_BUILTINS, checkArguments, checkConcat, checkProduced, checkRange, DEFAULT_SIZE_LIMITS, distinctLinear, producerName, type SizeLimits } from './limits.js';
import { catastrophicRegex, CheckedRegExp, regexLiterals, regexRefusal } from './regex-safety.js';

/** Where each connector's default mappings live: src/mappings/<connector>/<entity>.<in|out>.jsonata */
export const DEFAULT_MAPPINGS_DIR = sourceDir(import.meta.url);

export type Direction = 'in' | 'out';

export interface MappingLimits extends SizeLimits {
  /** JSONata evaluation timeout per record (ms). Default 1000. */
  timeoutMs: number;
  /** Maximum evaluation stack depth. Default 500. */
  maxDepth: number;
  /**
   * `compiled` (default): expressions the compiled evaluator covers run synchronously
   * (src/mappings/compiled.ts), the rest and every error through jsonata's interpreter.
   * `interpreter`: jsonata's interpreter only. `verify` (the test suite's setting): both, on a
   * mapping's first VERIFY_ALL records and on every VERIFY_EVERY-th after them, and a record on
   * which they disagree fails loudly. SYNCHUB_MAPPING_ENGINE sets the default.
   */
  engine: 'compiled' | 'interpreter' | 'verify';
}

const ENGINES = ['compiled', 'interpreter', 'verify'] as const;
/**
 * `verify` runs jsonata beside the compiled form on every one of a mapping's first 1,000 records,
 * then on one in 16: the suite's bulk tests map thousands of orders made from a few templates,
 * where checking each one again doubled the suite's CPU and found nothing the first thousand had
 * not (the differential test, test/unit/mapping-differential.test.ts, compares both on random
 * inputs, every one).
 */
const VERIFY_ALL = 1000;
const VERIFY_EVERY = 16;
const engineFromEnv = (value: string | undefined): MappingLimits['engine'] => {
  if (value === undefined || value === '') return 'compiled';
  if (!(ENGINES as readonly string[]).includes(value)) throw new Error(`SYNCHUB_MAPPING_ENGINE must be one of ${ENGINES.join(', ')}, not "${value}"`);
  return value as MappingLimits['engine'];
};

const DEFAULT_LIMITS: MappingLimits = {
  timeoutMs: 1000,
  maxDepth: 500,
  ...DEFAULT_SIZE_LIMITS,
  engine: engineFromEnv(process.env.SYNCHUB_MAPPING_ENGINE),
};

export interface StatusTables {
  order?: Record<string, OrderStatus>;
  payment?: Record<string, PaymentStatus>;
}

export interface MappingContext {
  /** Connection name, bound as $connection. */
  connection?: string;
  /** Connector id whose status tables `$status()` reads. */
  connector?: string;
  statusMap?: StatusTables;
  /** Connection options, bound as $conn. */
  options?: Record<string, unknown>;
}

interface JsonataError { code?: string; position?: number; token?: string; message?: string; value?: unknown }

function lineCol(source: string, position: number): { line: number; column: number } {
  const before = source.slice(0, Math.max(0, position));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

function describe(err: JsonataError, file: string, source: string, during: string): MappingError {
  const pos = typeof err.position === 'number' ? err.position : undefined;
  const where = pos === undefined ? '' : (() => {
    const { line, column } = lineCol(source, pos);
    return `:${line}:${column}`;
  })();
  const at = pos === undefined ? {} : { position: pos, ...lineCol(source, pos) };
  return new MappingError(`${file}${where}: ${during}: ${err.message ?? String(err)}${err.code ? ` (${err.code})` : ''}`, {
    file, ...at, token: err.token, jsonataCode: err.code,
  });
}

/**
 * JSON-safe copy without null/undefined values, so an absent API field is an absent canonical
 * field. Functions are left out as JSON leaves them out, jsonata's own included: a lambda
 * (`function($x){…}`) or a built-in given as a value is an object holding the scope it was made
 * in, which can hold the lambda itself (`$f := function(){…}` as a whole mapping), so copying it
 * would never end.
 */
export function compact(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (isFunction(value)) return undefined;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v !== null && v !== undefined && !isFunction(v)) out.push(compact(v));
    }
    return out;
  }
  const out = new PlainObject();
  // The own enumerable keys in Object.keys order, without an array of them per object.
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const v = (value as Record<string, unknown>)[key];
    if (v === null || v === undefined || isFunction(v)) continue;
    out[key] = compact(v);
  }
  return out;
}

function toIsoUtc(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const t = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : Date.parse(String(value));
  if (!Number.isFinite(t)) throw new Error(`not a date: ${JSON.stringify(value)}`);
  return isoString(t);
}

const [ZERO, DASH, COLON, DOT, LETTER_T, LETTER_Z] = ['0', '-', ':', '.', 'T', 'Z'].map((c) => c.charCodeAt(0));
const MS_PER_DAY = 86_400_000;

/**
 * `new Date(t).toISOString()`, written out by hand for the years 0-9999 (Date's own takes
 * ~0.45 µs, the largest part of a date field's mapping); other times, and an invalid one,
 * go to Date. Days to a civil date as in Howard Hinnant's `civil_from_days`.
 */
export function isoString(t: number): string {
  if (!(t >= -62_167_219_200_000 && t <= 253_402_300_799_999) || !Number.isInteger(t)) return new Date(t).toISOString();
  const days = Math.floor(t / MS_PER_DAY);
  let ms = t - days * MS_PER_DAY;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(ms / 3_600_000);
  ms -= hour * 3_600_000;
  const minute = Math.floor(ms / 60_000);
  ms -= minute * 60_000;
  const second = Math.floor(ms / 1000);
  ms -= second * 1000;
  // One flat string from its character codes: a template of fifteen parts made as many
  // intermediate strings (~0.35 KB a date, four dates an order).
  return String.fromCharCode(
    ZERO + Math.floor(year / 1000), ZERO + (Math.floor(year / 100) % 10), ZERO + (Math.floor(year / 10) % 10), ZERO + (year % 10), DASH,
    ZERO + Math.floor(month / 10), ZERO + (month % 10), DASH, ZERO + Math.floor(day / 10), ZERO + (day % 10), LETTER_T,
    ZERO + Math.floor(hour / 10), ZERO + (hour % 10), COLON, ZERO + Math.floor(minute / 10), ZERO + (minute % 10), COLON,
    ZERO + Math.floor(second / 10), ZERO + (second % 10), DOT, ZERO + Math.floor(ms / 100), ZERO + (Math.floor(ms / 10) % 10), ZERO + (ms % 10), LETTER_Z,
  );
}

const tooLargeForJson = (amount: string | number, currency: string) => new Error(`${amount} ${currency} is too large for a JSON number of minor units`);

/** The functions JSONata lacks, registered on every expression. */
export const HUB_FUNCTIONS = ['toMinor', 'fromMinor', 'money', 'exactMoney', 'sumMoney', 'isoUtc', 'status'];

function registerFunctions(expr: jsonata.Expression, ctx: MappingContext): void {
  expr.registerFunction('toMinor', (amount: string | number | undefined, currency: string) => {
    if (amount === undefined || amount === null) return undefined;
    return toMinorNumber(amount, currency, tooLargeForJson);
  }, '<(sn)s:n>');
  expr.registerFunction('fromMinor', (minor: number | string | undefined, currency: string) =>
    minor === undefined || minor === null ? undefined : fromMinorUnits(typeof minor === 'number' ? minor : String(minor), currency), '<(ns)s:s>');
  expr.registerFunction('money', (amount: string | number | undefined, currency: string) =>
    amount === undefined || amount === null || amount === '' ? undefined : normalizeAmount(amount, currency), '<(sn)s:s>');
  // For amounts that are only informative (a line's unit price): the amount when it is exact in
  // the currency, else nothing, so a source that keeps more decimals (Odoo, Magento, Dataverse
  // prices) never fails a record whose totals are right. Totals use $money, which refuses.
  expr.registerFunction('exactMoney', (amount: string | number | undefined, currency: string) => {
    if (amount === undefined || amount === null || amount === '') return undefined;
    try {
      return normalizeAmount(amount, currency);
    } catch {
      return undefined;
    }
  }, '<(sn)s:s>');
  expr.registerFunction('sumMoney', (amounts: (string | number)[] | string | number | undefined, currency: string) => {
    return sumAmounts(currency, amounts === undefined ? [] : Array.isArray(amounts) ? amounts : [amounts], true);
  }, '<(asn)s:s>');
  expr.registerFunction('isoUtc', (value: unknown) => toIsoUtc(value), '<j:s>');
  expr.registerFunction('status', (value: string | undefined, kind: 'order' | 'payment' = 'order') => {
    if (value === undefined || value === null) return undefined;
    const table = ctx.statusMap?.[kind];
    const canonical = table?.[String(value)];
    if (!canonical) throw new Error(`${ctx.connector ?? 'this connector'} has no canonical ${kind} status for "${value}"`);
    return canonical;
  }, '<s?s?:s>');
}

let natives: Promise<Record<string, { implementation: (...args: unknown[]) => unknown; signature?: { definition?: string } }>> | undefined;

/**
 * The size limits (./limits.ts) on jsonata's interpreter: the built-ins that can be sized
 * from their arguments are wrapped to check them first, and jsonata's evaluation hook checks
 * what each function call and `&` produced, and the operands of `&` and `..` before they are
 * combined. The hook sees every node; the roles are looked up from the parsed tree.
 */
async function guardInterpreter(expr: jsonata.Expression, limits: SizeLimits): Promise<void> {
  natives ??= functionObjects(jsonata(functionTableSource([...CHECKED_BUILTINS, 'distinct'])), [...CHECKED_BUILTINS, 'distinct']) as never;
  const fns = await natives;
  expr.registerFunction('distinct', function (this: unknown, arr: unknown) {
    return distinctLinear(arr, () => (this as { createSequence: () => unknown[] }).createSequence(), deepEqual);
  }, fns.distinct.signature?.definition);
  for (const name of CHECKED_BUILTINS) {
    const native = fns[name];
    expr.registerFunction(name, function (this: unknown, ...args: unknown[]) {
      const pending = checkArguments(name, args, limits, substitute);
      // $replace with a regex: jsonata hands a native function its regex as an async closure, so the count waits for the first match.
      if (pending) return pending.then(() => native.implementation.apply(this, args));
      return native.implementation.apply(this, args);
    }, native.signature?.definition);
  }
  const produced = new Map<object, string>();
  const operands = new Map<object, { parent: any; side: 'lhs' | 'rhs' }>();
  const seen = new Set<object>();
  const walk = (node: any, thunkBody = false): void => {
    if (node === null || typeof node !== 'object' || seen.has(node) || node instanceof RegExp) return;
    seen.add(node);
    const what = producerName(node);
    // A call in tail position runs inside jsonata's apply loop, not through evaluate: its result is checked where the lambda was called.
    if (what && !thunkBody) produced.set(node, what);
    if (node.type === 'binary' && (node.value === '&' || node.value === '..')) {
      operands.set(node.lhs, { parent: node, side: 'lhs' });
      operands.set(node.rhs, { parent: node, side: 'rhs' });
    }
    for (const [k, v] of Object.entries(node)) walk(v, node.type === 'lambda' && node.thunk === true && k === 'body');
  };
  walk(expr.ast());
  // The left operand's value until the right one is known, per evaluation frame (evaluations of one expression interleave).
  const pending = new WeakMap<object, Map<object, unknown>>();
  expr.assign(Symbol.for('jsonata.__evaluate_exit') as unknown as string, (node: any, _input: unknown, env: object, result: any) => {
    const what = produced.get(node);
    const operand = operands.get(node);
    if (!what && !operand) return;
    const value = settle(node, result);
    try {
      if (what) checkProduced(value, limits, what);
      if (operand?.side === 'lhs') {
        let m = pending.get(env);
        if (!m) pending.set(env, (m = new Map()));
        m.set(operand.parent, value);
      } else if (operand) {
        const m = pending.get(env);
        const lhs = m?.get(operand.parent);
        m?.delete(operand.parent);
        if (operand.parent.value === '&') checkConcat(lhs, value, limits);
        else checkRange(lhs, value, limits);
      }
    } catch (err) {
      (err as JsonataError).position ??= (what ? node : operand!.parent).position;
      throw err;
    }
  });
}

/** A node's value as jsonata's evaluate() hands it on: an empty sequence is nothing, a singleton its item. */
function settle(node: any, result: any): unknown {
  if (result && Array.isArray(result) && (result as any).sequence === true && !(result as any).tupleStream) {
    if (result.length === 0) return undefined;
    if (result.length === 1) return node.keepArray || (result as any).keepSingleton ? result : result[0];
  }
  return result;
}

export interface CompiledMapping {
  readonly file: string;
  /** Maps one record; throws MappingError with file and JSONata code. */
  evaluate(input: unknown, extra?: Record<string, unknown>): Promise<unknown>;
  /** Which evaluator this mapping runs on (known after the first evaluation). */
  engine(): Promise<'compiled' | 'interpreter'>;
  /** Records the compiled form handed to the interpreter, and the latest reason. */
  fallbacks(): { count: number; last?: string };
}

/** The compiled form of an expression, or null when it needs the interpreter. */
async function compiledForm(expr: jsonata.Expression, ctx: MappingContext): Promise<CompiledExpression | null> {
  try {
    const probe = jsonata(functionTableSource(HUB_FUNCTIONS));
    registerFunctions(probe, ctx);
    return await compileExpression(expr.ast(), await functionObjects(probe, HUB_FUNCTIONS));
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
}

/**
 * Compiles a JSONata mapping once. Evaluation is bounded (timeout and stack depth),
 * so one bad record cannot stall a worker.
 */
export function compileMapping(source: string, file: string, ctx: MappingContext = {}, limits: Partial<MappingLimits> = {}): CompiledMapping {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  let expr: jsonata.Expression;
  try {
    expr = jsonata(source, { timeout: lim.timeoutMs, stack: lim.maxDepth, RegexEngine: CheckedRegExp } as Parameters<typeof jsonata>[1]);
  } catch (err) {
    throw describe(err as JsonataError, file, source, 'does not compile');
  }
  for (const re of regexLiterals(expr.ast())) {
    const reason = catastrophicRegex(re.value.source);
    if (reason) throw describe({ position: re.position, message: regexRefusal(re.value, reason) }, file, source, 'does not compile');
  }
  registerFunctions(expr, ctx);
  const guarded = guardInterpreter(expr, lim);
  const bindings = { conn: ctx.options ?? {}, connection: ctx.connection ?? '' };
  let compiled: Promise<CompiledExpression | null> | undefined;
  const fallbacks = { count: 0, last: undefined as string | undefined };
  let evaluated = 0;
  const verify = async (out: unknown, input: unknown, vars: Record<string, unknown>) => {
    let expected: unknown;
    try {
      expected = compact(await expr.evaluate(input, vars));
    } catch (err) {
      throw new MappingError(`${file}: the compiled evaluator answered where jsonata fails (${(err as Error).message ?? (err as JsonataError).code})`, { file });
    }
    if (!isDeepStrictEqual(out, expected)) {
      throw new MappingError(`${file}: the compiled evaluator disagrees with jsonata: ${JSON.stringify(out)} instead of ${JSON.stringify(expected)}`, { file });
    }
  };
  const fast = () => (compiled ??= lim.engine !== 'interpreter' ? compiledForm(expr, ctx) : Promise.resolve(null));
  // The compiled form once known (null: the interpreter), so a record does not wait on two settled promises.
  let ready: CompiledExpression | null | undefined;
  const prepare = async () => {
    await guarded;
    return (ready = await fast());
  };
  return {
    file,
    async evaluate(input, extra) {
      const vars = extra ? { ...bindings, ...extra } : bindings;
      let fellBack: Fallback | undefined;
      const form = ready !== undefined ? ready : await prepare();
      if (form) {
        try {
          const out = compact(form.run(input, vars, lim));
          if (lim.engine === 'verify' && (++evaluated <= VERIFY_ALL || evaluated % VERIFY_EVERY === 0)) await verify(out, input, vars);
          return out;
        } catch (err) {
          if (err instanceof CompiledTimeout) throw describe(err, file, source, 'failed on this record');
          if (!(err instanceof Fallback)) throw err;
          fallbacks.count++;
          fallbacks.last = err.message;
          fellBack = err;
          // Anything the compiled form does not handle, errors included: the interpreter decides.
        }
      }
      try {
        const out = await expr.evaluate(input, vars);
        return compact(out);
      } catch (err) {
        const failure = err as JsonataError;
        // The interpreter's error carries jsonata's message for the code the compiled form stopped on.
        if (fellBack?.code && failure.code === fellBack.code && failure.message) fallbacks.last = `${failure.code}: ${failure.message}`;
        throw describe(failure, file, source, 'failed on this record');
      }
    },
    async engine() {
      return (await fast()) ? 'compiled' : 'interpreter';
    },
    fallbacks: () => ({ ...fallbacks }),
  };
}

export function loadMapping(file: string, ctx: MappingContext = {}, limits?: Partial<MappingLimits>): CompiledMapping {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MappingError(`${file}: cannot read mapping: ${(err as Error).message}`, { file });
  }
  return compileMapping(source, file, ctx, limits);
}

export function defaultMappingFile(connector: string, entity: Entity, direction: Direction): string {
  return path.join(DEFAULT_MAPPINGS_DIR, connector, `${entity}.${direction}.jsonata`);
}
