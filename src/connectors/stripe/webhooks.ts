import { createHmac } from 'node:crypto';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import { jsonBody } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';

/** Events that carry a payment result; also those `synchub webhooks subscribe` enables on the hub's endpoint (subscriptions.ts). */
export const PAYMENT_EVENTS = new Set([
  'payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled', 'charge.refunded', 'charge.refund.updated',
]);

/** Customer events (snapshot events only): the customer, or its deletion. */
export const CUSTOMER_EVENTS = new Set(['customer.created', 'customer.updated', 'customer.deleted']);

/** The object a payment event's thin form names in `related_object.type`, by event type. */
export function thinRelatedType(type: string): string | undefined {
  if (!PAYMENT_EVENTS.has(type)) return undefined;
  return type === 'charge.refund.updated' ? 'refund' : type.split('.')[0];
}
/**
 * A thin event is stored as this prefix + its id (`evt_…`): the job reads the event from
 * `GET /v2/core/events/{id}` and the object it names (StripeClient.fetch), never the request.
 */
export const THIN_REF_PREFIX = 'v2.core.event:';

interface SnapshotEvent { id?: string; object?: string; type?: string; created?: number; data?: { object?: Record<string, unknown> } }
interface ThinEvent { id?: string; object?: string; type?: string; created?: string; related_object?: { id?: unknown; type?: unknown; url?: unknown } | null }

/**
 * `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`: HMAC-SHA256 (hex) of `t + "." + raw body`
 * with the endpoint secret. Any v1 matching any configured secret passes (secrets roll);
 * a timestamp more than `toleranceS` away is refused (replays).
 */
export function verifyStripeSignature(rawBody: Buffer, header: string | undefined, secrets: string[], toleranceS = 300, now = Date.now()): void {
  if (!header) throw new WebhookSignatureError('Stripe-Signature is missing');
  const parts = header.split(',').map((p) => p.trim().split('=') as [string, string]);
  const t = parts.find(([k]) => k === 't')?.[1];
  const v1 = parts.filter(([k]) => k === 'v1').map(([, v]) => v);
  if (!t || !/^\d+$/.test(t) || !v1.length) throw new WebhookSignatureError('Stripe-Signature has no t= or v1=');
  const signed = Buffer.concat([Buffer.from(`${t}.`), rawBody]);
  const ok = secrets.some((secret) => {
    const expected = createHmac('sha256', secret).update(signed).digest('hex');
    return v1.some((sig) => safeEqual(expected, sig));
  });
  if (!ok) throw new WebhookSignatureError('Stripe-Signature does not match the body');
  if (Math.abs(now / 1000 - Number(t)) > toleranceS) throw new WebhookSignatureError(`Stripe-Signature timestamp is more than ${toleranceS} s away`);
}

export function stripeWebhooks(secrets: string[], toleranceS = 300): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      verifyStripeSignature(req.rawBody, req.headers['stripe-signature'], secrets, toleranceS);
      const body = jsonBody<SnapshotEvent | ThinEvent>(req);
      if (body?.object === 'v2.core.event') return thinDelivery(body as ThinEvent);
      const event = body as SnapshotEvent;
      if (event?.object !== 'event' || typeof event.id !== 'string' || typeof event.type !== 'string' || !event.data?.object) {
        throw new WebhookMalformedError('body is not a Stripe event');
      }
      const occurredAt = typeof event.created === 'number' ? new Date(event.created * 1000).toISOString() : undefined;
      // Customer events carry the customer as the API lists it; customer.deleted names a customer that is gone.
      if (CUSTOMER_EVENTS.has(event.type)) {
        const customer = event.data.object;
        if (typeof customer.id !== 'string' || !customer.id) throw new WebhookMalformedError(`${event.type} has no customer id`);
        if (event.type === 'customer.deleted') return { events: [{ id: event.id, topic: event.type, entity: 'customer', ref: customer.id, occurredAt, deletion: 'always' }] };
        return { events: [{ id: event.id, topic: event.type, entity: 'customer', record: customer, occurredAt }] };
      }
      if (!PAYMENT_EVENTS.has(event.type)) return { events: [] };
      // A charge does not carry the PaymentIntent's metadata: the event is fetched again with it expanded.
      if (event.type.startsWith('charge.')) return { events: [{ id: event.id, topic: event.type, entity: 'payment', ref: event.id, occurredAt }] };
      return { events: [{ id: event.id, topic: event.type, entity: 'payment', record: event, occurredAt }] };
    },
  };
}

/**
 * A thin event (event destinations, docs.stripe.com/event-destinations): `type` is the
 * snapshot type with a `v1.` prefix, `related_object` names the object, there is no
 * `data.object`. The delivery keeps only a reference; dedupe is on the event id.
 */
function thinDelivery(event: ThinEvent): WebhookDelivery {
  if (typeof event.id !== 'string' || !event.id || typeof event.type !== 'string') throw new WebhookMalformedError('body is not a Stripe thin event (no id or type)');
  if (!event.type.startsWith('v1.')) return { events: [] };
  const type = event.type.slice(3);
  if (!PAYMENT_EVENTS.has(type)) return { events: [] };
  const related = event.related_object;
  if (!related || typeof related.id !== 'string' || !related.id || related.type !== thinRelatedType(type)) {
    throw new WebhookMalformedError(`thin event ${type} has no related_object of its kind`);
  }
  const at = typeof event.created === 'string' ? Date.parse(event.created) : NaN;
  return { events: [{ id: event.id, topic: type, entity: 'payment', ref: `${THIN_REF_PREFIX}${event.id}`, occurredAt: Number.isNaN(at) ? undefined : new Date(at).toISOString() }] };
}
