import { sealJson } from '../core/crypto.js';
import { errorToJson } from '../core/errors.js';
import type { Hub } from '../jobs/hub.js';
import { notifyJobOptions } from '../jobs/order-events.js';
import type { Job } from 'bullmq';
import type { RabbitPublisher } from './rabbitmq.js';
import type { NotifyJobData, NotifySink } from './types.js';
import { deliverWebhook } from './webhook.js';

export const NOTIFY_AAD = 'notify';
export const sinkName = (pipeline: string, index: number, sink: NotifySink) => `${pipeline}.notify[${index}].${sink.type}`;

/**
 * Delivers one event to one sink. A failure is retried by the job with backoff;
 * after the sink's last attempt the event is dead-lettered (step `notify`), and a
 * replay of that dead letter delivers it again.
 */
export async function processNotification(hub: Hub, job: Job<NotifyJobData>, rabbit: RabbitPublisher, signal?: AbortSignal) {
  const { pipeline: name, sink: index, event } = job.data;
  const sink = hub.config.pipelines.get(name)?.notify[index];
  if (!sink) throw new Error(`job ${job.id}: pipeline ${name} has no notification sink ${index} any more`);
  const attempt = job.attemptsMade + 1;
  try {
    if (sink.type === 'webhook') return { ...(await deliverWebhook(sink, sinkName(name, index, sink), event, { logger: hub.logger, attempt, signal })), attempt };
    return { ...(await rabbit.publish(sink, event)), attempt };
  } catch (err) {
    if (attempt < (job.opts.attempts ?? 1)) throw err;
    const tx = hub.redis.multi();
    hub.store.addDeadLetter(tx, {
      pipeline: name, step: 'notify', connection: sink.type, entity: event.order ? 'order' : 'payment', key: event.id,
      target: `notify[${index}]`, error: errorToJson(err), attempts: attempt, source: sealJson(hub.config.keyring, event, NOTIFY_AAD),
    }, `notify.${job.id ?? event.id}`.replace(/[^A-Za-z0-9._>-]/g, '_'));
    await tx.exec();
    hub.logger.error({ pipeline: name, sink: sinkName(name, index, sink), eventId: event.id, err: (err as Error).message }, 'notification dead-lettered after its last attempt');
    return { deadLettered: true, attempt };
  }
}

/** Replays a notify dead letter: the event goes to its one sink again, with fresh attempts. */
export async function replayNotification(hub: Hub, pipeline: string, target: string | undefined, event: NotifyJobData['event']): Promise<void> {
  const index = Number(/^notify\[(\d+)\]$/.exec(target ?? '')?.[1]);
  const sink = hub.config.pipelines.get(pipeline)?.notify[index];
  if (!sink) throw new Error(`pipeline ${pipeline} has no notification sink ${target} any more`);
  await hub.notifyQueue.add(sink.type, { pipeline, sink: index, event } satisfies NotifyJobData, notifyJobOptions(sink));
}
