import { Hono } from 'hono';
import { SynchubError } from '../../core/errors.js';
import type { Hub } from '../../jobs/hub.js';
import { erasePerson, getErasure, listErasures } from '../../operations/erasure.js';

/** /api/erasure: erase one person (POST, same-origin like every admin state change), an erasure's record, the history. */
export function erasureRoutes(hub: Hub): Hono {
  const app = new Hono();

  app.post('/', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new SynchubError('invalid_request', 'the body is a JSON object: { "email": "…" } or { "customer": "customer:…" }, with "propagate" and "dryRun" optional');
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new SynchubError('invalid_request', 'the body is a JSON object');
    const { email, customer, propagate, dryRun, ...rest } = body as Record<string, unknown>;
    if (Object.keys(rest).length) throw new SynchubError('invalid_request', `unknown field ${Object.keys(rest)[0].slice(0, 40)}`);
    if ((email !== undefined && typeof email !== 'string') || (customer !== undefined && typeof customer !== 'string')) throw new SynchubError('invalid_request', 'email and customer are strings');
    if ((propagate !== undefined && typeof propagate !== 'boolean') || (dryRun !== undefined && typeof dryRun !== 'boolean')) throw new SynchubError('invalid_request', 'propagate and dryRun are booleans');
    const record = await erasePerson(hub, { email, customer, propagate, dryRun, origin: 'api' });
    return c.json(record, record.dryRun ? 200 : 201);
  });

  app.get('/', async (c) => c.json({ items: await listErasures(hub, Math.min(500, Number(c.req.query('limit') ?? 50) || 50)) }));

  app.get('/:id', async (c) => {
    const record = await getErasure(hub, c.req.param('id'));
    if (!record) throw new SynchubError('not_found', 'no erasure with this id');
    return c.json(record);
  });

  return app;
}
