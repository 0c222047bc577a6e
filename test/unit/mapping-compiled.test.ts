/**
 * The compiled evaluator (src/mappings/compiled.ts) must give jsonata's answers. Each
 * expression below runs on both evaluators over a set of inputs; results and failures must
 * match. (The rest of the suite runs with SYNCHUB_MAPPING_ENGINE=verify, which compares the
 * two on every record every connector test maps.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileMapping, DEFAULT_MAPPINGS_DIR } from '../../src/mappings/engine.js';
import { MappingError } from '../../src/core/errors.js';

const inputs: unknown[] = [
  undefined,
  null,
  {},
  [],
  'text',
  42,
  [1, 2, 3],
  { a: 1, b: 'x', c: [1, 2], d: { e: 'y', f: [{ g: 1 }, { g: 2 }, { g: null }] }, h: true, i: 0, j: '' },
  { items: [{ sku: 'A', qty: 2, price: '1.50', tags: 'x, y,,z' }, { sku: 'B', qty: 1, price: '0.10', tags: '' }], currency: 'USD', n: 3.14159 },
  { items: { sku: 'solo', qty: 5, price: '2', tags: 'one' }, currency: 'JPY' },
  [{ a: 1, k: 'p' }, { a: 2, k: 'q' }, { a: 3, k: 'p' }],
  { a: [[1, 2], [3]], b: [{ c: [1, 2] }, { c: 3 }], s: 'a-b-c', nested: { deep: { deeper: { x: [] } } } },
];

const expressions = [
  // paths, sequences and singletons
  'a', 'a.b', 'd.e', 'd.f.g', 'd.f[0].g', 'd.f[-1]', 'd.f[g > 1]', 'd.f[g]', 'c[1]', 'c[[0..1]]', '$.a', '$$.a', '$', '$$',
  'items.sku', 'items[0].sku', 'items[qty > 1].sku', 'items[sku = "B"]', 'a[]', 'items.sku[]', '[items.sku]', 'a.b.c',
  'b.c', 'b.c[0]', 'a[0]', 'a[0][0]', 'nested.deep.deeper.x', '*', 'd.*', '[1, 2, [3, 4], c]', '[c, [c]]', 'items[[0, 1]]',
  // a step whose items answer a value first and an array after (flattened in order), or arrays and values mixed
  '[b[1], b[0]].c', '[b[1], b[0], b[1]].c', 'b.[c, 0]', '($s := [c, a].$; $s.$)', '($s := [c, a].$; $s[])', '($x := c.$; $x[])', '($x := b.c; [$x][])', '[c, a].$', '($f := function($p, $q, $r, $s) { [$p, $q, $r, $s] }; $f(1, a, c, b))',
  // operators
  'a + 1', 'a - i', 'a * 2', 'a / 4', 'a % 2', '-a', 'a = 1', 'a != 1', 'a < 2', 'b > "a"', 'a <= 1 and h', 'i or j', 'h and a',
  'a & b', 'b & c', 'd & 1', 'n * 100', 'a in c', '"x" in [b, "y"]', 'c = [1, 2]', 'd = d', 'a + b', 'a < b', 'j ? 1 : 2', 'i ? "t"', 'h ? a : b',
  // objects and grouping
  '{"x": a, "y": b, "z": missing}', '{"k": c}', '$.{"v": a}', '{k: a}', '{k: $count($)}', 'items.{"s": sku, "t": $number(qty) * 2}',
  'items{sku: qty}', '{"a": 1, "a": 2}', '{b: a}', '{missing: 1}', '{b: missing}', '{"_jsonata_lambda": 1}', '($k := "__proto__"; {$k: a})', '{b: $}', '$keys({b: a})',
  '$merge([{b: a}, {"q": 1}])', '{d.e: c}', '{$string(a): a}', '{a: 1}', '{"x": {"y": [d.f.g]}}',
  // blocks, variables, functions
  '($x := a; $x + 1)', '($f := function($v) { $v * 2 }; $f(a))', '($f := function($v) { $v ? $f($v - 1) + 1 : 0 }; $f(5))',
  // scopes: an inner binding hides an outer one even when undefined; a parameter not passed is undefined; lambdas see their definition's scope
  '($x := 1; ($x := missing; $x))', '($x := 1; $f := function($x) { $x }; $f())', '($x := 1; ($x := 2); $x)', '($x := 5; items.($x & sku))',
  '($k := 1; $f := function() { $k }; ($k := 2; $f()))', '($toString := 1; $toString)',
  '($g := function($o) { $o ? {"first": $o.sku} }; $g(items[0]))', 'items.$string(qty)', '$map(c, function($v, $i) { $v + $i })',
  '$filter(items, function($i) { $i.qty > 1 }).sku', '$string(a)', '$string(n)', '$string(d)', '$string()', '$number("12.5")',
  '$count(items)', '$sum(c)', '$join(items.sku, ",")', '$split(s, "-")', '$split(s, "-", 2)', '$split(items[0].tags, ",").$trim($)[$ != ""]',
  '$replace(s, "-", "+")', '$replace(s, "-", "+", 1)', '$contains(s, "b")', '$uppercase(b)', '$lowercase("ABC")', '$substring(s, 1, 3)',
  '$substringBefore(s, "-")', '$substringAfter(s, "-")', '$trim("  a  ")', '$exists(a)', '$exists(missing)', '$not(h)', '$boolean(c)',
  // $merge: the same own keys in the same order, nothing inherited (jsonata's has no prototype), `__proto__` a key like another
  '$merge(items)', '$merge([d, {"e": 1}, a, items])', '$keys($merge([{"b": 1}, {"a": 2, "b": 3}, {"1": 0}]))', '$merge([{"__proto__": 1}, {"a": 2}])',
  '$keys($merge([{"x": 1}, {"__proto__": {"y": 2}}]))', '$lookup($merge([{"a": 1}]), "constructor")', '$merge([{"a": 1}]).toString', '$string($merge([{"z": 1}, {"a": 2}]))',
  '$keys(d)', '$lookup(d, "e")', '$merge([{"a": 1}, {"b": 2}])', '$append(c, 4)', '$abs(-a)', '$floor(n)', '$round(n, 2)', '$type(d)',
  '$count(a) = 0 ? "none"', '$fromMillis(0)', '$toMillis("2025-01-01T00:00:00Z")', 'a ~> $string()', 'c ~> $sum()', '$distinct([1, 1, 2])',
  '$reverse(c)', '$error("boom")', '$f(1)', 'nofunc(1)', '$string(a, true)', '$length(b)', '$max(c)', '$average(c)',
  // ranges and regular expressions
  'c[[0..1]]', '[1..a + 2]', '[a..0]', '[0..n]', 'c[[0..$count(c) - 2]]', 's ~> /b/', 's ~> /z/', '$match(s, /([a-z])-/)', '$match(s, /-/, 1)',
  '$match(s, /([a-z])-/).groups[0]', '$replace(s, /([a-z])-/, "$1+")', '$replace(s, /-/, "$$", 1)', '$replace(s, /(a)|(q)/, "[$2]")',
  '$split(s, /-/)', '$split(s, /-/, 1)', '$contains(s, /B/i)', '$match(s, /x*/)',
  // a call in a lambda's tail position: $map keeps its answer whole, and a built-in called there without its argument takes null as context
  '$map(0, function($x, $y) { $filter(0, function($x) { 0.5 }) }) + (0 ? 0 : 0.5)', '(0.5 ? $map(0.5, function($x, $y) { $map(0.5, function($x, $y) { 0 }) }) : 0)',
  '$filter(0, function($x) { $substring($map(0, function($x, $y) { 0.5 }), 0) })', '$map(0, function($x, $y) { (0.5 ? $filter(0.5, function($x) { 0 }) : 0) })',
  '$map(0.5, function($x, $y) { ($x := 0; $map(0, function($x, $y) { 0 })) })', '$map(c, function($v) { $string() })', '$map(c, function($v) { [$string()] })',
  // the hub's own functions
  '$money(items[0].price, currency)', '$toMinor(items.price, currency)', '$sumMoney(items.price, currency)', '$sumMoney([items.price, null, ""], currency)', '$sumMoney([], currency)', '$sumMoney(j, "USD")', '$fromMinor(150, "USD")',
  '$isoUtc("2025-03-01T10:00:00+02:00")', '$isoUtc(missing)', '$money("abc", "USD")', '$status("paid")',
];

