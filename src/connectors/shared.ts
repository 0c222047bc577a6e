import { RemoteRejectedError, WebhookMalformedError } from '../core/errors.js';
import type { PushItem, PushOutcome, WebhookRequest } from './types.js';

/** A webhook body parsed as JSON, or WebhookMalformedError (400). */
export function jsonBody<T = Record<string, any>>(req: WebhookRequest): T {
  try {
    return JSON.parse(req.rawBody.toString('utf8')) as T;
  } catch {
    throw new WebhookMalformedError('body is not JSON');
  }
}

/**
 * For APIs without a batch write: one call per record. A record the API refuses is that
 * record's outcome (dead-lettered alone); any other failure stops the batch (retried).
 */
export async function pushEach(items: PushItem[], write: (item: PushItem) => Promise<string>): Promise<PushOutcome[]> {
  const out: PushOutcome[] = [];
  for (const item of items) {
    try {
      out.push({ key: item.key, ok: true, externalId: await write(item) });
    } catch (error) {
      if (error instanceof RemoteRejectedError) out.push({ key: item.key, ok: false, error });
      else throw error;
    }
  }
  return out;
}
