import { Hono } from 'hono';
import { hubRegistry } from '../admin/metrics.js';
import type { Hub } from '../jobs/hub.js';
import { adminAuth } from './admin-auth.js';

/** GET /metrics in Prometheus text format, behind the admin token (Prometheus: `authorization: { credentials: <token> }`). */
export function metricsRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.use('*', adminAuth(hub));
  const registry = hubRegistry(hub);
  app.get('/', async (c) => c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }));
  return app;
}
