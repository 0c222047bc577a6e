import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { safeEqual } from '../core/crypto.js';
import type { Hub } from '../jobs/hub.js';
import { SESSION_COOKIE, presentsToken, sessionValue } from './admin-auth.js';

const loginPage = (failed: boolean) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>synchub admin · log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px system-ui,sans-serif;display:grid;place-items:center;height:90vh;background:#f5f6f8}
form{background:#fff;padding:2em;border-radius:8px;box-shadow:0 1px 4px #0002;display:grid;gap:.8em;min-width:20em}
input,button{font:inherit;padding:.5em}.err{color:#b00020}</style></head>
<body><form method="post" action="/admin/login">
<h1>synchub admin</h1>
${failed ? '<p class="err" role="alert">That token is not the admin token.</p>' : ''}
<label>Admin token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
<button type="submit">Log in</button>
</form></body></html>`;

/** The page is static HTML plus a script (no build step); both are read once. */
const pageFile = (name: string) => readFileSync(fileURLToPath(new URL(`./admin-page/${name}`, import.meta.url)), 'utf8');

/**
 * The admin page at /admin, and log in to it and the queue dashboard and the queue dashboard with the admin token. The
 * session cookie is HttpOnly and SameSite=Strict (so other sites cannot make a
 * logged-in browser call the admin API) and holds an HMAC of the token.
 */
export function adminPageRoutes(hub: Hub): Hono {
  const app = new Hono();
  const token = hub.config.server.adminToken;
  app.use('*', async (c, next) => {
    if (!token) return c.json({ error: { code: 'not_found', message: `${c.req.method} ${c.req.path} does not exist` } }, 404);
    await next();
  });
  app.get('/login', (c) => (token && presentsToken(c, token) ? c.redirect('/admin') : c.html(loginPage(c.req.query('failed') === '1'))));
  app.post('/login', async (c) => {
    const form = await c.req.parseBody();
    const given = typeof form.token === 'string' ? form.token : '';
    if (!given || !safeEqual(given, token!)) {
      hub.logger.warn('admin login refused: wrong token');
      return c.redirect('/admin/login?failed=1', 303);
    }
    setCookie(c, SESSION_COOKIE, sessionValue(token!), {
      httpOnly: true, sameSite: 'Strict', path: '/', secure: new URL(c.req.url).protocol === 'https:', maxAge: 12 * 3600,
    });
    return c.redirect('/admin', 303);
  });
  app.post('/logout', (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/admin/login', 303);
  });

  const html = pageFile('index.html');
  const script = pageFile('app.js');
  const headers = { 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'" };
  app.get('/', (c) => (presentsToken(c, token!) ? c.html(html, 200, headers) : c.redirect('/admin/login')));
  app.get('/app.js', (c) => (presentsToken(c, token!)
    ? c.body(script, 200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' })
    : c.json({ error: { code: 'unauthorized', message: 'log in first' } }, 401)));
  return app;
}
