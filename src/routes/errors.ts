import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../core/errors.js';

/** HTTP status of each stable error code (the body is always `{ error: { code, message, details? } }`). */
export function httpStatusOf(code: ErrorCode | string): ContentfulStatusCode {
  switch (code) {
    case 'not_found':
    case 'webhook_unknown_connection': return 404;
    case 'unauthorized': return 401;
    case 'conflict':
    case 'pipeline_paused': return 409;
    case 'mapping_failed':
    case 'validation_failed': return 422;
    case 'webhook_too_large': return 413;
    case 'store_unavailable':
    case 'remote_unavailable': return 503;
    default: return 400;
  }
}
