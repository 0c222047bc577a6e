import { createHash } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import { jsonBody } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';
import { MODELS } from './client.js';

const ENTITY_OF = new Map<string, Entity>(Object.entries(MODELS).map(([entity, model]) => [model, entity as Entity]));

/**
 * Odoo signs nothing. An automation rule ("Send Webhook Notification") posts the
 * record's `_model` and `_id`; the hub accepts it only with the configured token in
 * X-Synchub-Token (timing-safe) and fetches the record itself.
 */
export function odooWebhooks(token: string): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      const given = req.headers['x-synchub-token'];
      if (!given || !safeEqual(given, token)) throw new WebhookSignatureError('X-Synchub-Token is missing or wrong');
      const body = jsonBody<Record<string, unknown>>(req);
      const model = body?._model;
      const id = body?._id ?? body?.id;
      if (typeof model !== 'string' || (typeof id !== 'number' && typeof id !== 'string')) throw new WebhookMalformedError('body needs _model and _id (an Odoo "Send Webhook Notification" action)');
      const entity = ENTITY_OF.get(model);
      if (!entity) return { events: [] };
      // Odoo sends no delivery id: a retry repeats the same body, so its hash dedupes.
      const dedupe = createHash('sha256').update(req.rawBody).digest('hex');
      return { events: [{ id: dedupe, topic: `${model}.write`, entity, ref: String(id) }] };
    },
  };
}
