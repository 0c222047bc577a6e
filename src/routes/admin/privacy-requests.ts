import { Hono } from 'hono';
import { SynchubError } from '../../core/errors.js';
import type { Hub } from '../../jobs/hub.js';
import { getPrivacyRequest, listPrivacyRequests } from '../../operations/privacy-requests.js';

/** /api/privacy-requests: data-subject requests sources sent by webhook, with the erasures they made or the data report to answer with. */
export function privacyRequestRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.get('/', async (c) => c.json({ items: await listPrivacyRequests(hub, Math.min(500, Number(c.req.query('limit') ?? 50) || 50)) }));
  app.get('/:id', async (c) => {
    const record = await getPrivacyRequest(hub, c.req.param('id'));
    if (!record) throw new SynchubError('not_found', 'no privacy request with this id');
    return c.json(record);
  });
  return app;
}
