import type { Entity } from '../core/canonical/schemas.js';
import { SynchubError } from '../core/errors.js';
import { scrubText } from '../core/redact.js';
import type { Hub } from '../jobs/hub.js';
import type { ErasureRecord } from './erasure.js';

/**
 * The person's records in every pipeline target that holds them (a link of that connection and
 * entity), removed with the target's own call. Before anything is erased in the hub: a refusal
 * stops the erasure, which can be run again (a record a target no longer has counts as removed).
 */
export async function propagateErasure(hub: Hub, keys: string[], links: Record<string, string>[], dryRun: boolean): Promise<ErasureRecord['targets']> {
  const { config } = hub;
  const isTarget = new Set([...config.pipelines.values()].flatMap((p) => p.targets.map((t) => `${t.connection}\n${t.entity}`)));
  const byTarget = new Map<string, { connection: string; entity: Entity; ids: string[] }>();
  keys.forEach((key, i) => {
    const entity = key.split(':')[0] as Entity;
    for (const [connection, externalId] of Object.entries(links[i])) {
      if (!isTarget.has(`${connection}\n${entity}`)) continue;
      const t = byTarget.get(`${connection}\n${entity}`) ?? { connection, entity, ids: [] };
      t.ids.push(externalId);
      byTarget.set(`${connection}\n${entity}`, t);
    }
  });
  const out: ErasureRecord['targets'] = [];
  for (const t of byTarget.values()) {
    const how = config.connectorOf(t.connection).entities[t.entity]?.remove;
    const client = hub.client(t.connection);
    if (!how || !client.remove) {
      out.push({ connection: t.connection, entity: t.entity, records: t.ids.length, outcome: 'not_supported' });
      continue;
    }
    if (dryRun) {
      out.push({ connection: t.connection, entity: t.entity, records: t.ids.length, outcome: 'would_remove' });
      continue;
    }
    const refused = (error: SynchubError, n: number) => new SynchubError(error.code,
      `propagating the erasure to ${t.connection} failed for ${n} of ${t.ids.length} ${t.entity} record(s) (${error.code}: ${scrubText(error.message)}); nothing was erased in the hub: run the erasure again`,
      { retryable: error.retryable });
    let results;
    try {
      results = await client.remove(t.entity, t.ids);
    } catch (err) {
      throw err instanceof SynchubError ? refused(err, t.ids.length) : err;
    }
    const failed = results.filter((r) => !r.ok);
    if (failed.length) throw refused((failed[0] as { error: SynchubError }).error, failed.length);
    out.push({ connection: t.connection, entity: t.entity, records: t.ids.length, outcome: how === 'archive' ? 'archived' : 'deleted' });
  }
  return out;
}

