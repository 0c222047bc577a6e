import { openJson } from '../core/crypto.js';
import { SynchubError } from '../core/errors.js';
import type { DeadLetter } from '../state/store.js';
import type { Hub } from './hub.js';
import { ingestRecords } from './ingest.js';
import { SOURCE_AAD } from './source-pages.js';
import { NOTIFY_AAD, replayNotification } from '../notify/worker.js';
import type { OrderEvent } from '../notify/types.js';

/**
 * Replays a dead letter from its source record through the current mappings:
 * fix a mapping, replay, and the records it broke go through. A push-side failure
 * is replayed to its one target only. The dead letter is removed once handed on;
 * if it fails again it comes back as a new dead letter with the new reason.
 */
export async function replayDeadLetter(hub: Hub, dl: DeadLetter): Promise<void> {
  if (dl.erased) throw new SynchubError('conflict', `dead letter ${dl.id} was erased with its person (erasure ${dl.erased.id}): nothing is left to replay`);
  const pipeline = hub.config.pipelines.get(dl.pipeline);
  if (!pipeline) throw new Error(`dead letter ${dl.id}: pipeline ${dl.pipeline} no longer exists in the config`);
  if (dl.step === 'notify') {
    // A notification that ran out of attempts: the event goes to its one sink again.
    await replayNotification(hub, dl.pipeline, dl.target, openJson<OrderEvent>(hub.config.keyring, dl.source, NOTIFY_AAD));
    await hub.store.removeDeadLetter(dl);
    return;
  }
  if (!dl.source) throw new Error(`dead letter ${dl.id}: its source record was not kept (its push waited longer than the 30 days sources are kept), so it cannot be replayed; discard it`);
  const source = openJson(hub.config.keyring, dl.source, SOURCE_AAD);
  await hub.store.removeDeadLetter(dl);
  if (dl.key) await hub.timeline.append(pipeline.name, [{ key: dl.key, step: { step: 'replayed', deadLetter: dl.id, ...(dl.target ? { target: dl.target } : {}) } }]);
  await ingestRecords(hub, pipeline, [source], { onlyTarget: dl.target, deliveryBase: `replay.${dl.id}.${Date.now()}` });
}
