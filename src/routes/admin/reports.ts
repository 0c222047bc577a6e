import { Hono } from 'hono';
import { SynchubError } from '../../core/errors.js';
import { orderReport, orderReportCsv } from '../../admin/reports.js';
import type { Hub } from '../../jobs/hub.js';

/** GET /api/reports/orders?from&to&pipeline&format (dates YYYY-MM-DD, UTC; default the last 30 days; format json (default) or csv). */
export function reportRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.get('/orders', async (c) => {
    const today = new Date().toISOString().slice(0, 10);
    const to = c.req.query('to') || today;
    const from = c.req.query('from') || new Date(Date.parse(`${to}T00:00:00Z`) - 29 * 86_400_000).toISOString().slice(0, 10);
    const format = c.req.query('format') || 'json';
    if (format !== 'json' && format !== 'csv') throw new SynchubError('invalid_request', 'format is json or csv');
    const report = await orderReport(hub, { from, to, pipeline: c.req.query('pipeline') || undefined });
    if (format === 'json') return c.json(report);
    return c.body(orderReportCsv(report), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="orders-${report.from}-${report.to}.csv"`,
    });
  });
  return app;
}
