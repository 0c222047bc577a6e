import { NotSupportedError } from '../../core/errors.js';
import type { Connection } from '../types.js';

/**
 * HubSpot's webhooks journal (`/webhooks-journal/journal/2026-03/…`: earliest, latest, next after an
 * offset; entries kept 3 days; each answer a `currentOffset` and a pre-signed `url` to the entry's
 * JSON file) would be the way to find webhooks the hub missed. It is not built, because the docs
 * do not give what the hub needs to build it without guessing:
 * - the content of an entry file (the events in it, their ids and object references) is not
 *   documented; only the envelope (`currentOffset`, `expiresAt`, `url`) is;
 * - the journal holds the events of journal subscriptions made through its own API, which the docs
 *   say are "not currently compatible" with v3 webhook subscriptions, so nothing documented ties a
 *   journal event to the v3 delivery of the same change (`eventId`) for deduplication;
 * - it needs a client-credentials token of a project app, which a Service Key cannot give.
 * Sources: "Webhooks journal and management APIs (2026-03)", "Webhook journal APIs" (2026-03),
 * "Get the next local journal entry" (2027-03-beta).
 */
export const HUBSPOT_JOURNAL_REASON =
  "HubSpot's docs describe the journal's paging (offsets, 3-day retention) but not the content of its entry files, and its subscriptions are separate from v3 webhooks, so no documented id ties a journal event to the webhook of the same change; scheduled pulls (search on the modification time) remain the reconciliation path";

/** A connection that asks for the journal is refused at start-up (`webhooksJournal: …`). */
export function hubspotJournalProblems(conn: Connection): string[] {
  if (conn.options.webhooksJournal !== true) return [];
  return [`webhooksJournal: ${new NotSupportedError('the HubSpot webhooks journal').message} (not_supported): ${HUBSPOT_JOURNAL_REASON}`];
}
