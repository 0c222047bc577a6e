import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import jsonata from 'jsonata';
import type { Entity, OrderStatus, PaymentStatus } from '../core/canonical/schemas.js';
import { MappingError } from '../core/errors.js';
import { fromMinorUnits, normalizeAmount, toMinorUnits, addAmounts } from '../core/money.js';

/** Where each connector's default mappings live: src/mappings/<connector>/<entity>.<in|out>.jsonata */
export const DEFAULT_MAPPINGS_DIR = path.dirname(fileURLToPath(import.meta.url));

export type Direction = 'in' | 'out';

export interface MappingLimits {
  /** JSONata evaluation timeout per record (ms). Default 1000. */
  timeoutMs: number;
  /** Maximum evaluation stack depth. Default 500. */
  maxDepth: number;
}

const DEFAULT_LIMITS: MappingLimits = { timeoutMs: 1000, maxDepth: 500 };

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
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined).map(compact);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === null || v === undefined || typeof v === 'function') continue;
      out[k] = compact(v);
    }
    return out;
  }
  return value;
}

function toIsoUtc(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const t = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : Date.parse(String(value));
  if (!Number.isFinite(t)) throw new Error(`not a date: ${JSON.stringify(value)}`);
  return new Date(t).toISOString();
}

/** The functions JSONata lacks, registered on every expression. */
function registerFunctions(expr: jsonata.Expression, ctx: MappingContext): void {
  expr.registerFunction('toMinor', (amount: string | number | undefined, currency: string) => {
    if (amount === undefined || amount === null) return undefined;
    const minor = toMinorUnits(amount, currency);
    if (minor > BigInt(Number.MAX_SAFE_INTEGER) || minor < -BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${amount} ${currency} is too large for a JSON number of minor units`);
    return Number(minor);
  }, '<(sn)s:n>');
  expr.registerFunction('fromMinor', (minor: number | string | undefined, currency: string) =>
    minor === undefined || minor === null ? undefined : fromMinorUnits(typeof minor === 'number' ? minor : String(minor), currency), '<(ns)s:s>');
  expr.registerFunction('money', (amount: string | number | undefined, currency: string) =>
    amount === undefined || amount === null || amount === '' ? undefined : normalizeAmount(amount, currency), '<(sn)s:s>');
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
  return {
    file,
    async evaluate(input, extra) {
      try {
        const out = await expr.evaluate(input, extra ? { ...bindings, ...extra } : bindings);
        return compact(out);
      } catch (err) {
        throw describe(err as JsonataError, file, source, 'failed on this record');
      }
    },
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
