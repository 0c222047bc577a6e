import { createHmac } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import { jsonBody } from '../shared.js';
import type { WebhookDelivery, WebhookEvent, WebhookHandler, WebhookRequest } from '../types.js';

/**
 * HubSpot's docs ("Validate the v3 request signature"): reject a request whose timestamp is
 * older than 5 minutes. A timestamp further than that in the future is refused too: a
 * signature dated ahead would otherwise stay replayable until its date.
 */
export const HUBSPOT_MAX_AGE_MS = 5 * 60 * 1000;

/**
 * Webhooks v3: X-HubSpot-Signature-v3 is base64 HMAC-SHA256, keyed with the app's
 * client secret, of method + URI + raw body + X-HubSpot-Request-Timestamp (ms).
 */
export function verifyHubspotV3(opts: { method: string; uri: string; rawBody: Buffer; timestamp: string | undefined; signature: string | undefined; secret: string; now?: number }): boolean {
  if (!opts.signature || !opts.timestamp || !/^\d+$/.test(opts.timestamp)) return false;
  const age = (opts.now ?? Date.now()) - Number(opts.timestamp);
  if (Math.abs(age) > HUBSPOT_MAX_AGE_MS) return false;
  const expected = createHmac('sha256', opts.secret)
    .update(`${opts.method.toUpperCase()}${opts.uri}`)
    .update(opts.rawBody)
    .update(opts.timestamp)
    .digest('base64');
  return safeEqual(expected, opts.signature.trim());
}

function entityOf(subscriptionType: string): Entity | undefined {
  const object = subscriptionType.split('.')[0];
  return object === 'contact' ? 'customer' : object === 'deal' ? 'order' : undefined;
}

/**
 * @param publicUrl the URL registered in HubSpot, when the hub sits behind a proxy
 *   that changes scheme or host (the signature covers the URI HubSpot called).
 */
export function hubspotWebhooks(secret: string, publicUrl?: string): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      const uri = publicUrl ? publicUrl + (new URL(req.url).search ?? '') : req.url;
      const ok = verifyHubspotV3({
        method: req.method, uri, rawBody: req.rawBody, timestamp: req.headers['x-hubspot-request-timestamp'],
        signature: req.headers['x-hubspot-signature-v3'], secret,
      });
      if (!ok) throw new WebhookSignatureError('X-HubSpot-Signature-v3 is missing, more than 5 minutes away (stale or dated ahead) or does not match');
      const body = jsonBody<unknown>(req);
      if (!Array.isArray(body)) throw new WebhookMalformedError('body is not an array of events');
      const events: WebhookEvent[] = [];
      for (const e of body as Record<string, unknown>[]) {
        if (!e || e.eventId === undefined || typeof e.subscriptionType !== 'string' || e.objectId === undefined) {
          throw new WebhookMalformedError('every event needs eventId, subscriptionType and objectId');
        }
        const entity = entityOf(e.subscriptionType);
        // Objects we do not sync are acknowledged, not stored.
        if (!entity) continue;
        // contact.deletion / deal.deletion: the object is gone (or archived); nothing to fetch.
        const deletion = e.subscriptionType.endsWith('.deletion') ? { deletion: 'always' as const } : {};
        events.push({
          id: String(e.eventId), topic: e.subscriptionType, entity, ref: String(e.objectId),
          occurredAt: typeof e.occurredAt === 'number' ? new Date(e.occurredAt).toISOString() : undefined, ...deletion,
        });
      }
      return { events };
    },
  };
}
