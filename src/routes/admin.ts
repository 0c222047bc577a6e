import { Hono } from 'hono';
import { SynchubError } from '../core/errors.js';
import type { Hub } from '../jobs/hub.js';
import { pushFigures } from '../admin/pipelines.js';
import { adminAuth } from './admin-auth.js';
import { jsonBodiesOnly, sameOrigin } from './same-origin.js';
import { deadLetterRoutes } from './admin/dead-letters.js';
import { mappingRoutes } from './admin/mappings.js';
import { pipelineRoutes } from './admin/pipelines.js';
import { reportRoutes } from './admin/reports.js';
import { eventRoutes } from './admin/events.js';
import { conflictRoutes } from './admin/conflicts.js';
import { approvalRoutes } from './admin/approvals.js';
import { segmentRoutes } from './admin/segments.js';
import { recordRoutes } from './admin/records.js';
import { erasureRoutes } from './admin/erasure.js';
import { privacyRequestRoutes } from './admin/privacy-requests.js';
import { openApiDocument } from './openapi.js';
import { readConnectionNotices } from '../connectors/notices.js';
import { inspectRedis } from '../admin/redis-health.js';

/** The admin API under /api, every route behind the admin token (see admin-auth.ts); state-changing ones from the hub's own origin only, with JSON or no body (same-origin.ts). */
export function adminRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.use('*', adminAuth(hub), sameOrigin(hub.config.server), jsonBodiesOnly());

  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  app.route('/pipelines', pipelineRoutes(hub));
  app.route('/dead-letters', deadLetterRoutes(hub));
  app.route('/mappings', mappingRoutes(hub));
  app.route('/reports', reportRoutes(hub));
  app.route('/events', eventRoutes(hub));
  app.route('/conflicts', conflictRoutes(hub));
  app.route('/approvals', approvalRoutes(hub));
  app.route('/segments', segmentRoutes(hub));
  app.route('/records', recordRoutes(hub));
  app.route('/erasure', erasureRoutes(hub));
  app.route('/privacy-requests', privacyRequestRoutes(hub));

  /** Connections and their notices (notices.ts); for targets the circuit breaker, push queue and records per push call, so an admin sees why pushes wait. */
  app.get('/connections', async (c) => {
    const items = await Promise.all([...hub.config.connections.values()].map(async (conn) => {
      const def = hub.config.connectorOf(conn.name);
      const isTarget = [...hub.config.pipelines.values()].some((p) => p.targets.some((t) => t.connection === conn.name));
      const notices = await readConnectionNotices(hub.redis, hub.keyPrefix, conn.name);
      if (!isTarget) return { name: conn.name, connector: def.id, kind: def.kind, target: false, notices };
      const queue = hub.pushQueue(conn.name);
      const [breaker, paused, counts, pushes] = await Promise.all([
        hub.breaker(conn.name).status(), queue.isPaused(), queue.getJobCounts('waiting', 'active', 'delayed', 'failed'), hub.metrics.readHash('push', conn.name),
      ]);
      return { name: conn.name, connector: def.id, kind: def.kind, target: true, notices, breaker, pushQueue: { paused, jobs: counts }, pushes: pushFigures(pushes) };
    }));
    return c.json({ connections: items });
  });

  /** Records a source reported deleted (tombstones), newest first is not guaranteed: a scan of up to `limit`. */
  app.get('/connections/:name/deletions', async (c) => {
    const name = c.req.param('name');
    const entity = c.req.query('entity') ?? 'order';
    if (!hub.config.connections.has(name)) return c.json({ error: { code: 'not_found', message: `no connection named ${name}` } }, 404);
    if (!['customer', 'order', 'payment'].includes(entity)) return c.json({ error: { code: 'invalid_request', message: 'entity is customer, order or payment' } }, 400);
    return c.json({ items: await hub.store.tombstones(name, entity, Math.min(1000, Number(c.req.query('limit') ?? 100) || 100)) });
  });

  /** Resumes a push queue paused after an authentication failure (once the credentials are fixed). */
  app.post('/connections/:name/resume', async (c) => {
    const name = c.req.param('name');
    if (!hub.config.connections.has(name)) return c.json({ error: { code: 'not_found', message: `no connection named ${name}` } }, 404);
    await hub.pushQueue(name).resume();
    return c.json({ resumed: name });
  });

  /** The hub's Redis: on a cluster its nodes, which primary serves which slots, and primaries without a replica. */
  app.get('/redis', async (c) => c.json(await inspectRedis(hub.redis)));

  app.get('/runs/:id', async (c) => {
    const run = await hub.store.getRun(c.req.param('id'));
    if (!run) throw new SynchubError('not_found', 'no such run');
    return c.json(run);
  });

  // Unknown paths under /api answer 404 only after the token check, so they reveal nothing either.
  app.all('*', (c) => c.json({ error: { code: 'not_found', message: `${c.req.method} ${c.req.path} does not exist` } }, 404));
  return app;
}
