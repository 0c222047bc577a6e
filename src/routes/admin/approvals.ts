import { Hono } from 'hono';
import { SynchubError } from '../../core/errors.js';
import type { Hub } from '../../jobs/hub.js';
import { ingestRecords } from '../../jobs/ingest.js';
import { approvalKey, approvalView, decideApproval } from '../../operations/approval.js';
import { jsonBody, paging } from './params.js';

const MAX_BY = 200;
const MAX_REASON = 2000;

/**
 * /api/approvals: orders held by a pipeline's approval rule (oldest first; `?state=decided`
 * for the decided ones, newest first), one by id, and the decision: POST …/approve or
 * …/reject with `{ "by": "who", "reason": "why" }`, both required.
 */
export function approvalRoutes(hub: Hub): Hono {
  const app = new Hono();
  const ingestAgain = (p: Parameters<typeof ingestRecords>[1], raw: unknown, base: string) => ingestRecords(hub, p, [raw], { deliveryBase: base, deadLetterBase: base });

  app.get('/', async (c) => {
    const which = c.req.query('state') === 'decided' ? 'decided' : 'open';
    const { offset, limit } = paging(c);
    const { total, items } = await hub.store.approvals.list(which, offset, limit);
    return c.json({ total, items: items.map((a) => approvalView(hub, a)) });
  });

  app.get('/:id', async (c) => {
    const a = await hub.store.approvals.get(approvalKey(c.req.param('id')));
    if (!a) throw new SynchubError('not_found', 'no order held for approval under this id');
    return c.json(approvalView(hub, a));
  });

  for (const [action, to] of [['approve', 'approved'], ['reject', 'rejected']] as const) {
    app.post(`/:id/${action}`, async (c) => {
      const body = await jsonBody<{ by?: unknown; reason?: unknown }>(c);
      const by = typeof body?.by === 'string' ? body.by.trim() : '';
      const reason = typeof body?.reason === 'string' ? body.reason.trim() : '';
      if (!by || by.length > MAX_BY) throw new SynchubError('invalid_request', `by (who decides) is required, at most ${MAX_BY} characters`);
      if (!reason || reason.length > MAX_REASON) throw new SynchubError('invalid_request', `reason is required, at most ${MAX_REASON} characters`);
      return c.json(await decideApproval(hub, approvalKey(c.req.param('id')), to, { by, reason, via: 'admin' }, ingestAgain));
    });
  }
  return app;
}
