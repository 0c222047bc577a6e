import { Hono } from 'hono';
import type { Hub } from '../jobs/hub.js';

export function healthRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    try {
      await hub.redis.ping();
      return c.json({ ok: true, redis: 'up' });
    } catch (err) {
      return c.json({ ok: false, redis: 'down', error: (err as Error).message }, 503);
    }
  });
  return app;
}
