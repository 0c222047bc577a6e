import axios, { type AxiosInstance, type AxiosResponse, type Method } from 'axios';
import {
  AuthFailedError, RateLimitedError, RemoteRejectedError, RemoteUnavailableError, SynchubError,
} from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { HttpSettings } from './types.js';
import { httpEvents } from './http-events.js';

export interface HttpRequest {
  method: Method;
  /** Path relative to the client's baseURL, or an absolute URL (next-page links). */
  url: string;
  params?: Record<string, string | number | boolean | undefined>;
  data?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Statuses the caller handles itself instead of having them classified as errors (e.g. 207 multi-status). */
  accept?: number[];
  /** Keep the answer's body as text, exactly as received (answers whose signature covers the bytes). */
  rawText?: boolean;
  /** Parse the answer as usual and keep its bytes too (`body`), for a caller that keeps the page as received. */
  rawBody?: boolean;
}

export interface HttpResponse<T> {
  status: number;
  data: T;
  headers: Record<string, string>;
  /** The answer's bytes, when the request asked for `rawBody`. */
  body?: Buffer;
}

/** What axios's default JSON handling gives for a body: the parsed JSON, else the text ('' when empty). */
function parseBody(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (!text) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Supplies auth headers; `refresh` is called once after a 401 and returns whether retrying makes sense. */
export interface AuthProvider {
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  /** `used`: the auth headers the refused call carried, so concurrent 401s share one refresh. */
  refresh?(signal?: AbortSignal, used?: Record<string, string>): Promise<boolean>;
}

export interface HttpClientOptions {
  connection: string;
  baseURL: string;
  settings: HttpSettings;
  logger: Logger;
  headers?: Record<string, string>;
  auth?: AuthProvider;
  /** Query parameters sent with every call (e.g. an API's query-string credentials); never logged. */
  defaultParams?: Record<string, string>;
  /** Reads a connector's own rate-limit signals; returns how long to wait before the next call (ms). */
  throttle?: (res: HttpResponse<unknown>) => number;
  /** Reads a rate-limit signal hidden in a non-429 answer (e.g. Stripe's 400 rate_limit); returns wait ms or undefined. */
  rateLimitSignal?: (res: HttpResponse<unknown>) => number | undefined;
  /** Builds the message of a refused call from the API's error body. */
  describeError?: (res: HttpResponse<unknown>) => string | undefined;
  /** Sees every answer (errors included) before it is classified, e.g. to compare the API version it names. */
  observe?: (res: HttpResponse<unknown>) => void;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Retry-After is seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, Math.ceil(secs * 1000));
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export function backoffWithJitter(attempt: number, baseMs: number, capMs = 60_000): number {
  const exp = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

function flatHeaders(h: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined && v !== null) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

/**
 * The one HTTP layer every connector uses: timeouts and cancellation, auth,
 * classification of failures into the domain errors, in-call retries of
 * transient failures, Retry-After, and the connector's own throttle signals.
 */
export class HttpClient {
  private readonly axios: AxiosInstance;
  private pauseUntil = 0;

  constructor(private readonly opts: HttpClientOptions) {
    this.axios = axios.create({
      baseURL: opts.baseURL,
      timeout: opts.settings.timeoutMs,
      headers: { 'user-agent': 'synchub/0.1', accept: 'application/json', ...opts.headers },
      validateStatus: () => true,
      maxRedirects: 0,
    });
  }

  get connection(): string {
    return this.opts.connection;
  }

  async request<T>(req: HttpRequest): Promise<HttpResponse<T>> {
    const { settings } = this.opts;
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const pause = this.pauseUntil - Date.now();
      // A long pause asked by the API's own limit signals goes to the job layer, which waits without holding a job.
      if (pause > settings.maxInlineWaitMs) throw new RateLimitedError(`${this.opts.connection}: the API asked to slow down for ${Math.ceil(pause / 1000)} s`, pause);
      await sleep(pause, req.signal);
      // Auth failures (a refused token request) leave as they are; they are not network errors.
      const sentAuth = this.opts.auth ? await this.opts.auth.headers(req.signal) : {};
      let res: HttpResponse<T>;
      try {
        res = await this.send<T>(req, sentAuth);
      } catch (err) {
        if (req.signal?.aborted) throw err;
        const e = new RemoteUnavailableError(`${this.opts.connection}: ${req.method} ${req.url} failed: ${(err as Error).message}`, { cause: err });
        if (attempt < settings.retries) {
          await sleep(backoffWithJitter(attempt, settings.retryBaseMs), req.signal);
          continue;
        }
        throw e;
      }

      this.opts.observe?.(res as HttpResponse<unknown>);
      const wait = this.opts.throttle?.(res as HttpResponse<unknown>) ?? 0;
      if (wait > 0) this.pauseUntil = Math.max(this.pauseUntil, Date.now() + wait);

      if ((res.status >= 200 && res.status < 300) || req.accept?.includes(res.status)) return res;

      const error = this.classify(req, res as HttpResponse<unknown>);
      if (error instanceof AuthFailedError && res.status === 401 && this.opts.auth?.refresh && !refreshed) {
        refreshed = true;
        if (await this.opts.auth.refresh(req.signal, sentAuth)) continue;
      }
      if (error instanceof RateLimitedError) {
        if (attempt < settings.retries && error.retryAfterMs <= settings.maxInlineWaitMs) {
          const waitMs = error.retryAfterMs || backoffWithJitter(attempt, settings.retryBaseMs);
          httpEvents.emit('rateLimitWait', this.opts.connection, waitMs);
          await sleep(waitMs, req.signal);
          continue;
        }
        throw error;
      }
      if (error.retryable && attempt < settings.retries) {
        await sleep(backoffWithJitter(attempt, settings.retryBaseMs), req.signal);
        continue;
      }
      throw error;
    }
  }

  private async send<T>(req: HttpRequest, authHeaders: Record<string, string>): Promise<HttpResponse<T>> {
    const res = await this.axios.request({
      method: req.method,
      url: req.url,
      params: this.opts.defaultParams ? { ...this.opts.defaultParams, ...req.params } : req.params,
      data: req.data,
      headers: { ...authHeaders, ...req.headers },
      signal: req.signal,
      ...(req.rawText ? { responseType: 'text' as const, transformResponse: [(d: unknown) => d] } : {}),
      ...(req.rawBody ? { responseType: 'arraybuffer' as const, transformResponse: [(d: unknown) => d] } : {}),
    });
    if (req.rawBody) {
      const body = Buffer.isBuffer(res.data) ? res.data : Buffer.from(res.data as ArrayBuffer);
      return { status: res.status, data: parseBody(body) as T, headers: flatHeaders(res.headers), body };
    }
    return { status: res.status, data: res.data as T, headers: flatHeaders(res.headers) };
  }

  private classify(req: HttpRequest, res: HttpResponse<unknown>): SynchubError {
    const what = `${this.opts.connection}: ${req.method} ${req.url.split('?')[0]} answered ${res.status}`;
    const detail = this.opts.describeError?.(res);
    const message = detail ? `${what}: ${detail}` : what;
    const details = { status: res.status, body: truncateBody(res.data) };
    const hinted = this.opts.rateLimitSignal?.(res);
    if (res.status === 429 || hinted !== undefined) {
      return new RateLimitedError(message, hinted ?? parseRetryAfter(res.headers['retry-after']) ?? 0, details);
    }
    // A 503 that says when to come back is a wait, not a failure: it uses up no attempt.
    const after = res.status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
    if (after !== undefined) return new RateLimitedError(message, after, details);
    if (res.status === 401 || res.status === 403) return new AuthFailedError(this.opts.connection, `${req.method} ${req.url.split('?')[0]} answered ${res.status}${detail ? `: ${detail}` : ''}`, details);
    if (res.status === 408 || res.status === 409 || res.status >= 500) return new RemoteUnavailableError(message, { status: res.status, details });
    return new RemoteRejectedError(message, { status: res.status, details });
  }
}

function truncateBody(body: unknown): unknown {
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? null);
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : body;
}

export { sleep };
