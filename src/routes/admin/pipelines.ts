import { Hono } from 'hono';
import { pipelineState } from '../../admin/pipelines.js';
import { SynchubError } from '../../core/errors.js';
import type { Hub } from '../../jobs/hub.js';
import { startRun } from '../../jobs/pull.js';
import { readSamples } from '../../jobs/samples.js';
import { dryRunPipeline } from '../../operations/dry-run.js';
import { maskRawRecord, maskText, personalValuesOf } from '../../admin/mask.js';

/** /api/pipelines: state, run now, pause, resume, reset cursor, samples. */
export function pipelineRoutes(hub: Hub): Hono {
  const app = new Hono();
  const pipelineOf = (name: string) => {
    const p = hub.config.pipelines.get(name);
    if (!p) throw new SynchubError('not_found', `no pipeline named ${name}`);
    return p;
  };

  app.get('/', async (c) => c.json({ pipelines: await Promise.all([...hub.config.pipelines.values()].map((p) => pipelineState(hub, p))) }));
  app.get('/:name', async (c) => c.json(await pipelineState(hub, pipelineOf(c.req.param('name')))));

  app.post('/:name/run', async (c) => {
    const p = pipelineOf(c.req.param('name'));
    const run = await startRun(hub, p.name, c.req.query('full') === 'true');
    return c.json(run, run.started ? 202 : 200);
  });

  app.post('/:name/pause', async (c) => {
    const p = pipelineOf(c.req.param('name'));
    await hub.store.setPaused(p.name, true);
    hub.logger.info({ pipeline: p.name }, 'pipeline paused by an admin');
    return c.json(await pipelineState(hub, p));
  });

  app.post('/:name/resume', async (c) => {
    const p = pipelineOf(c.req.param('name'));
    await hub.store.setPaused(p.name, false);
    hub.logger.info({ pipeline: p.name }, 'pipeline resumed by an admin');
    return c.json(await pipelineState(hub, p));
  });

  /** The next run reads the source from the beginning. Needs ?confirm=<pipeline name>. */
  app.post('/:name/reset-cursor', async (c) => {
    const p = pipelineOf(c.req.param('name'));
    if (c.req.query('confirm') !== p.name) {
      throw new SynchubError('confirmation_required', `resetting the cursor makes the next run read everything again: repeat the request with ?confirm=${p.name}`, { details: { confirm: p.name } });
    }
    const before = await hub.store.getCursor(p.name);
    await hub.store.resetCursor(p.name);
    hub.logger.warn({ pipeline: p.name }, 'pipeline cursor reset by an admin');
    return c.json({ pipeline: p.name, previousCursor: before, cursor: null });
  });

  /**
   * What a run would do now, writing nothing (src/operations/dry-run.ts): up to ?limit=N records
   * (default 20, at most 500), each target's create / field changes / unchanged. Masked like samples.
   */
  app.post('/:name/dry-run', async (c) => {
    const p = pipelineOf(c.req.param('name'));
    const limitParam = c.req.query('limit');
    const limit = limitParam === undefined ? 20 : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 1) throw new SynchubError('invalid_request', 'limit must be a whole number of at least 1');
    const result = await dryRunPipeline(hub, p.name, { limit });
    return c.json(maskText(result, { values: result.personal }));
  });

  /** The last records the source sent, masked (the playground uses them by index). */
  app.get('/:name/samples', async (c) => {
    const p = pipelineOf(c.req.param('name'));
    const samples = await readSamples(hub, p.name);
    const paths = hub.config.connectorOf(p.source.connection).personalFields;
    return c.json({ samples: samples.map((s) => ({ ...s, record: maskRawRecord(s.record, { paths, values: personalValuesOf(s.record, paths) }) })) });
  });

  return app;
}
