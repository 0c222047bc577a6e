import { AuthFailedError, SynchubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { HttpClient, type AuthProvider } from './http.js';
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
    return { authorization: `${this.opts.scheme ?? 'Bearer'} ${t.value}` };
  }

  async refresh(signal?: AbortSignal, used?: Record<string, string>): Promise<boolean> {
    const stale = used?.authorization;
    // Someone already replaced the token that failed: retry with the new one.
    if (stale && this.token && stale !== `${this.opts.scheme ?? 'Bearer'} ${this.token.value}` && !this.inflight) return true;
    this.token = undefined;
    await this.fetchToken(signal);
    return true;
  }

  private fetchToken(signal?: AbortSignal): Promise<Token> {
    this.inflight ??= this.requestToken(signal).then((t) => {
      this.token = t;
      return t;
    }).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async requestToken(signal?: AbortSignal): Promise<Token> {
    const o = this.opts;
    const form = new URLSearchParams({ grant_type: o.grant, ...o.params });
    if (o.grant === 'refresh_token') form.set('refresh_token', o.refreshToken ?? '');
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
      throw new AuthFailedError(o.connection, `the token request to ${o.tokenUrl} failed: ${(err as Error).message}`);
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
    return { value, expiresAt };
  }
}
