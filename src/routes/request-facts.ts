import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/** What the admin routes read from a request about where it came from (server.publicUrl / server.trustProxy). */
export interface ProxySettings {
  publicUrl?: string;
  trustProxy: boolean;
}

/** The first value of a header that may be a comma-separated list. */
const firstOf = (v: string | undefined) => v?.split(',')[0]?.trim().toLowerCase() || undefined;

/**
 * Whether the browser reached the hub over https: the public URL says so, the
 * request itself came over TLS, or (trustProxy only) the proxy's X-Forwarded-Proto.
 */
export function reachedOverHttps(c: Context, s: ProxySettings): boolean {
  if (s.publicUrl && new URL(s.publicUrl).protocol === 'https:') return true;
  if (new URL(c.req.url).protocol === 'https:') return true;
  return s.trustProxy && firstOf(c.req.header('x-forwarded-proto')) === 'https';
}

/**
 * The client's address, for per-client limits. Behind a trusted proxy it is the
 * last X-Forwarded-For entry, the one that proxy appended: entries before it were
 * written by the client and prove nothing. Without a socket (app.request in tests): "unknown".
 */
export function clientAddress(c: Context, s: ProxySettings): string {
  if (s.trustProxy) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',').map((p) => p.trim()).filter(Boolean);
    if (forwarded?.length) return forwarded[forwarded.length - 1];
  }
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}
