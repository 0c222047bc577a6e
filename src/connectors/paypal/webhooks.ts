import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import type { HttpClient } from '../http.js';
import { jsonBody } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';

export const PAYPAL_EVENTS = new Set(['PAYMENT.CAPTURE.COMPLETED', 'PAYMENT.CAPTURE.DENIED', 'PAYMENT.CAPTURE.REFUNDED', 'PAYMENT.CAPTURE.PENDING', 'CHECKOUT.ORDER.APPROVED']);
export const HEADERS = ['paypal-auth-algo', 'paypal-cert-url', 'paypal-transmission-id', 'paypal-transmission-sig', 'paypal-transmission-time'] as const;

/**
 * PayPal webhooks are verified by PayPal itself: the five PAYPAL-* transmission headers,
 * the webhook id and the event go to `POST /v1/notifications/verify-webhook-signature`;
 * only `verification_status: SUCCESS` is accepted. If PayPal cannot be asked, the
 * delivery is refused with 503 (PayPal retries), never accepted unverified.
 *
 * PayPal checks the signature against the bytes it sent, so `webhook_event` is the raw
 * body spliced in as text: a re-serialised event (`1.0` → `1`, `\u00e9` → `é`, `\/` → `/`,
 * spacing, key order) fails verification. See verifyRequestBody.
 */
export function paypalWebhooks(http: HttpClient, webhookId: string): WebhookHandler {
  return {
    async verify(req: WebhookRequest, signal?: AbortSignal): Promise<WebhookDelivery> {
      const event = paypalEvent(req);
      const res = await http.request<{ verification_status?: string }>({
        method: 'POST', url: '/v1/notifications/verify-webhook-signature', signal,
        headers: { 'content-type': 'application/json' },
        data: verifyRequestBody(req, webhookId),
      });
      if (res.data?.verification_status !== 'SUCCESS') throw new WebhookSignatureError(`PayPal did not verify the delivery (${res.data?.verification_status ?? 'no status'})`);
      return paypalDelivery(event);
    },
  };
}

export interface PaypalEvent { id: string; event_type: string; create_time?: string; resource: unknown }

/** The transmission headers present and the body a PayPal event (checked before any verification work). */
export function paypalEvent(req: WebhookRequest): PaypalEvent {
  const missing = HEADERS.filter((h) => !req.headers[h]);
  if (missing.length) throw new WebhookSignatureError(`missing ${missing.join(', ')}`);
  const event = jsonBody<Partial<PaypalEvent>>(req);
  if (!event?.id || !event.event_type || !event.resource) throw new WebhookMalformedError('body is not a PayPal webhook event');
  return event as PaypalEvent;
}

/** A verified event as the hub's delivery: payment events only, deduped on the event id. */
export function paypalDelivery(event: PaypalEvent): WebhookDelivery {
  if (!PAYPAL_EVENTS.has(event.event_type)) return { events: [] };
  return { events: [{ id: event.id, topic: event.event_type, entity: 'payment', record: event, occurredAt: event.create_time }] };
}

/**
 * The verify-webhook-signature request as JSON text: the transmission headers and the
 * webhook id serialised, then `"webhook_event":` followed by the delivery's body exactly
 * as it arrived (already checked to be a JSON object by the caller), then `}`.
 */
export function verifyRequestBody(req: WebhookRequest, webhookId: string): string {
  const fields = JSON.stringify({
    auth_algo: req.headers['paypal-auth-algo'], cert_url: req.headers['paypal-cert-url'], transmission_id: req.headers['paypal-transmission-id'],
    transmission_sig: req.headers['paypal-transmission-sig'], transmission_time: req.headers['paypal-transmission-time'], webhook_id: webhookId,
  });
  return `${fields.slice(0, -1)},"webhook_event":${req.rawBody.toString('utf8')}}`;
}
