import { Ajv } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import { ValidationError } from '../errors.js';
import { canonicalSchemas, type Entity } from './schemas.js';

// ajv-formats is CommonJS: its plugin function sits on `default` under ESM interop.
export const addFormats = ajvFormats.default as unknown as (ajv: Ajv) => Ajv;

/** AJV instance for the canonical model, compiled once per process. */
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, keywords: ['x-sensitive'] });
addFormats(ajv);

const validators = Object.fromEntries(
  Object.entries(canonicalSchemas).map(([entity, schema]) => [entity, ajv.compile(schema)]),
) as Record<Entity, ReturnType<typeof ajv.compile>>;

export interface FieldProblem {
  path: string;
  message: string;
}

/** Validates a canonical record; returns the problems (empty when valid). */
export function canonicalProblems(entity: Entity, record: unknown): FieldProblem[] {
  const validate = validators[entity];
  if (validate(record)) return [];
  return (validate.errors ?? []).map((e) => ({
    path: e.instancePath || '/',
    message: e.keyword === 'additionalProperties'
      ? `has unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`
      : e.message ?? 'is invalid',
  }));
}

export function assertCanonical(entity: Entity, record: unknown): void {
  const problems = canonicalProblems(entity, record);
  if (problems.length) throw new ValidationError(entity, problems);
}
