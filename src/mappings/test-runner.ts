import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { canonicalProblems } from '../core/canonical/validate.js';
import { ENTITIES, type Entity } from '../core/canonical/schemas.js';
import { SynchubError } from '../core/errors.js';
import { getConnector } from '../connectors/registry.js';
import { loadMapping, type CompiledMapping } from './engine.js';
import { describeDifferences } from './test-diff.js';

/**
 * Mapping tests kept beside the mappings: `order.in.test.yaml` tests `order.in.jsonata`.
 *
 *   connector: shopify          # whose $status() tables the mapping reads; default: the folder's name
 *   entity: order               # validate the output as this canonical entity; default: from the file
 *                               # name for `.in` mappings (`out` mappings produce the target's shape)
 *   context: { connection: shop, options: { … } }   # $connection and $conn
 *   cases:
 *     - name: a paid order
 *       input: { … }            # or inputFile: path relative to the test file
 *       expect: { … }           # the whole output, exactly; or
 *       match: { … }            # only the fields given (arrays by position, same length); or
 *       error: mapping_failed   # the error code expected (mapping_failed, validation_failed)
 *
 * Run by `synchub test [PATH…]` and by `npm test` for the default mappings.
 */

export interface CaseResult {
  file: string;
  name: string;
  ok: boolean;
  /** Why it failed: one line per difference, or the problem with the test itself. */
  problems: string[];
}

const CASE_KEYS = new Set(['name', 'input', 'inputFile', 'expect', 'match', 'error']);
const FILE_KEYS = new Set(['mapping', 'connector', 'entity', 'context', 'cases']);
/** A test file is read whole: it is the user's own, but still bounded. */
const MAX_TEST_FILE_BYTES = 4 * 1024 * 1024;

/** Every `*.test.yaml` below the given files and folders, sorted; node_modules and dot-folders are passed over. */
export function findMappingTests(paths: string[]): string[] {
  const found: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (name === 'node_modules' || name.startsWith('.')) continue;
        walk(path.join(p, name));
      }
    } else if (p.endsWith('.test.yaml') || p.endsWith('.test.yml')) {
      found.push(p);
    }
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new Error(`${p}: no such file or folder`);
    walk(p);
  }
  return found;
}

interface TestFile {
  file: string;
  mapping: CompiledMapping;
  entity?: Entity;
  cases: Record<string, unknown>[];
}

