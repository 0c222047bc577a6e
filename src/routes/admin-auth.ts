import { createHmac } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { safeEqual } from '../core/crypto.js';

/** Cookie of a browser that logged in at /admin/login: an HMAC of the token, never the token itself. */
export const SESSION_COOKIE = 'synchub_admin';

export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('synchub admin session v1').digest('base64url');
}

/** The token a request presents: `Authorization: Bearer <token>`, basic auth with the token as password, or the session cookie. */
export function presentsToken(c: Context, token: string): boolean {
  const header = c.req.header('authorization') ?? '';
  if (header.startsWith('Bearer ')) return safeEqual(header.slice(7), token);
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    return safeEqual(decoded.slice(decoded.indexOf(':') + 1), token);
  }
  const cookie = getCookie(c, SESSION_COOKIE);
  return cookie !== undefined && safeEqual(cookie, sessionValue(token));
}

export interface AdminAuthOptions {
  /** Answer 401 with a basic-auth challenge (dashboards a browser opens directly). Default false. */
  basicChallenge?: boolean;
}

/**
 * Guards the admin API and the dashboards, timing-safe. Without a configured token
 * they do not exist: 404, as for any unknown path.
 */
export function adminAuth(token: string | undefined, opts: AdminAuthOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    if (!token) return c.json({ error: { code: 'not_found', message: `${c.req.method} ${c.req.path} does not exist` } }, 404);
    if (!presentsToken(c, token)) {
      if (opts.basicChallenge) c.header('WWW-Authenticate', 'Basic realm="synchub admin", charset="UTF-8"');
      return c.json({ error: { code: 'unauthorized', message: 'admin token missing or wrong' } }, 401);
    }
    await next();
  };
}
