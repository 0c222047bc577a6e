import { Hono } from 'hono';
import { maskRawRecord } from '../../admin/mask.js';
import { SynchubError } from '../../core/errors.js';
import { PersonalValues } from '../../core/redact.js';
import type { Hub } from '../../jobs/hub.js';
import { entityOfKey, findRecords, isRecordKey } from '../../timeline/search.js';

/**
 * /api/records: find records by order number, email or any system's id, and each record's
 * timeline (docs/record-timeline.md). Steps carry no personal values by design; the answer is
 * masked all the same, like every admin answer (src/admin/mask.ts): by field name, and
 * anything email- or phone-shaped.
 */
export function recordRoutes(hub: Hub): Hono {
  const app = new Hono();
  const masked = <T>(value: T): T => maskRawRecord(value, { values: new PersonalValues() }) as T;

  app.get('/', async (c) => c.json({ items: masked(await findRecords(hub, c.req.query('q') ?? '')) }));

  app.get('/:key/timeline', async (c) => {
    const key = c.req.param('key');
    if (!isRecordKey(key)) throw new SynchubError('invalid_request', 'a record key is customer:…, order:… or payment:… (as GET /api/records answers)');
    const [{ entries, expired }, links] = await Promise.all([hub.timeline.read(key), hub.store.getLinks(key)]);
    if (!entries.length && !expired && !Object.keys(links).length) throw new SynchubError('not_found', 'no record with this key has a timeline or links');
    const { enabled, retentionDays, maxEntries } = hub.timeline.settings;
    return c.json(masked({ key, entity: entityOfKey(key), links, entries, expired, enabled, retentionDays, maxEntries }));
  });

  return app;
}
