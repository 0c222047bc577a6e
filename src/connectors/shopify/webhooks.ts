import { createHmac } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import { contentDedupeId, jsonBody } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';
import { bulkWakeKey } from './bulk.js';

/** X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body with the app's webhook secret. */
export function verifyShopifyHmac(rawBody: Buffer, header: string | undefined, secret: string): boolean {
  if (!header) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest('base64');
  return safeEqual(expected, header.trim());
}

/** Topics whose body is the record itself. refunds/create carries a refund: the order is fetched by order_id. */
const TOPIC_ENTITY: Record<string, Entity> = {
  'orders/create': 'order',
  'orders/updated': 'order',
  'orders/paid': 'order',
  'orders/cancelled': 'order',
  'orders/fulfilled': 'order',
  'orders/partially_fulfilled': 'order',
  'customers/create': 'customer',
  'customers/update': 'customer',
};

export function shopifyWebhooks(secret: string): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      if (!verifyShopifyHmac(req.rawBody, req.headers['x-shopify-hmac-sha256'], secret)) {
        throw new WebhookSignatureError('X-Shopify-Hmac-Sha256 is missing or does not match the body');
      }
      const topic = req.headers['x-shopify-topic'];
      const webhookId = req.headers['x-shopify-webhook-id'];
      if (!topic || !webhookId) throw new WebhookMalformedError('X-Shopify-Topic and X-Shopify-Webhook-Id are required');
      // A header sent twice reaches us joined with ", " (see routes/raw-body.ts); no topic or id holds a comma.
      if (topic.includes(',') || webhookId.includes(',')) throw new WebhookMalformedError('X-Shopify-Topic and X-Shopify-Webhook-Id must each be sent once');
      const body = jsonBody<Record<string, unknown>>(req);
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new WebhookMalformedError('body is not a JSON object');
      const occurredAt = req.headers['x-shopify-triggered-at'];
      // X-Shopify-Webhook-Id is not signed: the body's hash dedupes a replay under a new id.
      const contentId = contentDedupeId(req.rawBody);
      if (topic === 'refunds/create') {
        if (body.order_id === undefined) throw new WebhookMalformedError('refund has no order_id');
        return { events: [{ id: webhookId, contentId, topic, entity: 'order', ref: String(body.order_id), occurredAt }] };
      }
      if (topic === 'bulk_operations/finish') {
        // The operation finished (completed, failed or cancelled): the page job waiting for it polls now (bulk.ts).
        const id = body.admin_graphql_api_id;
        if (typeof id !== 'string' || !/^gid:\/\/shopify\/BulkOperation\/\d{1,20}$/.test(id)) throw new WebhookMalformedError('bulk_operations/finish body has no BulkOperation admin_graphql_api_id');
        return { events: [], wake: [bulkWakeKey(id)] };
      }
      const entity = TOPIC_ENTITY[topic];
      // Topics we do not sync are verified and acknowledged, not stored.
      if (!entity) return { events: [] };
      if (body.id === undefined) throw new WebhookMalformedError(`${topic} body has no id`);
      return { events: [{ id: webhookId, contentId, topic, entity, record: body, occurredAt }] };
    },
  };
}
