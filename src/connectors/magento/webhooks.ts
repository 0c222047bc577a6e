import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { decodeBase64Strict } from '../../core/base64.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import { jsonBody } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';

/**
 * Adobe Commerce webhooks, with signature verification on: x-adobe-commerce-webhook-signature
 * is a base64 RSA-SHA256 signature of the raw body, checked with the public key of the
 * store's webhook key pair. (An RSA verify compares inside OpenSSL; there is no secret to leak by timing.)
 */
export function verifyAdobeSignature(rawBody: Buffer, header: string | undefined, publicKey: KeyObject): boolean {
  if (!header) return false;
  try {
    const signature = decodeBase64Strict(header.trim());
    return signature !== undefined && verify('sha256', rawBody, publicKey, signature);
  } catch {
    return false;
  }
}

const ENTITY_KEYS: [string, Entity][] = [['order', 'order'], ['customer', 'customer']];

export function magentoWebhooks(publicKeyPem: string): WebhookHandler {
  const key = createPublicKey(publicKeyPem);
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      if (!verifyAdobeSignature(req.rawBody, req.headers['x-adobe-commerce-webhook-signature'], key)) {
        throw new WebhookSignatureError('x-adobe-commerce-webhook-signature is missing or does not match the body');
      }
      const body = jsonBody<{ eventName?: string; data?: Record<string, unknown> }>(req);
      const data = body?.data;
      if (!data || typeof data !== 'object') throw new WebhookMalformedError('body has no "data" object');
      const found = ENTITY_KEYS.find(([k]) => data[k] && typeof data[k] === 'object');
      if (!found) return { events: [] };
      const record = data[found[0]] as Record<string, unknown>;
      if (record.entity_id === undefined && record.id === undefined) throw new WebhookMalformedError(`${found[0]} has no entity_id`);
      // Adobe Commerce sends no delivery id: a retry repeats the same signed body, so its hash is the dedupe id.
      const id = createHash('sha256').update(req.rawBody).digest('hex');
      return { events: [{ id, topic: body.eventName ?? `${found[0]}.save`, entity: found[1], record }] };
    },
    // Adobe Commerce reads the answer as an operation; success lets the store carry on.
    acknowledge: () => ({ status: 200, body: '{"op":"success"}', contentType: 'application/json' }),
  };
}
