import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { safeEqual } from '../core/crypto.js';
import type { Hub } from '../jobs/hub.js';
import { AdminSessions, LoginThrottle } from './admin-session.js';
import { clientAddress } from './request-facts.js';

/** Cookie of a browser that logged in at /admin/login: a random session id (see admin-session.ts), never the token. */
export const SESSION_COOKIE = 'synchub_admin';

/** The token a request carries in its Authorization header: `Bearer <token>`, or basic auth with the token as password. */
function headerToken(c: Context): string | undefined {
  const header = c.req.header('authorization') ?? '';
  if (header.startsWith('Bearer ')) return header.slice(7);
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}

export type AdminCheck = { ok: true } | { ok: false; retryAfterSeconds?: number };

/**
 * Whether a request is the admin's: the token in its Authorization header
 * (compared timing-safe, failures counted per client address, see LoginThrottle),
 * or a live session cookie.
 */
export async function checkAdmin(c: Context, hub: Hub, token: string): Promise<AdminCheck> {
  const given = headerToken(c);
  if (given !== undefined) {
    const throttle = new LoginThrottle(hub);
    const address = clientAddress(c, hub.config.server);
    const wait = await throttle.retryAfter(address);
    if (wait > 0) return { ok: false, retryAfterSeconds: wait };
    if (safeEqual(given, token)) return { ok: true };
    await throttle.recordFailure(address);
    return { ok: false };
  }
  const session = getCookie(c, SESSION_COOKIE);
  return { ok: session !== undefined && await new AdminSessions(hub, token).isValid(session) };
}

export function tooManyAttempts(c: Context, retryAfterSeconds: number): Response {
  c.header('Retry-After', String(retryAfterSeconds));
  return c.json({ error: { code: 'too_many_requests', message: `too many failed admin token checks from this address: try again in ${retryAfterSeconds} s` } }, 429);
}

export interface AdminAuthOptions {
  /** Answer 401 with a basic-auth challenge (dashboards a browser opens directly). Default false. */
  basicChallenge?: boolean;
}

/**
 * Guards the admin API and the dashboards. Without a configured token
 * they do not exist: 404, as for any unknown path.
 */
export function adminAuth(hub: Hub, opts: AdminAuthOptions = {}): MiddlewareHandler {
  const token = hub.config.server.adminToken;
  return async (c, next) => {
    if (!token) return c.json({ error: { code: 'not_found', message: `${c.req.method} ${c.req.path} does not exist` } }, 404);
    const check = await checkAdmin(c, hub, token);
    if (!check.ok) {
      if (check.retryAfterSeconds) return tooManyAttempts(c, check.retryAfterSeconds);
      if (opts.basicChallenge) c.header('WWW-Authenticate', 'Basic realm="synchub admin", charset="UTF-8"');
      return c.json({ error: { code: 'unauthorized', message: 'admin token missing or wrong' } }, 401);
    }
    await next();
  };
}
