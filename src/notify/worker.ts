import { sealJson } from '../core/crypto.js';
import { RemoteRejectedError, errorToJson } from '../core/errors.js';
import type { Hub } from '../jobs/hub.js';
import { notifyJobOptions } from '../jobs/order-events.js';
import type { Job } from 'bullmq';
import { flushDigest, keepForDigest } from './digest.js';
import type { Mailer } from './email.js';
import { orderOfEvent, sendEventMail } from './email-send.js';
import { sealPersonal } from './personal.js';
import type { RabbitPublisher } from './rabbitmq.js';
import type { DigestJobData, NotifyJobData, NotifySink } from './types.js';
import { deliverWebhook } from './webhook.js';
import { noteNotification } from '../timeline/notifications.js';

export const NOTIFY_AAD = 'notify';
export const sinkName = (pipeline: string, index: number, sink: NotifySink) => `${pipeline}.notify[${index}].${sink.type}`;

export interface NotifyClients { rabbit: RabbitPublisher; mailer: Mailer }

const isDigestJob = (data: NotifyJobData | DigestJobData): data is DigestJobData => 'digest' in data;

/** One attempt at one event (or one digest window) for one sink. */
async function deliver(hub: Hub, data: NotifyJobData | DigestJobData, sink: NotifySink, attempt: number, clients: NotifyClients, signal?: AbortSignal) {
  const { pipeline: name, sink: index } = data;
  if (isDigestJob(data)) {
    if (sink.type !== 'email' || !sink.digest) throw new Error(`pipeline ${name}: notification sink ${index} keeps no digest any more`);
    return flushDigest(hub, clients.mailer, sink, data, attempt);
  }
  const { event } = data;
  if (sink.type === 'email') return sink.digest ? keepForDigest(hub, sink, name, index, event) : sendEventMail(hub, clients.mailer, sink, name, index, event, attempt);
  const body = sink.encryptFor ? await sealPersonal(sink.encryptFor, event, await orderOfEvent(hub, event)) : event;
  if (sink.type === 'webhook') return deliverWebhook(sink, sinkName(name, index, sink), body, { logger: hub.logger, attempt, signal });
  return clients.rabbit.publish(sink, body);
}

/**
 * Delivers one event to one sink. A failure is retried by the job with backoff; after the
 * sink's last attempt (or at once when a mail server refused the mail for good, 5xx) the event
 * is dead-lettered (step `notify`), and a replay of that dead letter delivers it again.
 */
export async function processNotification(hub: Hub, job: Job<NotifyJobData | DigestJobData>, clients: NotifyClients, signal?: AbortSignal) {
  const { pipeline: name, sink: index } = job.data;
  const sink = hub.config.pipelines.get(name)?.notify[index];
  if (!sink) throw new Error(`job ${job.id}: pipeline ${name} has no notification sink ${index} any more`);
  const attempt = job.attemptsMade + 1;
  try {
    const delivered = { ...(await deliver(hub, job.data, sink, attempt, clients, signal)), attempt };
    // Digest mails (one for many orders) are not noted on each order's timeline.
    if (!isDigestJob(job.data) && !(sink.type === 'email' && sink.digest)) await noteNotification(hub, name, sinkName(name, index, sink), job.data.event, 'delivered');
    return delivered;
  } catch (err) {
    const final = sink.type === 'email' && err instanceof RemoteRejectedError;
    if (attempt < (job.opts.attempts ?? 1) && !final) throw err;
    const data = job.data;
    const key = isDigestJob(data) ? `digest:${data.digest}` : data.event.id;
    const tx = hub.store.tx();
    hub.store.addDeadLetter(tx, {
      pipeline: name, step: 'notify', connection: sink.type, entity: isDigestJob(data) || data.event.order ? 'order' : 'payment', key,
      target: `notify[${index}]`, error: errorToJson(err), attempts: attempt, source: sealJson(hub.config.keyring, isDigestJob(data) ? { digest: data.digest } : data.event, NOTIFY_AAD),
    }, `notify.${job.id ?? key}`.replace(/[^A-Za-z0-9._>-]/g, '_'));
    await tx.exec();
    if (!isDigestJob(data)) await noteNotification(hub, name, sinkName(name, index, sink), data.event, 'dead_lettered');
    hub.logger.error({ pipeline: name, sink: sinkName(name, index, sink), key, err: (err as Error).message }, 'notification dead-lettered');
    return { deadLettered: true, attempt };
  }
}

/** Replays a notify dead letter: the event (or the digest window) goes to its one sink again, with fresh attempts. */
export async function replayNotification(hub: Hub, pipeline: string, target: string | undefined, source: NotifyJobData['event'] | { digest: number }): Promise<void> {
  const index = Number(/^notify\[(\d+)\]$/.exec(target ?? '')?.[1]);
  const sink = hub.config.pipelines.get(pipeline)?.notify[index];
  if (!sink) throw new Error(`pipeline ${pipeline} has no notification sink ${target} any more`);
  if ('digest' in source) {
    await hub.notifyQueue.add('digest', { pipeline, sink: index, digest: source.digest } satisfies DigestJobData, notifyJobOptions(sink));
    return;
  }
  await hub.notifyQueue.add(sink.type, { pipeline, sink: index, event: source } satisfies NotifyJobData, notifyJobOptions(sink));
}