/** Reads one test file and compiles its mapping; a problem with the file itself is thrown with the file's name and line. */
function readTestFile(file: string): TestFile {
  if (statSync(file).size > MAX_TEST_FILE_BYTES) throw new Error(`${file}: larger than ${MAX_TEST_FILE_BYTES} bytes`);
  const doc = YAML.parseDocument(readFileSync(file, 'utf8'), { prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new Error(`${file}:${e.linePos?.[0]?.line ?? '?'}:${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]}`);
  }
  const spec = doc.toJS() as Record<string, unknown> | null;
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new Error(`${file}: expected a mapping with \`cases\``);
  for (const k of Object.keys(spec)) if (!FILE_KEYS.has(k)) throw new Error(`${file}: unknown key \`${k}\` (expected ${[...FILE_KEYS].join(', ')})`);
  if (!Array.isArray(spec.cases) || spec.cases.length === 0) throw new Error(`${file}: \`cases\` must be a non-empty list`);

  const base = path.basename(file).replace(/\.test\.ya?ml$/, '');
  const mappingFile = path.resolve(path.dirname(file), typeof spec.mapping === 'string' ? spec.mapping : `${base}.jsonata`);
  const connectorId = typeof spec.connector === 'string' ? spec.connector : path.basename(path.dirname(mappingFile));
  const def = getConnector(connectorId);
  if (typeof spec.connector === 'string' && !def) throw new Error(`${file}: connector: unknown connector "${spec.connector}"`);

  const [entityPart, direction] = path.basename(mappingFile, '.jsonata').split('.');
  let entity: Entity | undefined;
  if (typeof spec.entity === 'string') {
    if (!ENTITIES.includes(spec.entity as Entity)) throw new Error(`${file}: entity: must be one of ${ENTITIES.join(', ')}`);
    entity = spec.entity as Entity;
  } else if (direction === 'in' && ENTITIES.includes(entityPart as Entity)) {
    entity = entityPart as Entity;
  }

  const context = (spec.context ?? {}) as { connection?: string; options?: Record<string, unknown> };
  const mapping = loadMapping(mappingFile, {
    connection: context.connection, connector: def?.id, statusMap: def?.statusMap, options: context.options ?? {},
  });
  return { file, mapping, entity, cases: spec.cases as Record<string, unknown>[] };
}

function caseInput(file: string, c: Record<string, unknown>): unknown {
  if (c.inputFile !== undefined) {
    if (typeof c.inputFile !== 'string') throw new Error('inputFile must be a path');
    const p = path.resolve(path.dirname(file), c.inputFile);
    try {
      return JSON.parse(readFileSync(p, 'utf8'));
    } catch (err) {
      throw new Error(`inputFile ${c.inputFile}: ${(err as Error).message}`);
    }
  }
  if (!('input' in c)) throw new Error('needs `input` or `inputFile`');
  return c.input;
}

async function runCase(t: TestFile, c: Record<string, unknown>, index: number): Promise<CaseResult> {
  const name = typeof c?.name === 'string' ? c.name : `case ${index + 1}`;
  const result = (problems: string[]): CaseResult => ({ file: t.file, name, ok: problems.length === 0, problems });
  if (!c || typeof c !== 'object' || Array.isArray(c)) return result(['a case must be a mapping with input and expect, match or error']);
  const unknown = Object.keys(c).filter((k) => !CASE_KEYS.has(k));
  if (unknown.length) return result([`unknown key(s) ${unknown.map((k) => `\`${k}\``).join(', ')} (expected ${[...CASE_KEYS].join(', ')})`]);
  const wants = ['expect', 'match', 'error'].filter((k) => k in c);
  if (wants.length !== 1) return result(['give exactly one of `expect`, `match` or `error`']);

  let input: unknown;
  try {
    input = caseInput(t.file, c);
  } catch (err) {
    return result([(err as Error).message]);
  }
  let output: unknown;
  try {
    output = await t.mapping.evaluate(input);
    if (t.entity) {
      const problems = canonicalProblems(t.entity, output);
      if (problems.length) {
        throw new SynchubError('validation_failed', `not a valid canonical ${t.entity}: ${problems.map((p) => `${p.path || '/'} ${p.message}`).join('; ')}`);
      }
    }
  } catch (err) {
    const code = err instanceof SynchubError ? err.code : 'error';
    if (c.error !== undefined) return result(code === c.error ? [] : [`expected error ${String(c.error)}, got ${code}: ${(err as Error).message}`]);
    return result([`${code}: ${(err as Error).message}`]);
  }
  if (c.error !== undefined) return result([`expected error ${String(c.error)}, but the mapping answered ${JSON.stringify(output)}`]);
  return result(describeDifferences(c.expect ?? c.match, output, { partial: 'match' in c }));
}

/** Runs every case of every file; a file that cannot be read or compiled counts as one failed case. */
export async function runMappingTests(files: string[]): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const file of files) {
    let t: TestFile;
    try {
      t = readTestFile(file);
    } catch (err) {
      results.push({ file, name: '(file)', ok: false, problems: [(err as Error).message] });
      continue;
    }
    for (let i = 0; i < t.cases.length; i++) results.push(await runCase(t, t.cases[i], i));
  }
  return results;
}

/** What `synchub test` prints: each failure with its differences, then the counts. */
export function formatMappingTestResults(results: CaseResult[], cwd = process.cwd()): string {
  const lines: string[] = [];
  for (const r of results) {
    const rel = path.relative(cwd, r.file);
    const where = `${rel && !rel.startsWith('..') ? rel : r.file} › ${r.name}`;
    if (r.ok) {
      lines.push(`ok    ${where}`);
      continue;
    }
    lines.push(`FAIL  ${where}`);
    for (const p of r.problems) lines.push(`        ${p}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  lines.push('', `${results.length - failed} passed, ${failed} failed`);
  return lines.join('\n');
}
