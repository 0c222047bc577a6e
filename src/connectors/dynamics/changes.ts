import { RemoteRejectedError } from '../../core/errors.js';
import type { HttpClient } from '../http.js';
import type { PullPage } from '../types.js';

/**
 * Deletions through Dataverse change tracking ("Use change tracking to synchronize data with
 * external systems", Power Apps developer docs). A request with `Prefer: odata.track-changes`
 * answers the rows and, on its last page, an `@odata.deltaLink`; that link later answers what
 * changed since, deleted rows as `{ "@odata.context": "…/$deletedEntity", "id", "reason": "deleted" }`.
 *
 * The records themselves keep coming from the modifiedon query: change tracking refuses `$filter`,
 * `$orderby`, `$expand` and `$top`, and orders need `$expand` for their lines and currency. So the
 * tracked query selects only the id column, and only its deleted entries are used. Its first run
 * lists every id of the table once (5,000 a page) to get the first delta link.
 */
export interface TrackingState {
  /** The delta link of the last completed pass (absolute, followed as given); kept across runs. */
  deltaLink?: string;
  /** The pass in progress: its next page (`@odata.nextLink`), or its first request when unset. */
  next?: string;
  /** The pass in progress began over because Dataverse refused the delta link. */
  restarted?: true;
}

interface DeltaAnswer { value?: Record<string, unknown>[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string }

export const TRACKED_PAGE = 5000;

export async function pullTrackedDeletions(
  http: HttpClient, connection: string, set: string, idColumn: string, state: TrackingState, signal?: AbortSignal,
): Promise<{ deletions: NonNullable<PullPage['deletions']>; state: TrackingState; done: boolean; notices?: string[] }> {
  const prefer = `odata.track-changes,odata.maxpagesize=${TRACKED_PAGE}`;
  const first = () => http.request<DeltaAnswer>({ method: 'GET', url: `/${set}`, params: { $select: idColumn }, headers: { prefer }, signal });
  let res;
  let restarted = state.restarted;
  const notices: string[] = [];
  if (state.next) res = await http.request<DeltaAnswer>({ method: 'GET', url: state.next, headers: { prefer }, signal });
  else if (state.deltaLink) {
    try {
      res = await http.request<DeltaAnswer>({ method: 'GET', url: state.deltaLink, headers: { prefer }, signal });
    } catch (err) {
      // A delta link older than the org's ExpireChangeTrackingInDays (7 days by default) is refused:
      // tracking starts again, and what was deleted in between cannot be seen.
      if (!(err instanceof RemoteRejectedError) || err.status === undefined || err.status < 400 || err.status >= 500 || err.status === 401 || err.status === 403) throw err;
      notices.push(`${connection}: Dataverse refused the ${set} delta link (${err.status}); change tracking starts again and deletions since the last run are not seen`);
      restarted = true;
      res = await first();
    }
  } else res = await first();
  const body = res.data;
  if (!body || !Array.isArray(body.value)) throw new RemoteRejectedError(`${connection}: the tracked /${set} query answered without a value array`, { status: res.status });
  // The first pass (no delta link yet, or started again) lists rows that exist: nothing in it is a deletion.
  const deletions = state.deltaLink && !restarted
    ? body.value
      .filter((e) => String(e['@odata.context'] ?? '').endsWith('$deletedEntity') && e.reason === 'deleted' && typeof e.id === 'string')
      .map((e) => ({ id: String(e.id) }))
    : [];
  const next = body['@odata.nextLink'];
  if (next) return { deletions, state: { deltaLink: state.deltaLink, next, ...(restarted ? { restarted } : {}) }, done: false, ...(notices.length ? { notices } : {}) };
  const deltaLink = body['@odata.deltaLink'];
  if (!deltaLink) throw new RemoteRejectedError(`${connection}: the tracked /${set} query ended without an @odata.deltaLink: is change tracking ("Track changes") on for this table?`, { status: res.status });
  return { deletions, state: { deltaLink }, done: true, ...(notices.length ? { notices } : {}) };
}
