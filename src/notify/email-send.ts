import { createHash } from 'node:crypto';
import type { CanonicalOrder } from '../core/canonical/schemas.js';
import { openJsonBytes } from '../core/crypto.js';
import type { Hub } from '../jobs/hub.js';
import { SNAPSHOT_AAD } from '../jobs/payments.js';
import { eventMessageId, mailFields, personalOf, renderMail, templatesFor, type Mailer } from './email.js';
import type { EmailSink, OrderEvent } from './types.js';

/** How long the hub remembers that a server accepted a mail (longer than any retry or replay of it). */
export const SENT_RECORD_SECONDS = 30 * 24 * 3600;

/**
 * Where the acceptance of one mail is recorded: per pipeline, sink and event (or digest window).
 * The event id is hashed: it names the order by its key, and the key name needs no escaping.
 */
export const sentKey = (hub: Hub, pipeline: string, index: number, what: string) =>
  hub.store.k('notify', 'sent', pipeline, String(index), createHash('sha256').update(what).digest('base64url'));

/**
 * Records that the server accepted a mail, before the job is acknowledged: a job run again
 * after this (its worker killed before BullMQ marked it complete, a stalled lock, a replay)
 * finds the record and sends nothing. Tried a few times, since a lost record means a second mail.
 */
export async function recordSent(hub: Hub, key: string, messageId: string, also?: (tx: ReturnType<Hub['redis']['multi']>) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const tx = hub.redis.multi().set(key, messageId, 'EX', SENT_RECORD_SECONDS);
      also?.(tx);
      await tx.exec();
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** The order an event is about, as the hub keeps it (sealed snapshot, opened in memory), for the customer's name and address. */
export async function orderOfEvent(hub: Hub, event: OrderEvent): Promise<CanonicalOrder | undefined> {
  const key = event.order?.key ?? (event.payment ? await hub.store.orders.orderKeyByNumber(event.payment.orderNumber) : null);
  if (!key) return undefined;
  const sealed = await hub.store.orders.orderSnapshot(key);
  return sealed ? openJsonBytes<CanonicalOrder>(hub.config.keyring, sealed, SNAPSHOT_AAD) : undefined;
}

export type EventMailResult =
  | { sent: true; messageId: string; response: string; accepted: number; rejected: number }
  | { sent: false; messageId: string; reason: 'sent before' | 'no recipient' };

/**
 * One mail for one event. The Message-ID is derived from the event, so each attempt carries
 * the same one; once the server accepted it, the acceptance is recorded and a later run of the
 * job sends nothing. The one window left is between the server's answer and that record (a
 * process killed there): the next attempt sends again, with the same Message-ID.
 */
export async function sendEventMail(hub: Hub, mailer: Mailer, sink: EmailSink, pipeline: string, index: number, event: OrderEvent, attempt: number): Promise<EventMailResult> {
  const messageId = eventMessageId(sink, pipeline, index, event.id);
  const key = sentKey(hub, pipeline, index, event.id);
  if (await hub.redis.exists(key)) return { sent: false, messageId, reason: 'sent before' };
  const order = await orderOfEvent(hub, event);
  const to = [...sink.to];
  const customerEmail = order?.customer?.email;
  if (sink.toCustomer && customerEmail && !to.includes(customerEmail)) to.push(customerEmail);
  if (!to.length) return { sent: false, messageId, reason: 'no recipient' };
  const mail = renderMail(templatesFor(sink, event), mailFields(sink, event, order), sink.locale);
  const result = await mailer.send(sink, {
    ...mail, to, messageId,
    headers: { 'X-Synchub-Event-Id': event.id, 'X-Synchub-Event': event.type, 'X-Synchub-Attempt': String(attempt) },
  }, personalOf(order));
  await recordSent(hub, key, messageId);
  return { sent: true, messageId, ...result };
}
