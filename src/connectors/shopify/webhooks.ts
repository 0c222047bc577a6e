import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import { jsonBody, signedContentId } from '../shared.js';
import type { PrivacyRequest, WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';
import { bulkWakeKey } from './bulk.js';

/** X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body with the app's webhook secret. */
export function verifyShopifyHmac(rawBody: Buffer, header: string | undefined, secret: string | KeyObject): boolean {
  return shopifyBodyMac(rawBody, header, secret) !== undefined;
}

/** The body's HMAC-SHA256 under the secret when X-Shopify-Hmac-Sha256 is that HMAC; undefined otherwise. */
function shopifyBodyMac(rawBody: Buffer, header: string | undefined, secret: string | KeyObject): Buffer | undefined {
  if (!header) return undefined;
  const mac = createHmac('sha256', secret).update(rawBody).digest();
  return safeEqual(mac.toString('base64'), header.trim()) ? mac : undefined;
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

/**
 * The mandatory compliance topics ("Privacy law compliance", shopify.dev/docs/apps/build/compliance/privacy-law-compliance):
 * customers/data_request `{ shop_id, shop_domain, orders_requested, customer: { id, email, phone }, data_request: { id } }`,
 * customers/redact `{ shop_id, shop_domain, customer: { id, email, phone }, orders_to_redact }`,
 * shop/redact `{ shop_id, shop_domain }` (sent 48 hours after the app is uninstalled).
 */
const PRIVACY_TOPICS: Record<string, PrivacyRequest['kind']> = {
  'customers/data_request': 'customer_data_request',
  'customers/redact': 'customer_redact',
  'shop/redact': 'shop_redact',
};
/** Order ids one request may name: each costs a look-up and an erasure of its record. */
const MAX_PRIVACY_ORDERS = 10_000;

const idText = (v: unknown): string | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) || (typeof v === 'string' && /^\d{1,20}$/.test(v)) ? String(v) : undefined;

function privacyRequest(body: Record<string, unknown>, id: string, contentId: string | undefined, topic: string, kind: PrivacyRequest['kind']): PrivacyRequest {
  if (kind === 'shop_redact') return { id, contentId, topic, kind };
  const customer = body.customer;
  if (!customer || typeof customer !== 'object' || Array.isArray(customer)) throw new WebhookMalformedError(`${topic} body has no customer object`);
  const c = customer as Record<string, unknown>;
  const email = typeof c.email === 'string' && c.email.length <= 320 && c.email.includes('@') ? c.email : undefined;
  const customerId = idText(c.id);
  if (!email && !customerId) throw new WebhookMalformedError(`${topic} names its customer by neither id nor email`);
  const list = body[kind === 'customer_redact' ? 'orders_to_redact' : 'orders_requested'] ?? [];
  if (!Array.isArray(list) || list.length > MAX_PRIVACY_ORDERS) throw new WebhookMalformedError(`${topic}: the order list is not an array of at most ${MAX_PRIVACY_ORDERS} ids`);
  const orders = list.map(idText);
  if (orders.some((o) => o === undefined)) throw new WebhookMalformedError(`${topic}: an order id is not a number`);
  const dataRequest = body.data_request as { id?: unknown } | undefined;
  const requestId = idText(dataRequest?.id);
  return { id, contentId, topic, kind, customer: { ...(customerId ? { id: customerId } : {}), ...(email ? { email } : {}) }, orders: orders as string[], ...(requestId ? { requestId } : {}) };
}

const DELETE_TOPICS: Record<string, Entity> = { 'orders/delete': 'order', 'customers/delete': 'customer' };

export function shopifyWebhooks(secret: string): WebhookHandler {
  // Imported once, not on every delivery.
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      const mac = shopifyBodyMac(req.rawBody, req.headers['x-shopify-hmac-sha256'], key);
      if (!mac) throw new WebhookSignatureError('X-Shopify-Hmac-Sha256 is missing or does not match the body');
      const topic = req.headers['x-shopify-topic'];
      const webhookId = req.headers['x-shopify-webhook-id'];
      if (!topic || !webhookId) throw new WebhookMalformedError('X-Shopify-Topic and X-Shopify-Webhook-Id are required');
      // A header sent twice reaches us joined with ", " (see routes/raw-body.ts); no topic or id holds a comma.
      if (topic.includes(',') || webhookId.includes(',')) throw new WebhookMalformedError('X-Shopify-Topic and X-Shopify-Webhook-Id must each be sent once');
      const body = jsonBody<Record<string, unknown>>(req);
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new WebhookMalformedError('body is not a JSON object');
      const occurredAt = req.headers['x-shopify-triggered-at'];
      // X-Shopify-Webhook-Id is not signed: the body's signature, checked above, dedupes a replay under a new id.
      const contentId = signedContentId(mac);
      if (topic === 'refunds/create') {
        if (body.order_id === undefined) throw new WebhookMalformedError('refund has no order_id');
        return { events: [{ id: webhookId, contentId, topic, entity: 'order', ref: String(body.order_id), occurredAt }] };
      }
      const privacy = PRIVACY_TOPICS[topic];
      if (privacy) return { events: [], privacy: [privacyRequest(body, webhookId, contentId, topic, privacy)] };
      if (topic === 'bulk_operations/finish') {
        // The operation finished (completed, failed or cancelled): the page job waiting for it polls now (bulk.ts).
        const id = body.admin_graphql_api_id;
        if (typeof id !== 'string' || !/^gid:\/\/shopify\/BulkOperation\/\d{1,20}$/.test(id)) throw new WebhookMalformedError('bulk_operations/finish body has no BulkOperation admin_graphql_api_id');
        return { events: [], wake: [bulkWakeKey(id)] };
      }
      // orders/delete and customers/delete: the body is the deleted record's id (and a few fields); nothing to fetch.
      const deleted = DELETE_TOPICS[topic];
      if (deleted) {
        if (idText(body.id) === undefined) throw new WebhookMalformedError(`${topic} body has no id`);
        return { events: [{ id: webhookId, contentId, topic, entity: deleted, ref: String(body.id), occurredAt, deletion: 'always' }] };
      }
      const entity = TOPIC_ENTITY[topic];
      // Topics we do not sync are verified and acknowledged, not stored.
      if (!entity) return { events: [] };
      if (body.id === undefined) throw new WebhookMalformedError(`${topic} body has no id`);
      return { events: [{ id: webhookId, contentId, topic, entity, record: body, recordJson: req.rawBody, occurredAt }] };
    },
  };
}
