import { AuthFailedError, SynchubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { HttpClient, type AuthProvider } from './http.js';
import type { RedisTokenStore } from './token-store.js';
import type { HttpSettings } from './types.js';

/**
 * OAuth 2 access tokens for a connection: client-credentials or refresh-token grant.
 *
 * - The token is cached until shortly before it expires (`expires_in` minus a margin);
 *   without `expires_in` (Salesforce) it is kept until an API call answers 401.
 * - One token request in flight per connection: concurrent callers wait for it.
 * - After a 401 the HTTP layer asks for exactly one refresh; callers that fail with
 *   the same stale token share that refresh instead of starting their own.
 * - A failed token request is an AuthFailedError naming the connection (the job
 *   layer pauses the connection's pushes on it). Tokens are never logged.
 * - With a `store` (Redis, sealed), the token is shared by every worker and process:
 *   one token request in flight per connection across all of them, and a rotated
 *   refresh token is persisted with its access token in one write, so no process and
 *   no restart ever sends a refresh token that was already used.
 */
export interface OAuthOptions {
  connection: string;
  tokenUrl: string;
  grant: 'client_credentials' | 'refresh_token';
  clientId: string;
  clientSecret: string;
  refreshToken?: string;
  /** Extra form fields of the token request, e.g. `{ scope: 'https://org.crm.dynamics.com/.default' }`. */
  params?: Record<string, string>;
  /** Client credentials in the form body (default) or as HTTP Basic. */
  clientAuth?: 'body' | 'basic';
  /** Authorization scheme of API calls: `Bearer` (default), `Zoho-oauthtoken`, … */
  scheme?: string;
  /** Refresh this long before expiry. Default 60 s. */
  marginMs?: number;
  settings: HttpSettings;
  logger: Logger;
  /** Called with the whole token answer (Salesforce returns instance_url there). */
  onToken?: (answer: Record<string, unknown>) => void;
  /** API calls carry the bare token in this header (Shopify: `x-shopify-access-token`) instead of `authorization`. */
  headerName?: string;
  /** An access token from config, used until it is refused or the store holds a newer one (expiring offline tokens). */
  initialToken?: string;
  /** Shares the token (and a rotating refresh token) between processes; see RedisTokenStore. */
  store?: RedisTokenStore;
}

interface Token { value: string; expiresAt: number }

export class OAuthTokenProvider implements AuthProvider {
  private token?: Token;
  private inflight?: Promise<Token>;
  private readonly http: HttpClient;
  /** Token requests made, for tests and metrics. */
  requests = 0;

  constructor(private readonly opts: OAuthOptions) {
    this.http = new HttpClient({
      connection: opts.connection, baseURL: '', settings: opts.settings, logger: opts.logger,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      describeError: (res) => {
        const d = res.data as { error?: string; error_description?: string } | undefined;
        return d?.error ? `${d.error}${d.error_description ? `: ${d.error_description}` : ''}` : undefined;
      },
    });
  }

  async headers(signal?: AbortSignal): Promise<Record<string, string>> {
    const t = this.token && Date.now() < this.token.expiresAt ? this.token : await this.fetchToken(signal);
    return this.header(t.value);
  }

  async refresh(signal?: AbortSignal, used?: Record<string, string>): Promise<boolean> {
    const name = this.opts.headerName ?? 'authorization';
    const stale = used?.[name];
    // Someone already replaced the token that failed: retry with the new one.
    if (stale && this.token && stale !== this.header(this.token.value)[name] && !this.inflight) return true;
    const staleValue = stale && !this.opts.headerName ? stale.slice(stale.indexOf(' ') + 1) : stale;
    this.refused = this.token?.value ?? staleValue ?? this.refused;
    this.token = undefined;
    await this.fetchToken(signal);
    return true;
  }

  /** The access token an API call refused: never handed out again. */
  private refused?: string;
  /** Without a store: the latest refresh token the endpoint answered (it rotates). */
  private rotated?: string;

  private header(value: string): Record<string, string> {
    if (this.opts.headerName) return { [this.opts.headerName]: value };
    return { authorization: `${this.opts.scheme ?? 'Bearer'} ${value}` };
  }

  private fetchToken(signal?: AbortSignal): Promise<Token> {
    this.inflight ??= this.obtain(signal).then((t) => {
      this.token = t;
      return t;
    }).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async obtain(signal?: AbortSignal): Promise<Token> {
    const o = this.opts;
    const initial = o.initialToken && o.initialToken !== this.refused ? { value: o.initialToken, expiresAt: Number.POSITIVE_INFINITY } : undefined;
    if (!o.store) {
      if (initial) return initial;
      const { token, refreshToken } = await this.requestToken(signal, this.rotated ?? o.refreshToken);
      this.rotated = refreshToken;
      return token;
    }
    const store = o.store;
    const seed = o.grant === 'refresh_token' && o.refreshToken ? store.seedOf(o.refreshToken) : undefined;
    // The stored pair wins over config's once it exists, unless config holds a new refresh token.
    const current = async () => {
      const s = await store.read();
      return s && s.seed === seed ? s : undefined;
    };
    const usable = (s: Awaited<ReturnType<typeof current>>): Token | undefined => {
      if (!s || s.accessToken === this.refused) return undefined;
      const expiresAt = s.expiresAt ?? Number.POSITIVE_INFINITY;
      return Date.now() < expiresAt ? { value: s.accessToken, expiresAt } : undefined;
    };
    const before = await current();
    const fast = usable(before) ?? (before ? undefined : initial);
    if (fast) return fast;
    return store.withLock(async () => {
      // Whoever held the lock before us may have stored a fresh token.
      const now = await current();
      const fresh = usable(now);
      if (fresh) return fresh;
      const { token, refreshToken } = await this.requestToken(signal, now?.refreshToken ?? o.refreshToken);
      await store.write({
        accessToken: token.value,
        expiresAt: Number.isFinite(token.expiresAt) ? token.expiresAt : null,
        ...(refreshToken ? { refreshToken } : {}),
        ...(seed ? { seed } : {}),
      });
      return token;
    }, signal);
  }

  /** One call to the token endpoint; the refresh token it answers (rotated) or the one it was given. */
  private async requestToken(signal: AbortSignal | undefined, refreshToken: string | undefined): Promise<{ token: Token; refreshToken?: string }> {
    const o = this.opts;
    const form = new URLSearchParams({ grant_type: o.grant, ...o.params });
    if (o.grant === 'refresh_token') form.set('refresh_token', refreshToken ?? '');
    const headers: Record<string, string> = {};
    if (o.clientAuth === 'basic') headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.clientSecret)}`).toString('base64')}`;
    else {
      form.set('client_id', o.clientId);
      form.set('client_secret', o.clientSecret);
    }
    this.requests++;
    let answer: Record<string, unknown>;
    try {
      const res = await this.http.request<Record<string, unknown>>({ method: 'POST', url: o.tokenUrl, data: form.toString(), headers, signal });
      answer = res.data ?? {};
    } catch (err) {
      if (err instanceof SynchubError && err.retryable && err.code !== 'rate_limited') throw err;
      const code = ((err as SynchubError).details as { body?: { error?: unknown } } | undefined)?.body?.error;
      const hint = code === 'invalid_grant' && o.grant === 'refresh_token'
        ? ' (the refresh token was refused: authorise the app again and put the new access and refresh tokens in config)'
        : '';
      throw new AuthFailedError(o.connection, `the token request to ${o.tokenUrl} failed: ${(err as Error).message}${hint}`);
    }
    const value = answer.access_token;
    // Zoho answers 200 with {"error":"invalid_code"} when a refresh token is wrong.
    if (typeof value !== 'string' || !value) {
      throw new AuthFailedError(o.connection, `the token endpoint ${o.tokenUrl} gave no access_token${answer.error ? ` (${String(answer.error)})` : ''}`);
    }
    o.onToken?.(answer);
    const ttl = Number(answer.expires_in);
    const expiresAt = Number.isFinite(ttl) && ttl > 0 ? Date.now() + ttl * 1000 - (o.marginMs ?? 60_000) : Number.POSITIVE_INFINITY;
    o.logger.info({ connection: o.connection, expiresInS: Number.isFinite(ttl) ? ttl : null }, 'oauth token obtained');
    const rotated = typeof answer.refresh_token === 'string' && answer.refresh_token ? answer.refresh_token : refreshToken;
    return { token: { value, expiresAt }, refreshToken: o.grant === 'refresh_token' ? rotated : undefined };
  }
}
