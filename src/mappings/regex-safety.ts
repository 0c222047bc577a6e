/**
 * Refuses regexes that can backtrack catastrophically, before a mapping runs them.
 *
 * JavaScript's RegExp backtracks: `/^(a+)+$/` on 30 `a`s and a `!` takes seconds inside one
 * `$match` call, where the mapping timeout cannot stop it. A mapping runs on data from outside,
 * so its regexes are checked when it compiles (and when `$eval` builds one at run time) over
 * the pattern's syntax tree (parsed with `ret`), in one pass:
 * - an unbounded repetition over something that itself repeats a variable number of times
 *   (`(a+)+`, `(\d+\s?)*`, `(a{1,3})+`): star height above one;
 * - an unbounded repetition over alternatives that can start with the same character
 *   (`(a|a)*`, `(x|xy)+`): the engine tries each way of splitting the input between them.
 * - unbounded repetitions side by side that can match the same characters (`a*a*b`,
 *   `\d+\s*\d+`): polynomial, but of a degree that stalls on a few thousand characters.
 * Each is a sufficient, not a necessary, condition: a pattern may be refused that a full
 * automaton analysis would pass. Syntax `ret` does not parse (lookbehind) is refused too,
 * since it cannot be checked.
 */
import ret from 'ret';
import { types, type Root, type Token, type SetTokens } from 'ret';

// ret's CommonJS export is the tokenizer itself; its typings describe an ES default export.
const tokenize = ret as unknown as (source: string) => Root;

type Ranges = [number, number][];
const ALL: Ranges = [[0, 0x10ffff]];

function setRanges(set: SetTokens, not: boolean): Ranges {
  const out: Ranges = [];
  for (const t of set) {
    if (t.type === types.CHAR) out.push([t.value, t.value]);
    else if (t.type === types.RANGE) out.push([t.from, t.to]);
    else out.push(...setRanges(t.set, t.not));
  }
  if (!not) return out;
  // The complement of the union: sort, then the gaps.
  const sorted = [...out].sort((a, b) => a[0] - b[0]);
  const gaps: Ranges = [];
  let next = 0;
  for (const [from, to] of sorted) {
    if (from > next) gaps.push([next, from - 1]);
    next = Math.max(next, to + 1);
  }
  if (next <= 0x10ffff) gaps.push([next, 0x10ffff]);
  return gaps;
}

const overlap = (a: Ranges, b: Ranges): boolean => a.some(([f1, t1]) => b.some(([f2, t2]) => f1 <= t2 && f2 <= t1));

/** The characters a sequence of tokens can start with, and whether it can match the empty string. */
function first(stack: Token[]): { chars: Ranges; empty: boolean } {
  const chars: Ranges = [];
  for (const t of stack) {
    const f = firstOf(t);
    chars.push(...f.chars);
    if (!f.empty) return { chars, empty: false };
  }
  return { chars, empty: true };
}

function firstOf(t: Token): { chars: Ranges; empty: boolean } {
  switch (t.type) {
    case types.CHAR: return { chars: [[t.value, t.value]], empty: false };
    case types.SET: return { chars: setRanges(t.set, t.not), empty: false };
    case types.POSITION: return { chars: [], empty: true };
    case types.REFERENCE: return { chars: ALL, empty: true };
    case types.REPETITION: {
      const f = firstOf(t.value);
      return { chars: f.chars, empty: f.empty || t.min === 0 };
    }
    case types.GROUP: {
      if (t.followedBy || t.notFollowedBy) return { chars: [], empty: true };
      const options = t.options ?? [t.stack ?? []];
      const chars: Ranges = [];
      let empty = false;
      for (const o of options) {
        const f = first(o);
        chars.push(...f.chars);
        empty ||= f.empty;
      }
      return { chars, empty };
    }
    default: return { chars: ALL, empty: true };
  }
}