async function both(expr: string, input: unknown) {
  const run = async (engine: 'compiled' | 'interpreter') => {
    const m = compileMapping(expr, 'table.jsonata', { connector: 'test', statusMap: { order: { paid: 'paid' } } }, { engine });
    try {
      return { value: await m.evaluate(input) };
    } catch (err) {
      return { error: ((err as MappingError).details as { jsonataCode?: string } | undefined)?.jsonataCode ?? (err as Error).message };
    }
  };
  return { compiled: await run('compiled'), interpreter: await run('interpreter') };
}

describe('compiled mapping evaluator', () => {
  it.each(expressions)('%s gives what jsonata gives on every input', async (expr) => {
    for (const input of inputs) {
      const { compiled, interpreter } = await both(expr, structuredClone(input));
      expect({ expr, input, ...compiled }).toEqual({ expr, input, ...interpreter });
    }
  });

  it('compiles every shipped mapping (none needs the interpreter)', async () => {
    const interpreted: string[] = [];
    for (const connector of readdirSync(DEFAULT_MAPPINGS_DIR, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const file of readdirSync(path.join(DEFAULT_MAPPINGS_DIR, connector.name)).filter((f) => f.endsWith('.jsonata'))) {
        const full = path.join(DEFAULT_MAPPINGS_DIR, connector.name, file);
        const m = compileMapping(readFileSync(full, 'utf8'), full, { connector: connector.name }, { engine: 'compiled' });
        if ((await m.engine()) !== 'compiled') interpreted.push(`${connector.name}/${file}`);
      }
    }
    expect(interpreted).toEqual([]);
  });

  it('leaves expressions it does not cover to the interpreter, with the same answer', async () => {
    for (const expr of ['$sort(c)', '$match(s, /b/)', 'd.f^(g)', '**.g', '$replace(s, /-/, "+")', 'c[[0..1]]']) {
      const m = compileMapping(expr, 'x.jsonata', {}, { engine: 'compiled' });
      const input = { c: [3, 1, 2], s: 'a-b', d: { f: [{ g: 2 }, { g: 1 }] } };
      expect(await m.evaluate(input)).toEqual(await compileMapping(expr, 'x.jsonata', {}, { engine: 'interpreter' }).evaluate(input));
    }
    expect(await compileMapping('$sort(c)', 'x.jsonata', {}, { engine: 'compiled' }).engine()).toBe('interpreter');
  });

  it('reports errors with jsonata codes and positions', async () => {
    const m = compileMapping('{\n  "total": a + b\n}', 'order.in.jsonata', {}, { engine: 'compiled' });
    const err = (await m.evaluate({ a: 1, b: 'x' }).catch((e: unknown) => e)) as MappingError;
    expect(err).toBeInstanceOf(MappingError);
    expect(err.message).toMatch(/^order\.in\.jsonata:2:\d+: failed on this record: .*\(T2002\)$/);
  });

  it('stops a runaway record: deep recursion and the time limit', async () => {
    const deep = compileMapping('($f := function($n) { 1 + $f($n + 1) }; $f(0))', 'loop.jsonata', {}, { engine: 'compiled', maxDepth: 200 });
    await expect(deep.evaluate({})).rejects.toThrow(/D1011/);
    const slow = compileMapping('($fib := function($n) { $n < 2 ? $n : $fib($n - 1) + $fib($n - 2) }; $fib(40))', 'slow.jsonata', {}, { engine: 'compiled', timeoutMs: 50, maxDepth: 10_000 });
    await expect(slow.evaluate({})).rejects.toThrow(/timeout after 50 milliseconds.*D1012/i);
  });

  it('fails with D1011 exactly where jsonata does: its stack limit counts nested evaluations, not calls', async () => {
    // Under the default limit of 500 levels jsonata answers $sum1(166) and fails $sum1(167):
    // each non-tail call nests three levels (condition, +, call).
    const recursive = [
      '($sum1 := function($n) { $n <= 1 ? 1 : $n + $sum1($n - 1) }; $sum1(N))',
      '($len := function($n) { $n = 0 ? [] : [$n, $len($n - 1)] }; $count($len(N)))',
      '($viaMap := function($n) { $n = 0 ? 0 : $sum($map([1], function($v) { $viaMap($n - 1) + $v })) }; $viaMap(N))',
      '($tail := function($n, $acc) { $n = 0 ? $acc : $tail($n - 1, $acc + 1) }; $tail(N, 0))',
    ];
    for (const expr of recursive) {
      for (const n of [100, 164, 165, 166, 167, 168, 400]) {
        const source = expr.replace('N', String(n));
        const { compiled, interpreter } = await both(source, {});
        expect({ source, ...compiled }).toEqual({ source, ...interpreter });
      }
    }
    expect((await both(recursive[0].replace('N', '166'), {})).compiled).toEqual({ value: 13861 });
    expect((await both(recursive[0].replace('N', '167'), {})).compiled).toEqual({ error: 'D1011' });
    // With the comparison on every record (engine: verify), the compiled form never answers where jsonata fails.
    const verified = compileMapping(recursive[0].replace('N', '167'), 'deep.jsonata', {}, { engine: 'verify' });
    await expect(verified.evaluate({})).rejects.toThrow(/D1011/);
    const smaller = compileMapping(recursive[0].replace('N', '49'), 'deep.jsonata', {}, { engine: 'compiled', maxDepth: 150 });
    expect(await smaller.evaluate({})).toBe(1225);
    expect(await compileMapping(recursive[0].replace('N', '50'), 'deep.jsonata', {}, { engine: 'interpreter', maxDepth: 150 }).evaluate({}).catch((e: MappingError) => e.details)).toMatchObject({ jsonataCode: 'D1011' });
    expect(await compileMapping(recursive[0].replace('N', '50'), 'deep.jsonata', {}, { engine: 'compiled', maxDepth: 150 }).evaluate({}).catch((e: MappingError) => e.details)).toMatchObject({ jsonataCode: 'D1011' });
  });

  it('keeps jsonata\'s error code and message in the reason it falls back for', async () => {
    const m = compileMapping('{"total": $number(amount)}', 'order.in.jsonata', {}, { engine: 'compiled' });
    await expect(m.evaluate({ amount: 'twelve' })).rejects.toThrow(/D3030/);
    expect(m.fallbacks()).toEqual({ count: 1, last: expect.stringMatching(/^D3030: Unable to cast value to a number/) });
    const deep = compileMapping('($f := function($n) { $n <= 1 ? 1 : $n + $f($n - 1) }; $f(200))', 'deep.jsonata', {}, { engine: 'compiled' });
    await expect(deep.evaluate({})).rejects.toThrow(/D1011/);
    expect(deep.fallbacks().last).toMatch(/^D1011: Stack overflow/);
    // A tail call the interpreter answers: the reason still names the code and why.
    const tail = compileMapping('($t := function($n) { $n = 0 ? "done" : $t($n - 1) }; $t(300))', 'tail.jsonata', {}, { engine: 'compiled' });
    expect(await tail.evaluate({})).toBe('done');
    expect(tail.fallbacks().last).toMatch(/^D1011: \d+ evaluation levels could pass the stack limit of 500$/);
    // A built-in's error the interpreter then answers differently keeps at least its code.
    const typed = compileMapping('a + b', 'sum.jsonata', {}, { engine: 'compiled' });
    await expect(typed.evaluate({ a: 1, b: 'x' })).rejects.toThrow(/T2002/);
    expect(typed.fallbacks().last).toMatch(/^T2002/);
    expect(JSON.stringify([m.fallbacks(), deep.fallbacks(), typed.fallbacks()])).not.toContain('[object Object]');
  });

  it('keeps variables bound by one record out of the next', async () => {
    const m = compileMapping('($seen := $exists($seen) ? "again" : "first"; $seen)', 'x.jsonata', {}, { engine: 'compiled' });
    expect(await m.evaluate({})).toBe('first');
    expect(await m.evaluate({})).toBe('first');
  });
});

