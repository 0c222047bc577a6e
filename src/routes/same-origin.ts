import type { Context, MiddlewareHandler } from 'hono';
import type { ProxySettings } from './request-facts.js';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A browser adds basic credentials and cookies by itself; a Bearer header only a script that has the token sends. */
// Spelled as admin-auth.ts reads it: a header it would not take as Bearer does not exempt the request either.
export const sendsBearer = (c: Context) => (c.req.header('authorization') ?? '').startsWith('Bearer ');

function isOwnOrigin(origin: string, c: Context, s: ProxySettings): boolean {
  if (s.publicUrl && origin === new URL(s.publicUrl).origin) return true;
  let given: URL;
  try {
    given = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, redirects across origins) and anything malformed
  }
  // The host the browser addressed (the Host header; node-server builds the URL from it). The
  // scheme is left open: behind a TLS proxy the hub sees http, and without trustProxy cannot know better.
  return (given.protocol === 'https:' || given.protocol === 'http:') && given.host === new URL(c.req.url).host;
}

/**
 * Refuses state-changing requests (POST, PUT, PATCH, DELETE) that a browser sent
 * for another site's page: 403 when Origin is present and not the hub's own
 * (server.publicUrl or the request's host), and, unless the credential is a Bearer
 * header, when Sec-Fetch-Site says cross-site or same-site (SameSite=Strict cookies
 * still go with requests from a sibling subdomain). Scripts and the CLI send neither header.
 */
export function sameOrigin(settings: ProxySettings): MiddlewareHandler {
  return async (c, next) => {
    if (!STATE_CHANGING.has(c.req.method)) return next();
    const origin = c.req.header('origin');
    const site = c.req.header('sec-fetch-site')?.toLowerCase();
    const foreignOrigin = origin !== undefined && !isOwnOrigin(origin, c, settings);
    const foreignSite = (site === 'cross-site' || site === 'same-site') && !sendsBearer(c);
    if (foreignOrigin || foreignSite) {
      return c.json({ error: { code: 'forbidden', message: `${c.req.method} ${c.req.path} is refused from another site (${foreignOrigin ? `Origin ${origin}` : `Sec-Fetch-Site ${site}`}): use the hub's own page, or a Bearer token from a script` } }, 403);
    }
    return next();
  };
}

/**
 * The admin API takes JSON or nothing: a state-changing request with a body of
 * another type (text/plain, a form, multipart: what a page of another site can
 * send without asking) is refused 415 before any route reads it.
 */
export function jsonBodiesOnly(): MiddlewareHandler {
  return async (c, next) => {
    if (!STATE_CHANGING.has(c.req.method)) return next();
    const type = c.req.header('content-type')?.split(';')[0].trim().toLowerCase();
    const hasBody = type !== undefined || Number(c.req.header('content-length') ?? 0) > 0 || c.req.header('transfer-encoding') !== undefined;
    if (hasBody && type !== 'application/json') {
      return c.json({ error: { code: 'unsupported_media_type', message: `${c.req.method} ${c.req.path} takes a JSON body (content-type: application/json) or none` } }, 415);
    }
    return next();
  };
}
