import { createHash } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import { jsonBody } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';

const ENTITY: Record<string, Entity> = { contact: 'customer', salesorder: 'order' };

/**
 * Dataverse service-endpoint webhooks carry no signature. The endpoint is registered
 * with a key, sent as the `x-synchub-key` header (HttpHeader auth) or `?code=`
 * (WebhookKey auth); it is compared timing-safe. The body is a RemoteExecutionContext.
 */
export function dynamicsWebhooks(key: string): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      const given = req.headers['x-synchub-key'] ?? new URL(req.url, 'http://hub').searchParams.get('code') ?? '';
      if (!given || !safeEqual(given, key)) throw new WebhookSignatureError('the webhook key (x-synchub-key header or code parameter) is missing or wrong');
      const ctx = jsonBody<{ PrimaryEntityName?: string; PrimaryEntityId?: string; MessageName?: string; OperationId?: string; RequestId?: string }>(req);
      if (typeof ctx?.PrimaryEntityName !== 'string' || typeof ctx.PrimaryEntityId !== 'string') {
        throw new WebhookMalformedError('body is not a RemoteExecutionContext (PrimaryEntityName and PrimaryEntityId)');
      }
      const entity = ENTITY[ctx.PrimaryEntityName];
      if (!entity) return { events: [] };
      const id = ctx.OperationId ?? ctx.RequestId ?? createHash('sha256').update(req.rawBody).digest('hex');
      // A step on Delete names the row that is gone: a deletion, nothing to fetch.
      const deletion = ctx.MessageName === 'Delete' ? { deletion: 'always' as const } : {};
      return { events: [{ id: `${id}:${ctx.PrimaryEntityId}`, topic: `${ctx.PrimaryEntityName}.${ctx.MessageName ?? 'Update'}`, entity, ref: ctx.PrimaryEntityId, ...deletion }] };
    },
  };
}