describe('compiled mapping evaluator, property', () => {
  it('gives what jsonata gives on Shopify orders and customers with fields replaced by random values', async () => {
    const { makeCustomer, makeOrder, prng } = await import('../../src/sandbox/data.js');
    const { shopify } = await import('../../src/connectors/shopify/index.js');
    const fc = (await import('fast-check')).default;
    const customer = makeCustomer(1, new Date(Date.UTC(2025, 0, 1)));
    const order = makeOrder(1, customer, new Date(Date.UTC(2025, 0, 2)), prng(3));
    const ctx = { connector: 'shopify', statusMap: shopify.statusMap };
    const files = ['order.in', 'customer.in'].map((f) => path.join(DEFAULT_MAPPINGS_DIR, 'shopify', `${f}.jsonata`));
    const engines = files.map((f) => ({
      compiled: compileMapping(readFileSync(f, 'utf8'), f, ctx, { engine: 'compiled' }),
      interpreter: compileMapping(readFileSync(f, 'utf8'), f, ctx, { engine: 'interpreter' }),
    }));
    // Paths into the sample (objects and arrays), each replaced by any JSON value.
    const paths: string[][] = [];
    const walk = (v: unknown, at: string[]) => {
      if (at.length) paths.push(at);
      if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...at, k]);
    };
    walk(order, []);
    const outcome = async (m: ReturnType<typeof compileMapping>, input: unknown) => {
      try {
        return { value: await m.evaluate(input) };
      } catch (err) {
        return { error: ((err as MappingError).details as { jsonataCode?: string } | undefined)?.jsonataCode ?? (err as Error).message };
      }
    };
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 2 })), { minLength: 1, maxLength: 4 }), async (changes) => {
      const input = structuredClone(order) as Record<string, unknown>;
      for (const [at, value] of changes) {
        let cur = input as Record<string, unknown> | undefined;
        for (const k of at.slice(0, -1)) cur = cur && typeof cur === 'object' ? (cur[k] as Record<string, unknown> | undefined) : undefined;
        if (cur && typeof cur === 'object') cur[at[at.length - 1]] = value;
      }
      // What the hub maps is always parsed JSON (an API's or a webhook's body): fast-check's values
      // may hold array holes, which no parsed body has and where the two evaluators differ (jsonata
      // skips a hole, the compiled form reads it as undefined), so the input goes through JSON first.
      const parsed = JSON.parse(JSON.stringify(input)) as unknown;
      for (const m of engines) {
        expect(await outcome(m.compiled, structuredClone(parsed))).toEqual(await outcome(m.interpreter, structuredClone(parsed)));
      }
    }), { numRuns: 300 });
  });
});
