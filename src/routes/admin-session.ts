import { createHmac, randomBytes } from 'node:crypto';
import { StoreUnavailableError } from '../core/errors.js';
import type { Hub } from '../jobs/hub.js';

/** How long a login lasts (the cookie's Max-Age and the Redis key's expiry). */
export const SESSION_SECONDS = 12 * 3600;
/** Failed token checks one client address may make per window before it waits. */
export const LOGIN_FAILURES_ALLOWED = 10;
const FAILURE_WINDOW_MS = 60_000;

/** Redis errors in the admin checks answer 503 store_unavailable, like the routes behind them. */
async function inStore<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new StoreUnavailableError(`admin ${what}: Redis did not answer`, err);
  }
}

/**
 * Sessions of the /admin login. The cookie holds a random 256-bit id; Redis holds
 * only `HMAC(admin token, id)` as the key (`<prefix>:admin:session:<hmac>`), with
 * the session's expiry. So Redis holds nothing a cookie could be made from, logout
 * deletes the key, and a new admin token ends every session (its keys no longer match).
 */
export class AdminSessions {
  constructor(private readonly hub: Hub, private readonly token: string) {}

  private key(id: string): string {
    return this.hub.store.k('admin', 'session', createHmac('sha256', this.token).update(id).digest('base64url'));
  }

  async create(): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await inStore('login', () => this.hub.redis.set(this.key(id), new Date().toISOString(), 'EX', SESSION_SECONDS));
    return id;
  }

  async isValid(id: string): Promise<boolean> {
    // A well-formed id is 43 base64url characters; anything else is not looked up.
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return false;
    return (await inStore('session check', () => this.hub.redis.exists(this.key(id)))) === 1;
  }

  async revoke(id: string): Promise<void> {
    await inStore('logout', () => this.hub.redis.del(this.key(id)));
  }
}

/**
 * Failed admin token checks per client address (login form, Bearer and basic
 * auth alike), in a fixed one-minute window in Redis. The address is kept as a
 * blind index, never in plaintext. A throttled address waits whatever it sends,
 * the right token included, so the answer tells a guesser nothing.
 */
export class LoginThrottle {
  constructor(private readonly hub: Hub) {}

  private key(address: string): string {
    return this.hub.store.k('admin', 'failures', this.hub.config.keyring.blindIndex(`admin-client:${address}`));
  }

  /** Seconds the address must wait before its next attempt; 0 when it may try now. */
  async retryAfter(address: string): Promise<number> {
    const [count, ttl] = await inStore('throttle', async () => {
      const res = await this.hub.redis.multi().get(this.key(address)).pttl(this.key(address)).exec();
      return [Number(res?.[0]?.[1] ?? 0), Number(res?.[1]?.[1] ?? -2)];
    });
    if (count < LOGIN_FAILURES_ALLOWED) return 0;
    return ttl > 0 ? Math.ceil(ttl / 1000) : 1;
  }

  async recordFailure(address: string): Promise<void> {
    const key = this.key(address);
    // The first failure opens the window; INCR keeps its expiry.
    await inStore('throttle', () => this.hub.redis.multi().set(key, '0', 'PX', FAILURE_WINDOW_MS, 'NX').incr(key).exec());
  }
}

/** How long a one-time login link works (`synchub start --demo` prints one). */
export const LOGIN_CODE_SECONDS = 10 * 60;

/**
 * One-time login links: a random 256-bit code, exchanged once for a session cookie at
 * `/admin/login/link?code=…`. The link carries the code, never the admin token, and stops
 * working when used or after LOGIN_CODE_SECONDS. Redis keeps only `HMAC(admin token, code)`
 * (`<prefix>:admin:login-code:<hmac>`), taken with GETDEL so two visits cannot both log in.
 */
export class AdminLoginCodes {
  constructor(private readonly hub: Hub, private readonly token: string) {}

  private key(code: string): string {
    return this.hub.store.k('admin', 'login-code', createHmac('sha256', this.token).update(code).digest('base64url'));
  }

  async create(): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    await inStore('login link', () => this.hub.redis.set(this.key(code), new Date().toISOString(), 'EX', LOGIN_CODE_SECONDS));
    return code;
  }

  /** True once per code, while it is fresh; false for anything else. */
  async redeem(code: string): Promise<boolean> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(code)) return false;
    return (await inStore('login link', () => this.hub.redis.getdel(this.key(code)))) !== null;
  }
}

/** A one-time login link to the admin page of the hub at `baseUrl` (needs server.adminToken). */
export async function oneTimeLoginLink(hub: Hub, baseUrl: string): Promise<string> {
  const token = hub.config.server.adminToken;
  if (!token) throw new Error('a login link needs server.adminToken');
  return `${baseUrl.replace(/\/+$/, '')}/admin/login/link?code=${await new AdminLoginCodes(hub, token).create()}`;
}
