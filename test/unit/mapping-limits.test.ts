import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ConfigError, MappingError } from '../../src/core/errors.js';
import { generateKeySpec } from '../../src/core/crypto.js';
import { compileExpression, Fallback } from '../../src/mappings/compiled.js';
import { compileMapping, type MappingLimits } from '../../src/mappings/engine.js';
import { DEFAULT_SIZE_LIMITS } from '../../src/mappings/limits.js';

const MILLION = 'x'.repeat(1_000_000);
const ENGINES: MappingLimits['engine'][] = ['compiled', 'interpreter', 'verify'];

/** The error a mapping gives on one record, on one evaluator. */
async function failure(expression: string, engine: MappingLimits['engine'], input: unknown = {}, limits: Partial<MappingLimits> = {}): Promise<MappingError> {
  const m = compileMapping(expression, 'attack.jsonata', {}, { engine, ...limits });
  const err = await m.evaluate(input).then(() => undefined, (e: unknown) => e);
  expect(err, `${engine}: ${expression}`).toBeInstanceOf(MappingError);
  return err as MappingError;
}

/** The compiled evaluator on its own: it must refuse before allocating too, not leave it to the interpreter. */
async function compiledRefusal(expression: string, input: unknown = {}): Promise<string> {
  const form = await compileExpression(jsonata(expression).ast(), {});
  try {
    form.run(input, {}, { timeoutMs: 1000, maxDepth: 500, ...DEFAULT_SIZE_LIMITS });
  } catch (err) {
    expect(err).toBeInstanceOf(Fallback);
    return (err as Error).message;
  }
  throw new Error(`the compiled evaluator answered ${expression}`);
}

describe('mapping size limits', () => {
  // A hundred references to one string of a million characters: 100 MB once joined.
  const parts = Array.from({ length: 100 }, () => MILLION);
  const attacks: [string, string, RegExp][] = [
    ['$pad of 100,000,000', '$pad("", 100000000)', /attack\.jsonata:1:\d+: failed on this record: \$pad would make a string of 100000000 characters, over mappings\.maxStringLength \(1048576\)/],
    ['$join of 100 MB', '$join(parts, "")', /\$join would make a string of 100000000 characters, over mappings\.maxStringLength/],
    ['doubling with &', '($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $f("ab", 40))', /& would make a string of 2097152 characters, over mappings\.maxStringLength/],
    ['a large range', '$count([1..5000000])', /\.\. would make an array of 5000000 items, over mappings\.maxArrayLength \(100000\)/],
    ['$string of many references', '($s := $pad("", 1000000); $string([1..50].$s))', /\$string would make a string of at least \d+ characters, over mappings\.maxStringLength/],
    ['& over a large array', '($s := $pad("", 1000000); "x" & [1..50].$s)', /& would make a string of at least \d+ characters, over mappings\.maxStringLength/],
    ['$split into characters', '$count($split($pad("", 1000000), ""))', /\$split would make an array of 1000000 items, over mappings\.maxArrayLength/],
    ['$replace growing a string', '$length($replace($pad("", 1000), " ", $pad("", 1000000)))', /\$replace would make a string of 1000000000 characters/],
    ['$replace with a regex and groups', '$length($replace($pad("", 2000, "ab"), /(a)(b)/, "$1$2$0$0" & $pad("", 2000)))', /\$replace would make a string of at least \d+ characters/],
  ];

  for (const [name, expression, message] of attacks) {
    it(`refuses ${name} with a mapping error on every evaluator`, async () => {
      for (const engine of ENGINES) {
        const err = await failure(expression, engine, { parts });
        expect(err.code).toBe('mapping_failed');
        expect(err.message).toMatch(message);
      }
      expect(await compiledRefusal(expression, { parts })).toMatch(/over mappings\.max(String|Array)Length/);
    });
  }

  it('reads its limits from the mapping limits, and leaves what fits alone', async () => {
    for (const engine of ENGINES) {
      const err = await failure('"abcdef" & "ghijkl"', engine, {}, { maxStringLength: 10 });
      expect(err.message).toMatch(/& would make a string of 12 characters, over mappings\.maxStringLength \(10\)/);
      const ok = compileMapping('{ "s": $pad("x", 1000) & "y", "n": $count([1..100000]), "j": $join($split($pad("", 5000, "ab"), "a"), "-") }', 'fine.jsonata', {}, { engine });
      expect(await ok.evaluate({})).toMatchObject({ s: expect.stringMatching(/^x +y$/), n: 100000 });
    }
  });

  it('takes its limits from the mappings section of hub.yaml', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-'));
    writeFileSync(path.join(dir, 'enrich.jsonata'), '$merge([$, { "note": $pad("", 5000) }])');
    const config = buildConfig({ ...hubConfig(), mappings: { maxStringLength: 4096, maxArrayLength: 1000 } }, path.join(dir, 'hub.yaml'), { env: {} });
    expect(config.mappings).toEqual({ maxStringLength: 4096, maxArrayLength: 1000 });
    const raw = hubConfig();
    (raw.pipelines.orders as Record<string, unknown>).transform = 'enrich.jsonata';
    const limited = buildConfig({ ...raw, mappings: { maxStringLength: 4096 } }, path.join(dir, 'hub.yaml'), { env: {} });
    await expect(limited.pipelines.get('orders')!.transform!.evaluate({})).rejects.toThrow(/enrich\.jsonata:1:\d+: failed on this record: \$pad would make a string of 5000 characters, over mappings\.maxStringLength \(4096\)/);
    expect(problemsOf({ ...hubConfig(), mappings: { maxStringLength: 'lots' } })).toEqual(['mappings.maxStringLength: must be integer']);
  });

  it('answers $distinct over 100,000 items, keeping jsonata\'s equality and order', async () => {
    for (const engine of ENGINES) {
      const m = compileMapping('{ "n": $count($distinct(big)), "d": $distinct(xs) }', 'distinct.jsonata', {}, { engine });
      expect(await m.evaluate({ big: Array.from({ length: 100_000 }, (_, i) => i % 50_000), xs: [1, '1', { a: 1, b: [2] }, { b: [2], a: 1 }, [1, 2], [1, 2], true, 1, null, null] })).toEqual({
        n: 50000, d: [1, '1', { a: 1, b: [2] }, [1, 2], true],
      });
    }
  });

  it('lets a large field of the record through unchanged: the limits are on what a mapping makes', async () => {
    const notes = 'n'.repeat(2_000_000);
    for (const engine of ENGINES) {
      const m = compileMapping('{ "notes": notes, "short": $substring(notes, 0, 3) }', 'fields.jsonata', {}, { engine });
      expect(await m.evaluate({ notes })).toEqual({ notes, short: 'nnn' });
    }
  });
});

