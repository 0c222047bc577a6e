import { createHmac } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import { contentDedupeId, jsonBody } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';

/** X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body with the webhook's secret. */
export function verifyWooSignature(rawBody: Buffer, header: string | undefined, secret: string): boolean {
  if (!header) return false;
  return safeEqual(createHmac('sha256', secret).update(rawBody).digest('base64'), header.trim());
}

/** Topics whose deliveries the hub syncs, and what `synchub webhooks subscribe` creates (subscriptions.ts). */
export const WOO_TOPICS: Record<string, Entity> = {
  'order.created': 'order',
  'order.updated': 'order',
  'order.deleted': 'order',
  'order.restored': 'order',
  'customer.created': 'customer',
  'customer.updated': 'customer',
  'customer.deleted': 'customer',
};

/**
 * When a webhook is saved, WooCommerce posts an unsigned form body `webhook_id=N`
 * with no topic to check the URL. It gets 200 and nothing is stored.
 */
function isPing(req: WebhookRequest): boolean {
  return !req.headers['x-wc-webhook-topic'] && /^webhook_id=\d+$/.test(req.rawBody.toString('utf8').trim());
}

export function wooWebhooks(secret: string): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      if (isPing(req)) return { events: [], reply: { status: 200, body: '{"ok":true,"ping":true}', contentType: 'application/json' } };
      if (!verifyWooSignature(req.rawBody, req.headers['x-wc-webhook-signature'], secret)) {
        throw new WebhookSignatureError('X-WC-Webhook-Signature is missing or does not match the body');
      }
      const topic = req.headers['x-wc-webhook-topic'];
      const deliveryId = req.headers['x-wc-webhook-delivery-id'];
      if (!topic || !deliveryId) throw new WebhookMalformedError('X-WC-Webhook-Topic and X-WC-Webhook-Delivery-ID are required');
      const body = jsonBody<Record<string, unknown>>(req);
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new WebhookMalformedError('body is not a JSON object');
      const entity = WOO_TOPICS[topic];
      if (!entity) return { events: [] };
      if (body.id === undefined) throw new WebhookMalformedError(`${topic} body has no id`);
      const id = `${req.headers['x-wc-webhook-id'] ?? 'wc'}:${deliveryId}`;
      // The delivery id is not signed: the body's hash dedupes a replay under a new id.
      const contentId = contentDedupeId(req.rawBody);
      // A deleted order's body is only `{ id }`: fetch it. WooCommerce sends order.deleted when an order
      // is trashed too: a trashed order comes back with status "trash" and is synced as such; one the
      // store no longer has was deleted.
      if (topic === 'order.deleted') return { events: [{ id, contentId, topic, entity, ref: String(body.id), deletion: 'if_gone' }] };
      // Customers are deleted outright (WordPress users have no trash).
      if (topic === 'customer.deleted') return { events: [{ id, contentId, topic, entity, ref: String(body.id), deletion: 'always' }] };
      return { events: [{ id, contentId, topic, entity, record: body, occurredAt: typeof body.date_modified_gmt === 'string' ? `${body.date_modified_gmt}Z` : undefined }] };
    },
  };
}
