import { Hono, type MiddlewareHandler } from 'hono';
import { safeEqual } from '../core/crypto.js';
import type { Hub } from '../jobs/hub.js';
import { startRun } from '../jobs/pull.js';
import { replayDeadLetter } from '../jobs/replay.js';
import type { DeadLetter } from '../state/store.js';

/** Bearer token check, timing-safe. Without a configured token the admin API does not exist (404). */
export function adminAuth(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (!token) return c.json({ error: { code: 'not_found', message: 'the admin API is off: set server.adminToken' } }, 404);
    const header = c.req.header('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!given || !safeEqual(given, token)) return c.json({ error: { code: 'unauthorized', message: 'admin token missing or wrong' } }, 401);
    await next();
  };
}

/** Dead letters as admins see them: the sealed source stays out of answers. */
function publicDeadLetter(dl: DeadLetter) {
  const { source: _sealed, ...rest } = dl;
  return rest;
}

export function adminRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.use('*', adminAuth(hub.config.server.adminToken));

  app.get('/pipelines', async (c) => {
    const items = await Promise.all([...hub.config.pipelines.values()].map(async (p) => {
      const stats = await hub.store.pipelineStats(p.name);
      return {
        name: p.name, source: { connection: p.source.connection, entity: p.source.entity },
        targets: p.targets.map((t) => ({ connection: t.connection, entity: t.entity })),
        schedule: p.schedule ?? null, webhooks: p.webhooks, cursor: await hub.store.getCursor(p.name),
        counts: { pushed: stats.pushed, skipped: stats.skipped, deadLettered: stats.dead },
        runningRunId: stats.running ?? null,
        lastRun: stats.lastRunId ? await hub.store.getRun(stats.lastRunId) : null,
      };
    }));
    return c.json({ pipelines: items });
  });

  /** Target connections: circuit breaker and push queue, so an admin sees why pushes wait. */
  app.get('/connections', async (c) => {
    const items = await Promise.all([...hub.config.connections.values()].map(async (conn) => {
      const def = hub.config.connectorOf(conn.name);
      const isTarget = [...hub.config.pipelines.values()].some((p) => p.targets.some((t) => t.connection === conn.name));
      if (!isTarget) return { name: conn.name, connector: def.id, kind: def.kind, target: false };
      const queue = hub.pushQueue(conn.name);
      const [breaker, paused, counts] = await Promise.all([
        hub.breaker(conn.name).status(), queue.isPaused(), queue.getJobCounts('waiting', 'active', 'delayed', 'failed'),
      ]);
      return { name: conn.name, connector: def.id, kind: def.kind, target: true, breaker, pushQueue: { paused, jobs: counts } };
    }));
    return c.json({ connections: items });
  });

  /** Records a source reported deleted (tombstones), newest first is not guaranteed: a scan of up to `limit`. */
  app.get('/connections/:name/deletions', async (c) => {
    const name = c.req.param('name');
    const entity = c.req.query('entity') ?? 'order';
    if (!hub.config.connections.has(name)) return c.json({ error: { code: 'not_found', message: `no connection named ${name}` } }, 404);
    if (!['customer', 'order', 'payment'].includes(entity)) return c.json({ error: { code: 'bad_request', message: 'entity is customer, order or payment' } }, 400);
    return c.json({ items: await hub.store.tombstones(name, entity, Math.min(1000, Number(c.req.query('limit') ?? 100) || 100)) });
  });

  /** Resumes a push queue paused after an authentication failure (once the credentials are fixed). */
  app.post('/connections/:name/resume', async (c) => {
    const name = c.req.param('name');
    if (!hub.config.connections.has(name)) return c.json({ error: { code: 'not_found', message: `no connection named ${name}` } }, 404);
    await hub.pushQueue(name).resume();
    return c.json({ resumed: name });
  });

  app.post('/pipelines/:name/run', async (c) => {
    const name = c.req.param('name');
    if (!hub.config.pipelines.has(name)) return c.json({ error: { code: 'not_found', message: `no pipeline named ${name}` } }, 404);
    const run = await startRun(hub, name, c.req.query('full') === 'true');
    return c.json(run, run.started ? 202 : 200);
  });

  app.get('/runs/:id', async (c) => {
    const run = await hub.store.getRun(c.req.param('id'));
    return run ? c.json(run) : c.json({ error: { code: 'not_found', message: 'no such run' } }, 404);
  });

  app.get('/dead-letters', async (c) => {
    const { total, items } = await hub.store.listDeadLetters({
      pipeline: c.req.query('pipeline') || undefined,
      offset: Number(c.req.query('offset') ?? 0) || 0,
      limit: Math.min(200, Number(c.req.query('limit') ?? 50) || 50),
    });
    return c.json({ total, items: items.map(publicDeadLetter) });
  });

  app.post('/dead-letters/:id/replay', async (c) => {
    const dl = await hub.store.getDeadLetter(c.req.param('id'));
    if (!dl) return c.json({ error: { code: 'not_found', message: 'no such dead letter' } }, 404);
    await replayDeadLetter(hub, dl);
    return c.json({ replayed: dl.id });
  });

  app.delete('/dead-letters/:id', async (c) => {
    const dl = await hub.store.getDeadLetter(c.req.param('id'));
    if (!dl) return c.json({ error: { code: 'not_found', message: 'no such dead letter' } }, 404);
    await hub.store.removeDeadLetter(dl);
    return c.json({ discarded: dl.id });
  });

  return app;
}
