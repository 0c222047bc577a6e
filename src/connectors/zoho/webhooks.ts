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
      const body = jsonBody<{ token?: string; module?: string; ids?: unknown[]; operation?: string; channel_id?: string | number; server_time?: number }>(req);
      if (typeof body?.token !== 'string' || !safeEqual(body.token, token)) throw new WebhookSignatureError('the notification token is missing or wrong');
      if (typeof body.module !== 'string' || !Array.isArray(body.ids)) throw new WebhookMalformedError('notification needs module and ids');
      const entity = modules[body.module];
      if (!entity) return { events: [] };
      const delivery = createHash('sha256').update(req.rawBody).digest('hex').slice(0, 32);
      // `operation: delete` (the `.all` events the channel subscribes include it): the ids are gone,
      // nothing to fetch; `server_time` (ms) is when Zoho sent it.
      const deletion = body.operation === 'delete'
        ? { deletion: 'always' as const, ...(typeof body.server_time === 'number' ? { occurredAt: new Date(body.server_time).toISOString() } : {}) }
        : {};
      return { events: body.ids.map((id) => ({ id: `${delivery}:${String(id)}`, topic: `${body.module}.${body.operation ?? 'update'}`, entity, ref: String(id), ...deletion })) };
    },
  };
}
