import { createHash } from 'node:crypto';
import { RemoteRejectedError, RemoteUnavailableError, SynchubError, WebhookMalformedError } from '../core/errors.js';
import { jsonDepthOver, MAX_JSON_DEPTH } from '../core/json-limits.js';
import type { PushItem, PushOutcome, WebhookRequest } from './types.js';

/** A webhook body parsed as JSON, or WebhookMalformedError (400) when it is not JSON or nests too deep. */
export function jsonBody<T = Record<string, any>>(req: WebhookRequest): T {
  return parseWebhookJson<T>(req.rawBody.toString('utf8'));
}

/** JSON text from a webhook (a body, a decrypted resource), with the depth limit of MAX_JSON_DEPTH. */
export function parseWebhookJson<T = Record<string, any>>(text: string, what = 'body'): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WebhookMalformedError(`${what} is not JSON`);
  }
  if (jsonDepthOver(value)) throw new WebhookMalformedError(`${what} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  return value as T;
}

/**
 * The content dedupe key of a signed body (WebhookEvent.contentId): a captured body replayed
 * under a new, unsigned delivery id is then still a duplicate. Two deliveries of one
 * byte-identical signed body carry the same data, so keeping the first loses nothing.
 */
export function contentDedupeId(rawBody: Buffer): string {
  return `body:${createHash('sha256').update(rawBody).digest('hex')}`;
}

/**
 * The content dedupe key of a body whose signature is the HMAC-SHA256 of exactly its bytes under
 * the connection's one secret (Shopify), from that HMAC once checked, instead of hashing the body
 * again: under one key, equal bodies have equal HMACs and different bodies (in practice) never
 * do, and dedupe marks are kept per connection, so it dedupes as contentDedupeId does. Being
 * keyed, it also does not let a short body be guessed from its mark.
 */
export function signedContentId(mac: Buffer): string {
  return `sig:${mac.toString('hex')}`;
}

/**
 * A push that fails part-way: once some of its calls have succeeded, a connector never throws
 * (the job would send everything again). The items already answered keep their outcomes and
 * each item not done carries the failure, so the job layer records the successes and retries
 * or waits for the rest only. Before any item is answered the failure is thrown as it is.
 */
export function outcomesWithRest(done: PushOutcome[], rest: PushItem[], failure: unknown): PushOutcome[] {
  if (!done.length) throw failure;
  const error = failure instanceof SynchubError ? failure : new RemoteUnavailableError(`push stopped: ${(failure as Error)?.message ?? String(failure)}`, { cause: failure });
  return [...done, ...rest.map((i): PushOutcome => ({ key: i.key, ok: false, error }))];
}

/**
 * For APIs without a batch write: one call per record. A record the API refuses is that
 * record's outcome (dead-lettered alone); any other failure stops the batch: the records
 * not written yet carry it (see outcomesWithRest), the ones written stay written.
 */
export async function pushEach(items: PushItem[], write: (item: PushItem) => Promise<string>): Promise<PushOutcome[]> {
  const out: PushOutcome[] = [];
  for (const [n, item] of items.entries()) {
    try {
      out.push({ key: item.key, ok: true, externalId: await write(item) });
    } catch (error) {
      if (error instanceof RemoteRejectedError) out.push({ key: item.key, ok: false, error });
      else return outcomesWithRest(out, items.slice(n), error);
    }
  }
  return out;
}
