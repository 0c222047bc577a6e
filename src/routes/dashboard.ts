import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import type { Hub } from '../jobs/hub.js';
import { adminAuth } from './admin-auth.js';
import { sameOrigin } from './same-origin.js';

export const DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board over every queue of the hub, behind the admin token (basic auth with
 * the token as password, or the /admin login cookie). Read-only unless
 * server.dashboardWritable: bull-board itself refuses changes to a read-only queue (405).
 * Changes from another site's page are refused (403) like the admin API's.
 */
export function dashboardRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.use('*', adminAuth(hub, { basicChallenge: true }), sameOrigin(hub.config.server));
  if (!hub.config.server.adminToken) return app;
  const readOnlyMode = !hub.config.server.dashboardWritable;
  const serverAdapter = new HonoAdapter(serveStatic).setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: hub.allQueues().map((q) => new BullMQAdapter(q, { readOnlyMode })),
    // @bull-board/hono carries its own copy of @bull-board/api's types (9.10.1 vs 9.10.2); the runtime contract is the same.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: `synchub queues${readOnlyMode ? ' (read-only)' : ''}` } },
  });
  app.route('/', serverAdapter.registerPlugin());
  return app;
}
