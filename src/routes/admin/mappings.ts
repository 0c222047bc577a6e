import { Hono } from 'hono';
import { mappingFiles, previewMapping, readMappingSource, type PreviewRequest } from '../../admin/preview.js';
import type { Hub } from '../../jobs/hub.js';
import { warmSandbox } from '../../mappings/sandboxed.js';
import { jsonBody } from './params.js';

/** /api/mappings: the config's mapping files with their text, and the preview behind the playground. */
export function mappingRoutes(hub: Hub): Hono {
  const app = new Hono();
  // The thread the first preview of an expression runs in, started now rather than on that request.
  if (hub.config.server.adminToken) warmSandbox();
  app.get('/', (c) => c.json({ mappings: mappingFiles(hub.config).map((m) => ({ ...m, source: readMappingSource(m.file) })) }));
  app.post('/preview', async (c) => c.json(await previewMapping(hub, await jsonBody<PreviewRequest>(c))));
  return app;
}
