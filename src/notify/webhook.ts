import { createHmac } from 'node:crypto';
import { HttpClient } from '../connectors/http.js';
import { safeEqual } from '../core/crypto.js';
import type { Logger } from '../core/logger.js';
import type { OrderEvent, WebhookSink } from './types.js';

/**
 * Signed outbound webhooks. The receiver checks
 *   X-Synchub-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 * against the raw body and refuses old timestamps (replays); X-Synchub-Event-Id is
 * stable across retries, so a receiver can drop a delivery it already has.
 */
export function signWebhook(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** For receivers (and tests): timing-safe check of a signature header, with a tolerance on its age. */
export function verifyWebhookSignature(secret: string, header: string, body: string, toleranceS = 300, now = Date.now()): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(now / 1000 - t) > toleranceS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return safeEqual(parts.v1, expected);
}

export async function deliverWebhook(sink: WebhookSink, name: string, event: OrderEvent, opts: { logger: Logger; attempt: number; signal?: AbortSignal }): Promise<{ status: number }> {
  // No in-call retries: the notify job retries with backoff and dead-letters after its last attempt.
  const http = new HttpClient({ connection: name, baseURL: '', settings: { timeoutMs: sink.timeoutMs, retries: 0, retryBaseMs: 1, maxInlineWaitMs: 0 }, logger: opts.logger });
  const body = JSON.stringify(event);
  const res = await http.request({
    method: 'POST', url: sink.url, data: body, signal: opts.signal,
    headers: {
      'content-type': 'application/json',
      'x-synchub-signature': signWebhook(sink.secret, body),
      'x-synchub-event': event.type,
      'x-synchub-event-id': event.id,
      'x-synchub-attempt': String(opts.attempt),
    },
  });
  return { status: res.status };
}
