import { Hono } from 'hono';
import { deadLetterSummary, queryDeadLetters, showDeadLetter } from '../../admin/dead-letters.js';
import { SynchubError } from '../../core/errors.js';
import type { Hub } from '../../jobs/hub.js';
import { replayDeadLetter } from '../../jobs/replay.js';
import { isoParam, paging } from './params.js';

/** /api/dead-letters: list with filters and paging (newest first), show one masked, replay, discard. */
export function deadLetterRoutes(hub: Hub): Hono {
  const app = new Hono();
  const letter = async (id: string) => {
    const dl = await hub.store.getDeadLetter(id);
    if (!dl) throw new SynchubError('not_found', `no dead letter ${id}`);
    return dl;
  };

  app.get('/', async (c) => {
    const q = (n: string) => c.req.query(n) || undefined;
    const { total, items } = await queryDeadLetters(hub, {
      pipeline: q('pipeline'), step: q('step'), target: q('target'), code: q('code'),
      from: isoParam(c, 'from'), to: isoParam(c, 'to'), ...paging(c),
    });
    return c.json({ total, items: items.map(deadLetterSummary) });
  });

  app.get('/:id', async (c) => c.json(await showDeadLetter(hub, await letter(c.req.param('id')))));

  app.post('/:id/replay', async (c) => {
    const dl = await letter(c.req.param('id'));
    await replayDeadLetter(hub, dl);
    return c.json({ replayed: dl.id });
  });

  app.delete('/:id', async (c) => {
    const dl = await letter(c.req.param('id'));
    await hub.store.removeDeadLetter(dl);
    hub.logger.info({ id: dl.id, pipeline: dl.pipeline }, 'dead letter discarded by an admin');
    return c.json({ discarded: dl.id });
  });

  return app;
}
