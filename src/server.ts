import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { SynchubError } from './core/errors.js';
import type { Hub } from './jobs/hub.js';
import { healthRoutes } from './routes/health.js';
import { webhookRoutes } from './routes/webhooks.js';
import { adminRoutes } from './routes/admin.js';
import { httpStatusOf } from './routes/errors.js';
import { endEventStreams } from './routes/admin/events.js';
import { DASHBOARD_PATH, dashboardRoutes } from './routes/dashboard.js';
import { adminPageRoutes } from './routes/admin-page.js';
import { metricsRoutes } from './routes/metrics.js';

/** The HTTP face of the hub: webhooks, health, and (with an admin token) the admin API. */
export function createApp(hub: Hub): Hono {
  const app = new Hono();
  app.route('/', healthRoutes(hub));
  app.route('/webhooks', webhookRoutes(hub));
  app.route('/api', adminRoutes(hub));
  app.route('/admin', adminPageRoutes(hub));
  app.route(DASHBOARD_PATH, dashboardRoutes(hub));
  app.route('/metrics', metricsRoutes(hub));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `${c.req.method} ${c.req.path} does not exist` } }, 404));
  app.onError((err, c) => {
    if (err instanceof SynchubError) return c.json({ error: err.toJSON() }, httpStatusOf(err.code));
    hub.logger.error({ err: err.message, path: c.req.path }, 'unhandled error in a route');
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
  });
  return app;
}

export interface RunningServer {
  port: number;
  /** Stops taking connections and waits for requests in flight. */
  close(): Promise<void>;
}

export function startServer(hub: Hub, opts: { port?: number; host?: string } = {}): Promise<RunningServer> {
  const app = createApp(hub);
  if (!hub.config.server.adminToken) {
    hub.logger.warn('admin API, admin page, queue dashboard and /metrics are off (they answer 404): set server.adminToken (e.g. "${SYNCHUB_ADMIN_TOKEN}") to enable them');
  }
  return new Promise((resolve) => {
    const server: ServerType = serve({ fetch: app.fetch, port: opts.port ?? hub.config.server.port, hostname: opts.host ?? hub.config.server.host }, (info) => {
      resolve({
        port: info.port,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          // Live event streams never finish on their own: end them, so closing does not wait for their clients.
          endEventStreams(hub);
        }),
      });
    });
  });
}