function hubConfig(mapping?: string) {
  return {
    encryption: { keys: generateKeySpec('k1') },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat_x' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat-x' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order', ...(mapping ? { mapping } : {}) }, targets: [{ connection: 'crm', entity: 'order' }] } as Record<string, unknown> },
  };
}

function problemsOf(raw: unknown, dir = '/tmp'): string[] {
  try {
    buildConfig(raw, path.join(dir, 'hub.yaml'), { env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('regexes of mappings', () => {
  it('refuses catastrophic patterns when the mapping compiles, with the file and position', () => {
    for (const [expression, at] of [['$match(s, /^(a+)+$/)', '1:'], ['{\n  "x": $replace(s, /(a|a)*b/, "")\n}', '2:'], ['$contains(s, /(\\d+\\s?)+$/)', '1:'], ['$split(s, /(x|xy)+z/)', '1:'], ['$match(s, /a*a*b/)', '1:']] as const) {
      let err: unknown;
      try {
        compileMapping(expression, 'regex.jsonata');
      } catch (e) {
        err = e;
      }
      expect(err, expression).toBeInstanceOf(MappingError);
      expect((err as MappingError).message).toMatch(new RegExp(`^regex\\.jsonata:${at}\\d+: does not compile: the regex /.+/ can backtrack catastrophically`));
    }
  });

  it('accepts the linear patterns mappings use', async () => {
    const m = compileMapping('{ "a": $match(s, /^[A-Z]{2}-(\\d+)$/).groups[0], "b": $replace(s, /\\s+/, " "), "c": $contains(s, /(ab|cd)+/), "d": $split(s, /[,;]\\s*/) }', 'ok.jsonata');
    expect(await m.evaluate({ s: 'DE-42' })).toMatchObject({ a: '42', c: false });
  });

  it('refuses a catastrophic regex built at run time by $eval', async () => {
    for (const engine of ENGINES) {
      const err = await failure('$eval("$match(s, /^(a+)+$/)")', engine, { s: 'a'.repeat(30) + '!' });
      expect(err.message).toMatch(/the regex \/\^\(a\+\)\+\$\/ can backtrack catastrophically/);
    }
  });

  it('fails the config load naming the mapping file and position', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-'));
    writeFileSync(path.join(dir, 'orders.in.jsonata'), '{\n  "externalId": $string(id),\n  "code": $match(note, /^(a+)+$/)\n}');
    expect(problemsOf(hubConfig('orders.in.jsonata'), dir)[0]).toMatch(/^pipelines\.orders\.source\.mapping: .*orders\.in\.jsonata:3:\d+: does not compile: the regex \/\^\(a\+\)\+\$\/ can backtrack catastrophically/);
  });
});
