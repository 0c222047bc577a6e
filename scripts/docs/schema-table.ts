/**
 * JSON Schema → Markdown tables for the docs (`npm run docs`). The schemas that validate the
 * config are the one place where descriptions, defaults and examples live; these tables only
 * show them (Redpanda Connect's component docs are built the same way).
 */
import type { JsonSchema } from '../../src/connectors/types.js';

export interface SchemaRow {
  path: string;
  type: string;
  required: string;
  default: string;
  description: string;
}

const code = (v: unknown): string => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

/** A table cell: one line, pipes escaped. */
function cell(text: string): string {
  // Outside code spans `<name>` would be read as an HTML tag and vanish.
  const escaped = text.split('`').map((part, i) => (i % 2 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;'))).join('`');
  return escaped.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|').trim();
}

function typeOf(s: JsonSchema): string {
  const parts: string[] = [];
  if (s.const !== undefined) return `${code(s.const)}`;
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map(code).join(' | ');
  const t = s.type;
  if (Array.isArray(t)) parts.push(t.join(' or '));
  else if (typeof t === 'string') parts.push(t === 'array' && s.items && typeof s.items === 'object' ? `array of ${typeOf(s.items as JsonSchema)}` : t);
  else if (s.properties || s.additionalProperties) parts.push('object');
  else parts.push('any');
  const min = s.minimum ?? s.minLength ?? s.minItems ?? s.minProperties;
  const max = s.maximum ?? s.maxLength ?? s.maxItems;
  if (min !== undefined && max !== undefined) parts.push(`${min}–${max}`);
  else if (min !== undefined) parts.push(`≥ ${min}`);
  else if (max !== undefined) parts.push(`≤ ${max}`);
  if (typeof s.pattern === 'string') parts.push(`pattern ${code(s.pattern)}`);
  if (typeof s.format === 'string') parts.push(`format ${s.format}`);
  return parts.join(', ');
}

function describe(s: JsonSchema): string {
  const text = typeof s.description === 'string' ? s.description : '';
  const examples = Array.isArray(s.examples) && s.examples.length ? `Example: ${(s.examples as unknown[]).map(code).join(', ')}` : '';
  return [text, examples].filter(Boolean).join('. ').replace(/\.\. /g, '. ');
}

function isObjectSchema(s: unknown): s is JsonSchema {
  return Boolean(s) && typeof s === 'object' && !Array.isArray(s);
}

/**
 * Rows for every property under `schema`, depth first, named by dotted path: `<name>` stands for
 * a key you choose (a map's additionalProperties), `[]` for an array's items, and the variants of
 * an `allOf: [{ if: { type: const }, then }]` are listed under their `type`.
 */
export function schemaRows(schema: JsonSchema, prefix = '', when = ''): SchemaRow[] {
  const rows: SchemaRow[] = [];
  const required = new Set<string>(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const properties = isObjectSchema(schema.properties) ? (schema.properties as Record<string, JsonSchema>) : {};
  for (const [name, prop] of Object.entries(properties)) {
    const path = prefix ? `${prefix}.${name}` : name;
    rows.push({
      path,
      type: typeOf(prop),
      required: required.has(name) ? (when ? `yes (${when})` : 'yes') : '',
      default: prop.default !== undefined ? code(prop.default) : '',
      description: describe(prop),
    });
    rows.push(...nestedRows(prop, path));
  }
  for (const part of Array.isArray(schema.allOf) ? (schema.allOf as JsonSchema[]) : []) {
    const variant = (part.if as JsonSchema | undefined)?.properties as Record<string, JsonSchema> | undefined;
    const [[key, cond] = []] = Object.entries(variant ?? {});
    if (!key || !isObjectSchema(part.then) || (cond as JsonSchema).const === undefined) continue;
    const label = `${key}: ${String((cond as JsonSchema).const)}`;
    for (const row of schemaRows({ ...part.then, properties: withoutKey(part.then.properties, key) }, prefix, label)) {
      rows.push({ ...row, description: `(${label}) ${row.description}`.trim() });
    }
  }
  return rows;
}

function withoutKey(properties: unknown, key: string): Record<string, unknown> {
  const { [key]: _omit, ...rest } = (properties ?? {}) as Record<string, unknown>;
  return rest;
}

function nestedRows(prop: JsonSchema, path: string): SchemaRow[] {
  if (isObjectSchema(prop.properties) || Array.isArray(prop.allOf)) return schemaRows(prop, path);
  if (isObjectSchema(prop.additionalProperties)) {
    const inner = prop.additionalProperties as JsonSchema;
    return isObjectSchema(inner.properties) || Array.isArray(inner.allOf) ? schemaRows(inner, `${path}.<name>`) : [];
  }
  if (prop.type === 'array' && isObjectSchema(prop.items)) {
    const items = prop.items as JsonSchema;
    return isObjectSchema(items.properties) || Array.isArray(items.allOf) ? schemaRows(items, `${path}[]`) : [];
  }
  return [];
}

export function rowsTable(rows: SchemaRow[]): string {
  const lines = ['| field | type | required | default | description |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| \`${r.path}\` | ${cell(r.type)} | ${cell(r.required)} | ${cell(r.default)} | ${cell(r.description)} |`);
  return lines.join('\n');
}

/**
 * What a credentials schema says about valid combinations beyond `required`: its own
 * description, `dependencies` (a field that needs others) and `anyOf` / `oneOf` alternatives.
 */
export function combinationLines(schema: JsonSchema): string[] {
  const lines: string[] = [];
  if (typeof schema.description === 'string') lines.push(schema.description);
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  if (required.length) lines.push(`Always required: ${required.map(code).join(', ')}.`);
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const alternatives = schema[keyword];
    if (!Array.isArray(alternatives)) continue;
    const sets = (alternatives as JsonSchema[]).map((a) => (Array.isArray(a.required) ? (a.required as string[]).map(code).join(' + ') : '')).filter(Boolean);
    if (sets.length) lines.push(`${keyword === 'oneOf' ? 'Exactly one of' : 'At least one of'}: ${sets.join('; or ')}.`);
  }
  const deps = isObjectSchema(schema.dependencies) ? (schema.dependencies as Record<string, unknown>) : {};
  for (const [field, needs] of Object.entries(deps)) {
    if (Array.isArray(needs)) lines.push(`${code(field)} requires ${needs.map(code).join(' and ')}.`);
  }
  return lines;
}
