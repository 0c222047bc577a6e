import { Job } from 'bullmq';
import type { SourceNotReadyError } from '../core/errors.js';
import type { Hub } from './hub.js';

/**
 * Page jobs waiting for a source's background export (SourceNotReadyError) wait as delayed
 * jobs and poll again when their delay ends. When the error names a `wakeKey` (a Shopify bulk
 * operation's GID), the waiting job is remembered under it, so the source's own notice that
 * the export is done (the `bulk_operations/finish` webhook, WebhookDelivery.wake) promotes it
 * at once. Polling alone stays correct: a notice that never comes only costs the delay.
 *
 * Keys (one slot each, nothing personal): `<prefix>:srcwait:<connection>:<wakeKey>` → the
 * waiting job's id; `<prefix>:srcwoken:<connection>:<wakeKey>` → set by the notice, so a job
 * that starts waiting just after it arrived is promoted too.
 */

/** A bulk query may run up to 10 days; its waiting job is remembered a day longer. */
const WAIT_TTL_SECONDS = 11 * 24 * 3600;
const WOKEN_TTL_SECONDS = 3600;
/** Keys one delivery may wake, at most (Shopify's notice names one operation). */
export const MAX_WAKE_KEYS = 10;

const keys = (hub: Hub, connection: string, wakeKey: string) => ({
  waiting: hub.store.k('srcwait', connection, wakeKey),
  woken: hub.store.k('srcwoken', connection, wakeKey),
});

/** Puts the page job back as a delayed job for `err.retryAfterMs`, woken early by a notice. */
export async function delayWaitingPull(hub: Hub, job: Job, token: string | undefined, connection: string | undefined, err: SourceNotReadyError): Promise<void> {
  const k = err.wakeKey && connection && job.id ? keys(hub, connection, err.wakeKey) : undefined;
  if (k) await hub.redis.set(k.waiting, job.id!, 'EX', WAIT_TTL_SECONDS);
  await job.moveToDelayed(Date.now() + Math.max(err.retryAfterMs, 100), token);
  if (k && (await hub.redis.exists(k.woken))) await job.promote().catch(() => {});
}

/** Promotes the page jobs waiting on these keys (a notice from the source that its export is done). */
export async function wakeWaitingPulls(hub: Hub, connection: string, wakeKeys: string[]): Promise<number> {
  let woken = 0;
  for (const wakeKey of wakeKeys.slice(0, MAX_WAKE_KEYS)) {
    const k = keys(hub, connection, wakeKey);
    await hub.redis.set(k.woken, '1', 'EX', WOKEN_TTL_SECONDS);
    const id = await hub.redis.get(k.waiting);
    const job = id ? await Job.fromId(hub.pullQueue, id) : undefined;
    if (job && (await job.isDelayed())) {
      await job.promote().catch(() => {});
      woken++;
    }
  }
  return woken;
}
