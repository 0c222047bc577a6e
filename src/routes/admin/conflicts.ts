import { Hono } from 'hono';
import type { Hub } from '../../jobs/hub.js';
import { paging } from './params.js';

/**
 * /api/conflicts: records that met a uniqueness rule's key held by another record, newest
 * first, each naming both records by connection and id (never the value they share). A
 * rejected record's dead letter (step `unique`) is replayed through /api/dead-letters.
 */
export function conflictRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.get('/', async (c) => c.json(await hub.store.unique.conflicts({ pipeline: c.req.query('pipeline') || undefined, ...paging(c) })));
  return app;
}
