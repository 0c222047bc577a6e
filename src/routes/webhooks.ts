import { Hono } from 'hono';
import type { Hub } from '../jobs/hub.js';
import { WebhookProbeError } from '../core/errors.js';
import { acceptWebhook } from '../jobs/webhooks.js';
import { rawBody, type RawBodyVariables } from './raw-body.js';

/** POST /webhooks/:connection — verify, dedupe, store, then answer (see acceptWebhook). */
export function webhookRoutes(hub: Hub): Hono<{ Variables: RawBodyVariables }> {
  const app = new Hono<{ Variables: RawBodyVariables }>();
  const maxBytes = hub.config.server.maxBodyBytes;
  app.post(
    '/:connection',
    rawBody({
      maxBytes,
      onTooLarge: (c) => c.json({ error: { code: 'webhook_too_large', message: `body is over ${maxBytes} bytes` } }, 413),
    }),
    async (c) => {
      const connection = c.req.param('connection');
      const result = await acceptWebhook(hub, connection, { method: c.req.method, url: c.req.url, headers: c.get('rawHeaders'), rawBody: c.get('rawBody') });
      // Accepted deliveries were counted with their events' writes; refusals are counted here.
      if (result.kind === 'refused') {
        // Unknown names are counted together, so made-up paths cannot grow the metric's label set.
        await hub.metrics.webhookReceived(hub.config.connections.has(connection) ? connection : '(unknown)', result.error.code).catch(() => {});
        // A provider's own signature probe is refused like a forgery but is routine traffic, not an attack.
        if (result.error instanceof WebhookProbeError) hub.logger.info({ connection, status: result.status, code: result.error.code, reason: result.error.message }, 'webhook signature probe refused');
        else hub.logger.warn({ connection, status: result.status, code: result.error.code, reason: result.error.message }, 'webhook refused');
        if (result.reply) return reply(result.reply);
        return c.json({ error: result.error.toJSON() }, result.status as 400);
      }
      // No child logger per request: creating one costs more than the rest of the route's own work.
      if (hub.logger.isLevelEnabled('debug')) hub.logger.debug({ connection, stored: result.stored, duplicates: result.duplicates }, 'webhook accepted');
      return reply(result.reply);
    },
  );
  return app;
}

function reply(r: { status: number; body?: string; contentType?: string }): Response {
  return new Response(r.body ?? null, { status: r.status, headers: r.body !== undefined ? { 'content-type': r.contentType ?? 'text/plain' } : {} });
}
