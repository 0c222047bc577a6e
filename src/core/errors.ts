/**
 * Domain errors. Connectors and stages throw these; the job layer alone decides
 * from `code` (and `retryable`) whether to retry, wait or dead-letter.
 */
export type ErrorCode =
  | 'config_invalid'
  | 'mapping_failed'
  | 'validation_failed'
  | 'not_supported'
  | 'rate_limited'
  | 'auth_failed'
  | 'remote_rejected'
  | 'remote_unavailable'
  | 'timeout'
  | 'webhook_signature'
  | 'webhook_malformed'
  | 'webhook_unknown_connection'
  | 'order_not_found'
  | 'webhook_too_large'
  | 'store_unavailable'
  | 'decrypt_failed'
  | 'not_found'
  | 'conflict'
  // a record whose unique key another record holds (src/operations/uniqueness.ts)
  | 'duplicate'
  // admin API
  | 'unauthorized'
  | 'invalid_request'
  | 'confirmation_required'
  | 'pipeline_paused'
  | 'notify_failed'
  // sources that export asynchronously (a Shopify bulk operation)
  | 'source_not_ready'
  | 'source_failed';

export interface ErrorJson {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export class SynchubError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  /** Whether trying the same call again may succeed. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, opts: { details?: unknown; retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = opts.details;
    this.retryable = opts.retryable ?? false;
  }

  toJSON(): ErrorJson {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export class ConfigError extends SynchubError {
  /** One line per problem, each starting with the config path. */
  readonly problems: string[];
  constructor(problems: string[], file?: string) {
    super('config_invalid', `${file ? `${file}: ` : ''}invalid configuration\n  ${problems.join('\n  ')}`, { details: problems });
    this.problems = problems;
  }
}

export class MappingError extends SynchubError {
  constructor(message: string, details?: { file?: string; position?: number; line?: number; column?: number; token?: string; jsonataCode?: string }) {
    super('mapping_failed', message, { details });
  }
}

export class ValidationError extends SynchubError {
  constructor(entity: string, errors: { path: string; message: string }[]) {
    super('validation_failed', `${entity} failed validation: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`, { details: errors });
  }
}

/** A capability the connector does not have (yet). Its metadata says the same. */
export class NotSupportedError extends SynchubError {
  /** @param how what to do instead, when there is another way (appended to the message). */
  constructor(readonly what: string, readonly how?: string) {
    super('not_supported', `${what} is not supported${how ? `: ${how}` : ''}`);
  }
}

export class RateLimitedError extends SynchubError {
  /** How long the API asked us to wait before the next call. */
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, details?: unknown) {
    super('rate_limited', message, { details, retryable: true });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The source prepares its answer in the background (a Shopify bulk operation still running):
 * the pull job comes back after `retryAfterMs` without holding a worker or using an attempt.
 */
export class SourceNotReadyError extends SynchubError {
  readonly retryAfterMs: number;
  /** Names what the job waits for, so the source's own "done" notice can wake it early (src/jobs/source-wake.ts). */
  readonly wakeKey?: string;
  constructor(message: string, retryAfterMs: number, opts: { details?: unknown; wakeKey?: string } = {}) {
    super('source_not_ready', message, { details: opts.details, retryable: true });
    this.retryAfterMs = retryAfterMs;
    this.wakeKey = opts.wakeKey;
  }
}

/**
 * The source's own export failed for good (a bulk operation FAILED, CANCELED or EXPIRED, or
 * refused): the run fails at once with the source's code, its cursor unmoved; pulling the
 * same page again cannot succeed.
 */
export class SourceFailedError extends SynchubError {
  /** The source's own error code (Shopify: TIMEOUT, ACCESS_DENIED, INTERNAL_SERVER_ERROR, CANCELED, …). */
  readonly sourceCode: string;
  constructor(message: string, sourceCode: string, details?: unknown) {
    super('source_failed', message, { details });
    this.sourceCode = sourceCode;
  }
}

export class AuthFailedError extends SynchubError {
  constructor(connection: string, message: string, details?: unknown) {
    super('auth_failed', `connection ${connection}: ${message}`, { details });
  }
}

/** The remote API refused the request or one record for good (4xx other than 408/409/429). */
export class RemoteRejectedError extends SynchubError {
  readonly status?: number;
  constructor(message: string, opts: { status?: number; details?: unknown } = {}) {
    super('remote_rejected', message, { details: opts.details });
    this.status = opts.status;
  }
}

/** Network error, timeout, 408, 409, 5xx: the same call may work later. */
export class RemoteUnavailableError extends SynchubError {
  readonly status?: number;
  constructor(message: string, opts: { status?: number; details?: unknown; cause?: unknown } = {}) {
    super('remote_unavailable', message, { details: opts.details, retryable: true, cause: opts.cause });
    this.status = opts.status;
  }
}

export class WebhookSignatureError extends SynchubError {
  constructor(message: string) {
    super('webhook_signature', message);
  }
}

/**
 * A delivery the provider signed wrong on purpose to see that the receiver checks (WeChat Pay's
 * signature probes): refused like any bad signature (401), but logged as a probe, not an attack.
 */
export class WebhookProbeError extends WebhookSignatureError {}

export class WebhookMalformedError extends SynchubError {
  constructor(message: string) {
    super('webhook_malformed', message);
  }
}

export class StoreUnavailableError extends SynchubError {
  constructor(message: string, cause?: unknown) {
    super('store_unavailable', message, { retryable: true, cause });
  }
}

export class DecryptError extends SynchubError {
  constructor(message: string) {
    super('decrypt_failed', message);
  }
}

/**
 * A record's unique key (a `unique:` rule) is held by another record: it names that record by
 * its connection and id, never by the value they share (the value may be personal).
 */
export class DuplicateError extends SynchubError {
  constructor(entity: string, rule: string, holder: { connection: string; externalId: string; key: string }) {
    super('duplicate', `${entity} collides under unique rule "${rule}" with ${holder.connection} ${entity} ${holder.externalId} (canonical ${holder.key}); resolve it at the source, then replay`, { details: { rule, ...holder } });
  }
}

/** A pipeline an admin paused takes no new runs (scheduled or manual) until resumed. */
export class PipelinePausedError extends SynchubError {
  constructor(pipeline: string) {
    super('pipeline_paused', `pipeline ${pipeline} is paused; resume it first`);
  }
}

export function isSynchubError(err: unknown): err is SynchubError {
  return err instanceof SynchubError;
}

/** Turns anything thrown into a SynchubError-shaped JSON for dead letters and logs. */
export function errorToJson(err: unknown): ErrorJson {
  if (err instanceof SynchubError) return err.toJSON();
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'remote_unavailable', message };
}
