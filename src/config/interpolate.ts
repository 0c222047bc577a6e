import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * `${VAR}`, `${VAR:-default}` and `${file:path}` in every string of the config.
 * Problems are collected with the config path of the value they sit in.
 */
const PATTERN = /\$\{([^}]*)\}/g;

export interface InterpolationContext {
  env: NodeJS.ProcessEnv;
  /** Directory relative `${file:…}` paths resolve against (the config file's). */
  baseDir: string;
}

export function interpolateString(value: string, at: string, ctx: InterpolationContext, problems: string[]): string {
  return value.replace(PATTERN, (_m, expr: string) => {
    if (expr.startsWith('file:')) {
      const file = path.resolve(ctx.baseDir, expr.slice(5));
      try {
        return readFileSync(file, 'utf8').trim();
      } catch (err) {
        problems.push(`${at}: cannot read file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return '';
      }
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(expr);
    if (!m) {
      problems.push(`${at}: "\${${expr}}" is not \${VAR}, \${VAR:-default} or \${file:path}`);
      return '';
    }
    const [, name, fallback] = m;
    const v = ctx.env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    problems.push(`${at}: environment variable ${name} is ${v === undefined ? 'not set' : 'empty'}`);
    return '';
  });
}

/**
 * A value that is nothing but references and comes out empty (`${VAR:-}` with VAR unset)
 * counts as not set: an optional setting is left out, a required one is reported missing.
 */
export function interpolate(value: unknown, at: string, ctx: InterpolationContext, problems: string[]): unknown {
  if (typeof value === 'string') {
    const out = interpolateString(value, at, ctx, problems);
    return out === '' && value !== '' && value.replace(PATTERN, '') === '' ? undefined : out;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, `${at}[${i}]`, ctx, problems));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = interpolate(v, at ? `${at}.${k}` : k, ctx, problems);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return value;
}
