import { Hono } from 'hono';
import { SynchubError } from '../../core/errors.js';
import type { Hub } from '../../jobs/hub.js';
import { recomputeSegments } from '../../operations/segments/segments.js';

/**
 * /api/segments: the last full computation's segment (and cluster) sizes and their movement
 * over time (one entry per computation, newest 100; `?format=csv` as CSV); POST
 * /api/segments/recompute runs one now.
 * Customers appear only as counts.
 */
export function segmentRoutes(hub: Hub): Hono {
  const app = new Hono();
  const configured = () => {
    if (!hub.config.segments) throw new SynchubError('not_supported', 'customer segments are not configured (segments: in hub.yaml)');
    return hub.config.segments;
  };
  app.get('/', async (c) => {
    const cfg = configured();
    const history = (await hub.store.segments.sizeHistory()) as { at: string; sizes: { segments: Record<string, number>; clusters?: Record<string, number> } }[];
    const last = history[history.length - 1];
    const format = c.req.query('format') || 'json';
    if (format !== 'json' && format !== 'csv') throw new SynchubError('invalid_request', 'format is json or csv');
    if (format === 'csv') {
      // Segment and cluster names are config names and numbers: nothing here needs quoting.
      const rows = [['computed_at', 'kind', 'name', 'customers'].join(',')];
      for (const h of history) {
        for (const [name, n] of Object.entries(h.sizes.segments)) rows.push([h.at, 'segment', name, n].join(','));
        for (const [name, n] of Object.entries(h.sizes.clusters ?? {})) rows.push([h.at, 'cluster', name, n].join(','));
      }
      return c.body(`${rows.join('\r\n')}\r\n`, 200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="segments.csv"' });
    }
    return c.json({
      reportingCurrency: cfg.reportingCurrency, quantiles: cfg.quantiles, rules: cfg.rules.map((r) => r.name), kmeans: cfg.kmeans ?? null,
      computedAt: last?.at ?? null, sizes: last?.sizes.segments ?? {}, clusters: last?.sizes.clusters ?? null, history,
    });
  });
  app.post('/recompute', async (c) => {
    configured();
    return c.json(await recomputeSegments(hub));
  });
  return app;
}