/** Whether a token repeats a variable number of times somewhere inside. */
function variesInside(t: Token): boolean {
  if (t.type === types.REPETITION) return t.max !== t.min || variesInside(t.value);
  if (t.type === types.GROUP) return (t.options ?? [t.stack ?? []]).some((o) => o.some(variesInside));
  return false;
}

/** A group of one alternative, not a lookaround, read as its tokens in line. */
function inline(stack: Token[]): Token[] {
  return stack.flatMap((t) => (t.type === types.GROUP && !t.options && !t.followedBy && !t.notFollowedBy ? inline(t.stack ?? []) : [t]));
}

/**
 * Two unbounded repetitions that can match the same characters with nothing between them
 * that must match (`a*a*b`, `\d+\s*\d+`): each way of dividing a run between them is tried,
 * a polynomial of high degree (`a*a*b` on 4,000 `a`s: 10 s).
 */
function adjacentRepetitions(stack: Token[]): string | undefined {
  let open: Ranges[] = [];
  for (const t of inline(stack)) {
    const f = firstOf(t);
    if (t.type === types.REPETITION && t.max === Infinity) {
      if (open.some((o) => overlap(o, f.chars))) return 'unbounded repetitions side by side that can match the same text';
      if (!f.empty) open = [];
      open.push(f.chars);
    } else if (!f.empty) {
      open = [];
    }
  }
  return undefined;
}

function problemIn(t: Token): string | undefined {
  if (t.type === types.REPETITION) {
    if (t.max === Infinity) {
      if (variesInside(t.value)) return 'a repetition inside an unbounded repetition';
      if (t.value.type === types.GROUP && t.value.options) {
        const firsts = t.value.options.map(first);
        for (let i = 0; i < firsts.length; i++) {
          for (let j = i + 1; j < firsts.length; j++) {
            if (overlap(firsts[i].chars, firsts[j].chars) || (firsts[i].empty && firsts[j].empty)) return 'alternatives that can match the same text inside an unbounded repetition';
          }
        }
      }
    }
    return problemIn(t.value);
  }
  if (t.type === types.GROUP) return problemInSequences(t.options ?? [t.stack ?? []]);
  return undefined;
}

function problemInSequences(options: Token[][]): string | undefined {
  for (const o of options) {
    const adjacent = adjacentRepetitions(o);
    if (adjacent) return adjacent;
    for (const inner of o) {
      const p = problemIn(inner);
      if (p) return p;
    }
  }
  return undefined;
}

/** Why this regex can take exponential time, or undefined when it cannot. */
export function catastrophicRegex(source: string): string | undefined {
  let root;
  try {
    root = tokenize(source);
  } catch (err) {
    return `cannot be checked for backtracking (${(err as Error).message.replace(/^Invalid regular expression: \/.*\/: /, '')})`;
  }
  return problemInSequences(root.options ?? [root.stack ?? []]);
}

export const regexRefusal = (re: RegExp, reason: string): string => `the regex /${re.source}/ can backtrack catastrophically on some inputs (${reason}); write it without nested, ambiguous or side-by-side repetition`;

/** jsonata's RegexEngine: a RegExp that refuses a catastrophic pattern when it is built (regexes `$eval` parses at run time). */
export class CheckedRegExp extends RegExp {
  constructor(pattern: RegExp | string, flags?: string) {
    const re = typeof pattern === 'string' ? new RegExp(pattern, flags) : pattern;
    const reason = catastrophicRegex(re.source);
    if (reason) throw new Error(regexRefusal(re, reason));
    super(re, flags);
  }
}

/** Every regex literal of a parsed jsonata expression, with its position. */
export function regexLiterals(ast: unknown): { value: RegExp; position?: number }[] {
  const out: { value: RegExp; position?: number }[] = [];
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    const n = node as Record<string, unknown>;
    if (n.type === 'regex' && n.value instanceof RegExp) out.push({ value: n.value, position: n.position as number | undefined });
    for (const v of Object.values(n)) if (v !== null && typeof v === 'object' && !(v instanceof RegExp)) walk(v);
  };
  walk(ast);
  return out;
}
