import { isDeepStrictEqual } from 'node:util';

/** How many differences one case reports before it says "and N more". */
const MAX_LINES = 20;
/** A value shown in a difference is cut to this many characters. */
const MAX_SHOWN = 120;

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s;
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const key = (at: string, k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? (at ? `${at}.${k}` : k) : `${at}[${JSON.stringify(k)}]`);

/**
 * One line per place where `actual` differs from `expected`, each naming its path
 * (`lineItems[1].unitPrice: expected "9.99", got "10.00"`). With `partial`, fields the
 * expectation leaves out are not compared (arrays still compare by position and length).
 */
export function describeDifferences(expected: unknown, actual: unknown, opts: { partial: boolean }): string[] {
  const out: string[] = [];
  let more = 0;
  const note = (line: string) => (out.length < MAX_LINES ? out.push(line) : more++);
  const walk = (exp: unknown, act: unknown, at: string): void => {
    if (isObject(exp) && isObject(act)) {
      for (const k of Object.keys(exp)) walk(exp[k], act[k], key(at, k));
      if (!opts.partial) for (const k of Object.keys(act)) if (!(k in exp)) note(`${key(at, k)}: not expected, got ${show(act[k])}`);
      return;
    }
    if (Array.isArray(exp) && Array.isArray(act)) {
      if (exp.length !== act.length) note(`${at || '(output)'}: expected ${exp.length} item(s), got ${act.length}`);
      for (let i = 0; i < Math.min(exp.length, act.length); i++) walk(exp[i], act[i], `${at}[${i}]`);
      return;
    }
    // YAML's null stands for "absent" too: the hub drops empty fields from a mapping's output.
    if (exp === null && act === undefined) return;
    if (!isDeepStrictEqual(exp, act)) note(`${at || '(output)'}: expected ${show(exp)}, got ${show(act)}`);
  };
  walk(expected, actual, '');
  if (more) out.push(`… and ${more} more difference(s)`);
  return out;
}
