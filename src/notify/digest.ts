import type { Hub } from '../jobs/hub.js';
import { notifyJobOptions } from '../jobs/order-events.js';
import { mailDomain, mailFields, renderMail, type Mailer } from './email.js';
import { recordSent, sentKey } from './email-send.js';
import { PersonalValues } from '../core/redact.js';
import type { DigestJobData, EmailSink, OrderEvent } from './types.js';

/**
 * Digest mode of an email sink: each event is kept in Redis (sealed, one hash field per event
 * id, so an event handled twice is kept once) until its window closes; then one flush job sends
 * one mail with every event kept. Nothing lives only in a worker's memory: a worker killed at
 * any point leaves the events in Redis and the flush job in the queue.
 *
 *   pending  events waiting for the next flush
 *   batch:W  the events of window W, moved there by its flush (atomically, in one script), kept
 *            until the mail is accepted, so a retried flush sends the same events again
 */
const pendingKey = (hub: Hub, pipeline: string, index: number) => hub.store.k('notify', 'digest', pipeline, String(index), 'pending');
const batchKey = (hub: Hub, pipeline: string, index: number, window: number) => hub.store.k('notify', 'digest', pipeline, String(index), 'batch', String(window));
const digestAad = (pipeline: string, index: number) => `notify-digest:${pipeline}:${index}`;

/** A flush runs this long after its window closed, so events kept by a worker whose clock lags a little still make it. */
const FLUSH_GRACE_MS = 2000;

// KEYS: pending, batch. The batch of a window is taken once; a flush run again finds it taken already.
const TAKE_BATCH = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
return 1`;

/** Keeps an event for the sink's next digest, and makes sure the flush of the window it falls in is queued. */
export async function keepForDigest(hub: Hub, sink: EmailSink, pipeline: string, index: number, event: OrderEvent): Promise<{ window: number }> {
  await hub.redis.hset(pendingKey(hub, pipeline, index), event.id, hub.config.keyring.encrypt(JSON.stringify(event), digestAad(pipeline, index)));
  // The window is taken after the write: its flush runs after the window's end, so it finds this event.
  const period = sink.digest!.everyMinutes * 60_000;
  const window = Math.floor(Date.now() / period) * period + period;
  await hub.notifyQueue.add('digest', { pipeline, sink: index, digest: window } satisfies DigestJobData, {
    ...notifyJobOptions(sink, `digest.${pipeline}.${index}.${window}`),
    delay: Math.max(0, window - Date.now() + FLUSH_GRACE_MS),
  });
  return { window };
}

export type DigestResult = { sent: true; events: number; messageId: string; response: string } | { sent: false; reason: 'empty' | 'sent before' };

/** Sends the digest of one window: every event kept until now, in one mail. */
export async function flushDigest(hub: Hub, mailer: Mailer, sink: EmailSink, job: DigestJobData, attempt: number): Promise<DigestResult> {
  const { pipeline, sink: index, digest: window } = job;
  const batch = batchKey(hub, pipeline, index, window);
  const sent = sentKey(hub, pipeline, index, `digest:${window}`);
  if (await hub.redis.exists(sent)) {
    await hub.redis.del(batch);
    return { sent: false, reason: 'sent before' };
  }
  const taken = await hub.redis.eval(TAKE_BATCH, 2, pendingKey(hub, pipeline, index), batch);
  if (!taken) return { sent: false, reason: 'empty' };
  const sealed = await hub.redis.hvals(batch);
  const events = sealed.map((s) => JSON.parse(hub.config.keyring.decrypt(s, digestAad(pipeline, index))) as OrderEvent)
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1));
  const { maxEvents, everyMinutes, templates } = sink.digest!;
  const shown = events.slice(0, maxEvents);
  const fields = {
    pipeline, count: events.length, more: events.length - shown.length,
    from: new Date(window - everyMinutes * 60_000).toISOString(), until: new Date(window).toISOString(),
    events: shown.map((e) => mailFields(sink, e)),
  };
  const mail = renderMail(templates, fields, sink.locale);
  // Pipeline names are letters, digits, _ and - (the config schema): fit for a Message-ID as they are.
  const messageId = `<synchub.digest.${window}.${index}.${pipeline}@${mailDomain(sink.from)}>`;
  const result = await mailer.send(sink, {
    ...mail, to: sink.to, messageId,
    headers: { 'X-Synchub-Digest': new Date(window).toISOString(), 'X-Synchub-Events': String(events.length), 'X-Synchub-Attempt': String(attempt) },
  }, new PersonalValues());
  await recordSent(hub, sent, messageId, (tx) => tx.del(batch));
  return { sent: true, events: events.length, messageId, response: result.response };
}
