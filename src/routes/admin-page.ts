import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { safeEqual } from '../core/crypto.js';
import { sourceDir } from '../core/source-tree.js';
import type { Hub } from '../jobs/hub.js';
import { SESSION_COOKIE, checkAdmin } from './admin-auth.js';
import { AdminLoginCodes, AdminSessions, LoginThrottle, SESSION_SECONDS } from './admin-session.js';
import { clientAddress, reachedOverHttps } from './request-facts.js';
import { sameOrigin } from './same-origin.js';

type LoginState = { failed?: boolean; waitSeconds?: number; linkRefused?: boolean };

const loginPage = ({ failed, waitSeconds, linkRefused }: LoginState = {}) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>synchub admin · log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px system-ui,sans-serif;display:grid;place-items:center;height:90vh;background:#f5f6f8}
form{background:#fff;padding:2em;border-radius:8px;box-shadow:0 1px 4px #0002;display:grid;gap:.8em;min-width:20em}
input,button{font:inherit;padding:.5em}.err{color:#b00020}</style></head>
<body><form method="post" action="/admin/login">
<h1>synchub admin</h1>
${failed ? '<p class="err" role="alert">That token is not the admin token.</p>' : ''}
${linkRefused ? '<p class="err" role="alert">This login link was used already or has expired. Log in with the admin token.</p>' : ''}
${waitSeconds ? `<p class="err" role="alert">Too many failed attempts from this address: try again in ${waitSeconds} seconds.</p>` : ''}
<label>Admin token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
<button type="submit">Log in</button>
</form></body></html>`;

/** The page is static HTML plus a script (no build step); both are read once. */
const pageFile = (name: string) => readFileSync(path.join(sourceDir(import.meta.url), 'admin-page', name), 'utf8');

/**
 * The admin page at /admin, and log in with the admin token to it and the queue
 * dashboard. The session cookie is HttpOnly, SameSite=Strict, Secure when the
 * browser reached the hub over https, and holds a random session id that logout
 * revokes (admin-session.ts). Log in and out only from the hub's own page
 * (same-origin.ts); failed logins are throttled per client address.
 */
export function adminPageRoutes(hub: Hub): Hono {
  const app = new Hono();
  const token = hub.config.server.adminToken;
  app.use('*', async (c, next) => {
    if (!token) return c.json({ error: { code: 'not_found', message: `${c.req.method} ${c.req.path} does not exist` } }, 404);
    await next();
  });
  app.use('*', sameOrigin(hub.config.server));
  const sessions = new AdminSessions(hub, token ?? '');
  const throttle = new LoginThrottle(hub);
  const codes = new AdminLoginCodes(hub, token ?? '');
  const isAdmin = async (c: Context) => (await checkAdmin(c, hub, token!)).ok;
  const startSession = async (c: Context) => {
    const previous = getCookie(c, SESSION_COOKIE);
    if (previous) await sessions.revoke(previous);
    setCookie(c, SESSION_COOKIE, await sessions.create(), {
      httpOnly: true, sameSite: 'Strict', path: '/', secure: reachedOverHttps(c, hub.config.server), maxAge: SESSION_SECONDS,
    });
    return c.redirect('/admin', 303);
  };

  app.get('/login', async (c) => ((await isAdmin(c)) ? c.redirect('/admin') : c.html(loginPage({ failed: c.req.query('failed') === '1' }))));
  // A token is a few dozen characters: a larger body is not a login.
  app.post('/login', bodyLimit({ maxSize: 4096 }), async (c) => {
    const address = clientAddress(c, hub.config.server);
    const wait = await throttle.retryAfter(address);
    if (wait > 0) {
      hub.logger.warn('admin login refused: too many failed attempts from one address');
      return c.html(loginPage({ waitSeconds: wait }), 429, { 'retry-after': String(wait) });
    }
    const form = await c.req.parseBody();
    const given = typeof form.token === 'string' ? form.token : '';
    if (!given || !safeEqual(given, token!)) {
      await throttle.recordFailure(address);
      hub.logger.warn('admin login refused: wrong token');
      return c.redirect('/admin/login?failed=1', 303);
    }
    return startSession(c);
  });
  // A one-time login link (AdminLoginCodes): the code is taken once, then the browser gets a
  // session as after the form, and the address bar loses the code at the redirect.
  app.get('/login/link', async (c) => {
    const address = clientAddress(c, hub.config.server);
    const wait = await throttle.retryAfter(address);
    if (wait > 0) return c.html(loginPage({ waitSeconds: wait }), 429, { 'retry-after': String(wait), 'referrer-policy': 'no-referrer' });
    if (!(await codes.redeem(c.req.query('code') ?? ''))) {
      await throttle.recordFailure(address);
      hub.logger.warn('admin login link refused: used already, expired or unknown');
      return c.html(loginPage({ linkRefused: true }), 401, { 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' });
    }
    c.header('referrer-policy', 'no-referrer');
    return startSession(c);
  });
  app.post('/logout', async (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    if (id) await sessions.revoke(id);
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: reachedOverHttps(c, hub.config.server) });
    return c.redirect('/admin/login', 303);
  });

  const html = pageFile('index.html');
  const script = pageFile('app.js');
  const headers = { 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'" };
  app.get('/', async (c) => ((await isAdmin(c)) ? c.html(html, 200, headers) : c.redirect('/admin/login')));
  app.get('/app.js', async (c) => ((await isAdmin(c))
    ? c.body(script, 200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' })
    : c.json({ error: { code: 'unauthorized', message: 'log in first' } }, 401)));
  return app;
}
