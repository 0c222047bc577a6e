import type { Pipeline } from '../config/load.js';
import type { Entity } from '../core/canonical/schemas.js';
import type { SynchubError } from '../core/errors.js';
import type { Hub } from '../jobs/hub.js';

/**
 * Deletions a source reports (a webhook such as Shopify's orders/delete, or the deleted list
 * an incremental pull reads), applied as the pipeline's `deletions` setting says:
 *
 *   record     a tombstone per record (`deleted:<connection>:<entity>`, its id → when), counted
 *              on the run and listed by GET /api/connections/:name/deletions
 *   propagate  the tombstone, and the linked record deleted, archived or marked in each target
 *              (the target's `onDelete`: ConnectorClient.remove, or .mark for `mark`); then its
 *              links, fingerprints and order state are dropped,
 *              so a record re-created at the source is synced as new
 *   ignore     nothing
 *
 * A deletion is a fact like any other: ingest drops an update of a tombstoned record that is not
 * newer than its deletion (deletedBefore), so a late webhook never brings it back.
 */
export interface SourceDeletion { id: string; deletedAt?: string }

export async function applyDeletions(hub: Hub, pipeline: Pipeline, deletions: SourceDeletion[], runId?: string, signal?: AbortSignal): Promise<void> {
  if (!deletions.length || pipeline.deletions === 'ignore') return;
  const { store } = hub;
  const connection = pipeline.source.connection;
  const entity = pipeline.source.entity;
  const now = new Date().toISOString();
  await store.recordDeletions(runId, connection, entity, deletions.map((d) => ({ id: d.id, deletedAt: d.deletedAt ?? now })));
  if (pipeline.deletions !== 'propagate') return;

  const keys = await store.keysForExternalIds(connection, entity, deletions.map((d) => d.id));
  const linked = (await Promise.all(keys.map(async (key) => (key ? { key, links: await store.getLinks(key) } : undefined)))).filter((l) => l !== undefined);
  if (!linked.length) return;
  const failures: SynchubError[] = [];
  const removedEverywhere = new Set(linked.map((l) => l.key));
  for (const target of pipeline.targets) {
    const at = linked.filter((l) => l.links[target.connection]);
    if (!at.length) continue;
    const client = hub.client(target.connection);
    const ids = at.map((l) => l.links[target.connection]);
    // Config refuses `propagate` towards a connector that cannot remove, and an `onDelete` its
    // connector does not offer for the entity (config/load.ts).
    const outcomes = target.onDelete === 'mark'
      ? await client.mark!(target.entity, ids, target.mark!, signal)
      : await client.remove!(target.entity, ids, signal, target.onDelete);
    const ok = new Set(outcomes.filter((o) => o.ok).map((o) => o.id));
    const tx = store.tx();
    for (const l of at) {
      const externalId = l.links[target.connection];
      if (!ok.has(externalId)) {
        removedEverywhere.delete(l.key);
        continue;
      }
      store.dropLink(tx, l.key, target.connection, target.entity, externalId);
    }
    await tx.exec();
    for (const o of outcomes) if (!o.ok) failures.push(o.error);
  }
  // Removed in every target: the source's own link and the order's state go too, so a record
  // re-created at the source is new to the hub. Each record's deletions are in its group(s) and
  // independent of the others': a retry after a part of them does the rest.
  const tx = store.tx();
  for (const l of linked) {
    if (!removedEverywhere.has(l.key)) continue;
    const sourceId = l.links[connection];
    if (sourceId) store.dropLink(tx, l.key, connection, entity, sourceId);
    if (entity === 'order') tx.forKey(l.key).del(store.orders.lifeKey(l.key), store.orders.snapshotKey(l.key));
  }
  await tx.exec();
  hub.logger.info({ pipeline: pipeline.name, deleted: deletions.length, removed: removedEverywhere.size, failed: failures.length }, 'deletions propagated');
  // The job is retried for the rest: what was removed has no link left and is not asked again.
  if (failures.length) throw failures[0];
}

/** When each of these source records was deleted (ms since the epoch), or undefined. */
export async function deletedSince(hub: Hub, connection: string, entity: Entity, ids: string[]): Promise<(number | undefined)[]> {
  if (!ids.length) return [];
  const marks = await hub.store.redis.hmget(hub.store.k('deleted', connection, entity), ...ids);
  return marks.map((m) => {
    if (!m) return undefined;
    const at = Date.parse((JSON.parse(m) as { deletedAt?: string }).deletedAt ?? '');
    return Number.isNaN(at) ? undefined : at;
  });
}
