import type { Hono } from 'hono';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** Calls the app as an admin would: bearer token, JSON in and out. */
export function adminClient(app: Hono, token = ADMIN_TOKEN) {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json, headers: res.headers };
  };
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body?: unknown) => call('POST', path, body),
    del: (path: string) => call('DELETE', path),
  };
}
