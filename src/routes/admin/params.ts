import type { Context } from 'hono';
import { SynchubError } from '../../core/errors.js';

/** Paging from the query string: offset ≥ 0, 1 ≤ limit ≤ 200 (default 50). */
export function paging(c: Context): { offset: number; limit: number } {
  const offset = Number(c.req.query('offset') ?? 0);
  const limit = Number(c.req.query('limit') ?? 50);
  if (!Number.isInteger(offset) || offset < 0) throw new SynchubError('invalid_request', 'offset must be a whole number ≥ 0');
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new SynchubError('invalid_request', 'limit must be a whole number from 1 to 200');
  return { offset, limit };
}

export function isoParam(c: Context, name: string): string | undefined {
  const v = c.req.query(name);
  if (v === undefined || v === '') return undefined;
  if (!Number.isFinite(Date.parse(v))) throw new SynchubError('invalid_request', `${name} must be an ISO date or date-time`, { details: { [name]: v } });
  return v;
}

export async function jsonBody<T>(c: Context): Promise<T> {
  try {
    return (await c.req.json()) as T;
  } catch {
    throw new SynchubError('invalid_request', 'the body must be JSON');
  }
}
