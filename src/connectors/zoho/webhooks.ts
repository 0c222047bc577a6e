import { createHash } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import { jsonBody } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';

/**
 * Zoho CRM notifications: no HMAC; the callback carries the `token` set when the
 * channel was subscribed. It is compared timing-safe; the records are fetched by id.
 */
export function zohoWebhooks(token: string, modules: Record<string, Entity>): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      const body = jsonBody<{ token?: string; module?: string; ids?: unknown[]; operation?: string; channel_id?: string | number }>(req);
      if (typeof body?.token !== 'string' || !safeEqual(body.token, token)) throw new WebhookSignatureError('the notification token is missing or wrong');
      if (typeof body.module !== 'string' || !Array.isArray(body.ids)) throw new WebhookMalformedError('notification needs module and ids');
      const entity = modules[body.module];
      // Deletions are not synced (the engine has no delete path yet); they are acknowledged, not stored.
      if (!entity || body.operation === 'delete') return { events: [] };
      const delivery = createHash('sha256').update(req.rawBody).digest('hex').slice(0, 32);
      return { events: body.ids.map((id) => ({ id: `${delivery}:${String(id)}`, topic: `${body.module}.${body.operation ?? 'update'}`, entity, ref: String(id) })) };
    },
  };
}
