import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import jsonata from 'jsonata';
import type { Entity, OrderStatus, PaymentStatus } from '../core/canonical/schemas.js';
import { MappingError } from '../core/errors.js';
import { fromMinorUnits, normalizeAmount, toMinorUnits, addAmounts } from '../core/money.js';
import { compileExpression, CompiledTimeout, Fallback, functionObjects, functionTableSource, Unsupported, type CompiledExpression } from './compiled.js';

/** Where each connector's default mappings live: src/mappings/<connector>/<entity>.<in|out>.jsonata */
export const DEFAULT_MAPPINGS_DIR = path.dirname(fileURLToPath(import.meta.url));

export type Direction = 'in' | 'out';

export interface MappingLimits {
  /** JSONata evaluation timeout per record (ms). Default 1000. */
  timeoutMs: number;
  /** Maximum evaluation stack depth. Default 500. */
  maxDepth: number;
  /**
   * `compiled` (default): expressions the compiled evaluator covers run synchronously
   * (src/mappings/compiled.ts), the rest and every error through jsonata's interpreter.
   * `interpreter`: jsonata's interpreter only. `verify` (the test suite's setting): both,
   * and a record on which they disagree fails loudly. SYNCHUB_MAPPING_ENGINE sets the default.
   */
  engine: 'compiled' | 'interpreter' | 'verify';
}

const ENGINES = ['compiled', 'interpreter', 'verify'] as const;
const engineFromEnv = (value: string | undefined): MappingLimits['engine'] => {
  if (value === undefined || value === '') return 'compiled';
  if (!(ENGINES as readonly string[]).includes(value)) throw new Error(`SYNCHUB_MAPPING_ENGINE must be one of ${ENGINES.join(', ')}, not "${value}"`);
  return value as MappingLimits['engine'];
};

const DEFAULT_LIMITS: MappingLimits = {
  timeoutMs: 1000,
  maxDepth: 500,
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

/** JSON-safe copy without null/undefined values, so an absent API field is an absent canonical field. */
export function compact(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v !== null && v !== undefined) out.push(compact(v));
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const v = (value as Record<string, unknown>)[keys[i]];
    if (v === null || v === undefined || typeof v === 'function') continue;
    out[keys[i]] = compact(v);
  }
  return out;
}

function toIsoUtc(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const t = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : Date.parse(String(value));
  if (!Number.isFinite(t)) throw new Error(`not a date: ${JSON.stringify(value)}`);
  return isoString(t);
}

const TWO = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
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
  return `${TWO[Math.floor(year / 100)]}${TWO[year % 100]}-${TWO[month]}-${TWO[day]}T${TWO[hour]}:${TWO[minute]}:${TWO[second]}.${THREE[ms]}Z`;
}

const MAX_SAFE_MINOR = BigInt(Number.MAX_SAFE_INTEGER);

/** The functions JSONata lacks, registered on every expression. */
export const HUB_FUNCTIONS = ['toMinor', 'fromMinor', 'money', 'exactMoney', 'sumMoney', 'isoUtc', 'status'];

function registerFunctions(expr: jsonata.Expression, ctx: MappingContext): void {
  expr.registerFunction('toMinor', (amount: string | number | undefined, currency: string) => {
    if (amount === undefined || amount === null) return undefined;
    const minor = toMinorUnits(amount, currency);
    if (minor > MAX_SAFE_MINOR || minor < -MAX_SAFE_MINOR) throw new Error(`${amount} ${currency} is too large for a JSON number of minor units`);
    return Number(minor);
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
    const list = amounts === undefined ? [] : Array.isArray(amounts) ? amounts : [amounts];
    return addAmounts(currency, ...list.filter((a) => a !== null && a !== undefined && a !== ''));
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
    expr = jsonata(source, { timeout: lim.timeoutMs, stack: lim.maxDepth } as Parameters<typeof jsonata>[1]);
  } catch (err) {
    throw describe(err as JsonataError, file, source, 'does not compile');
  }
  registerFunctions(expr, ctx);
  const bindings = { conn: ctx.options ?? {}, connection: ctx.connection ?? '' };
  let compiled: Promise<CompiledExpression | null> | undefined;
  const fallbacks = { count: 0, last: undefined as string | undefined };
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
  return {
    file,
    async evaluate(input, extra) {
      const vars = extra ? { ...bindings, ...extra } : bindings;
      const form = await fast();
      if (form) {
        try {
          const out = compact(form.run(input, vars, lim));
          if (lim.engine === 'verify') await verify(out, input, vars);
          return out;
        } catch (err) {
          if (err instanceof CompiledTimeout) throw describe(err, file, source, 'failed on this record');
          if (!(err instanceof Fallback)) throw err;
          fallbacks.count++;
          fallbacks.last = err.message;
          // Anything the compiled form does not handle, errors included: the interpreter decides.
        }
      }
      try {
        const out = await expr.evaluate(input, vars);
        return compact(out);
      } catch (err) {
        throw describe(err as JsonataError, file, source, 'failed on this record');
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
