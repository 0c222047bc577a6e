import { SENSITIVE_PATHS } from '../core/crypto.js';
import type { Entity } from '../core/canonical/schemas.js';
import { PersonalValues, emailSpans, isPersonalKey, scrubDeep, scrubThrown } from '../core/redact.js';

/**
 * Masking for what admins see: enough to recognise a record (first letter, an
 * email's domain), not the personal data itself. Two layers, both applied to every
 * answer built from a real record:
 *
 * - by field: the canonical schema's x-sensitive fields, the connector's declared
 *   `personalFields`, and any field whose name says it is personal (isPersonalKey);
 * - by value: every occurrence of the record's personal values, and anything email- or
 *   phone-shaped, in any string of the answer (an expression may copy a value anywhere,
 *   an error message may quote it). See src/core/redact.ts.
 */
export function maskValue(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'string') {
    if (!value || isMasked(value)) return value;
    // Only a value that is one email address, and nothing else, keeps its domain.
    const [span] = emailSpans(value);
    if (span && span[0] === 0 && span[1] === value.length) return `${value[0]}***${value.slice(value.lastIndexOf('@'))}`;
    return `${[...value][0]}***`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return '***';
  if (Array.isArray(value)) return value.map(maskValue);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v)]));
  return '***';
}

/** Masked already (the layers overlap: a field may be both declared and named personal). */
function isMasked(value: string): boolean {
  if (value === '***') return true;
  const first = [...value.slice(0, 2)][0].length;
  return value.startsWith('***', first) && (value.length === first + 3 || value[first + 3] === '@');
}

/** Masks fields with personal-looking names, at any depth. */
function maskByName(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskByName);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isPersonalKey(k) ? maskValue(v) : maskByName(v)]));
  }
  return value;
}

/** Masks what lies under dot-separated paths (arrays on the way entered element by element, `*` every key). */
function maskAt(target: unknown, steps: readonly string[]): unknown {
  if (target === null || typeof target !== 'object') return target;
  if (Array.isArray(target)) return target.map((t) => maskAt(t, steps));
  const [step, ...rest] = steps;
  const obj = target as Record<string, unknown>;
  if (step === '*') return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, rest.length ? maskAt(v, rest) : maskValue(v)]));
  if (!Object.hasOwn(obj, step)) return target;
  return { ...obj, [step]: rest.length ? maskAt(obj[step], rest) : maskValue(obj[step]) };
}

function maskPaths(record: unknown, paths: readonly string[]): unknown {
  let out = record;
  for (const p of paths) out = maskAt(out, p.split('.'));
  return out;
}

/** Masks the fields the canonical schema marks x-sensitive. */
export function maskCanonical(entity: Entity, record: unknown): unknown {
  let out = record;
  for (const path of SENSITIVE_PATHS[entity]) out = maskAt(out, path);
  return out;
}

/** What an answer built from one real record is masked with. */
export interface MaskScope {
  /** The record's personal values (and those of the records derived from it). */
  values: PersonalValues;
  /** personalFields of the connector whose shape a raw record has. */
  paths?: readonly string[];
}

/** The personal values of a record in a connector's shape, and of its canonical form when known. */
export function personalValuesOf(raw: unknown, paths: readonly string[], canonical?: { entity: Entity; record: unknown }): PersonalValues {
  const values = new PersonalValues().addPaths(raw, paths);
  if (canonical) values.addCanonical(canonical.entity, canonical.record);
  return values;
}

/** A record in an API's shape, masked by field (declared and by name) and by value. */
export function maskRawRecord(value: unknown, scope: MaskScope): unknown {
  return scrubDeep(maskByName(maskPaths(value, scope.paths ?? [])), scope.values);
}

/** A canonical record, masked by its schema, by field name and by value. */
export function maskCanonicalRecord(entity: Entity, value: unknown, scope: MaskScope): unknown {
  return scrubDeep(maskByName(maskCanonical(entity, value)), scope.values);
}

/** Anything else an answer carries (an error's JSON, a message): masked by value. */
export function maskText<T>(value: T, scope: MaskScope): T {
  return scrubDeep(value, scope.values) as T;
}

/** A thrown error on its way to an admin answer: message and details scrubbed in place. */
export function maskThrown<T>(err: T, scope: MaskScope): T {
  return scrubThrown(err, scope.values);
}
