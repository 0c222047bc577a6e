import { Hono } from 'hono';
import { orderReport } from '../../admin/reports.js';
import type { Hub } from '../../jobs/hub.js';

/** GET /api/reports/orders?from&to&pipeline (dates YYYY-MM-DD, UTC; default the last 30 days). */
export function reportRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.get('/orders', async (c) => {
    const today = new Date().toISOString().slice(0, 10);
    const to = c.req.query('to') || today;
    const from = c.req.query('from') || new Date(Date.parse(`${to}T00:00:00Z`) - 29 * 86_400_000).toISOString().slice(0, 10);
    return c.json(await orderReport(hub, { from, to, pipeline: c.req.query('pipeline') || undefined }));
  });
  return app;
}
