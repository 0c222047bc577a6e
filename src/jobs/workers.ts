import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';
import { DelayedError, UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import { expireParked } from './payments.js';
import { ingestRecords } from './ingest.js';
import { APPROVAL_TIMEOUT_JOB, expireApproval } from '../operations/approval.js';
import { SEGMENTS_CUSTOMERS_JOB, SEGMENTS_RECOMPUTE_JOB, recomputeSegments, updateCustomerSegments } from '../operations/segments/segments.js';
import { AuthFailedError, RateLimitedError, SourceFailedError, SourceNotReadyError } from '../core/errors.js';
import { scrubThrown } from '../core/redact.js';
import type { Hub } from './hub.js';
import { processPage, processStart } from './pull.js';
import { delayWaitingPull } from './source-wake.js';
import { RecordsBusyError, pushBatch } from './push.js';
import { FLUSH_QUEUE, INGEST_QUEUE, PULL_QUEUE, pushQueueName, queueOptions, type FlushJobData, type PullJobData, type PushJobData, type StartJobData, type WebhookBatchJobData, type WebhookJobData } from './queues.js';
import { processWebhookJob } from './webhook-job.js';
import { processFlush } from './coalesce.js';
import { CallWindow } from './call-window.js';
import { Mailer } from '../notify/email.js';
import { RabbitPublisher } from '../notify/rabbitmq.js';
import { NOTIFY_QUEUE, type DigestJobData, type NotifyJobData } from '../notify/types.js';
import { processNotification } from '../notify/worker.js';
import { isClusterClient } from '../state/redis-client.js';
import { superviseWorker, type WorkerSlot } from './worker-watchdog.js';

/** A pull that failed for good at the source (SourceFailedError): BullMQ fails the job without retrying it, and the run fails. */
class SourceRunFailed extends UnrecoverableError {}

export interface WorkerSet {
  /** The workers running now (on a Redis Cluster a stuck one is replaced, see worker-watchdog.ts). */
  readonly workers: Worker[];
  /** Stops taking jobs and waits for the ones in progress (or not, with force). */
  close(force?: boolean): Promise<void>;
}

/**
 * A connector's RateLimitedError waits as long as the API asked, through the
 * queue's limiter, without using up an attempt. Any other error leaves scrubbed of
 * email- and phone-shaped text: BullMQ keeps its message and stack in Redis
 * (failedReason, stacktrace) and the failed handlers log them. (Push jobs scrub
 * theirs of the batch's own values first, see push.ts.)
 */
async function waitOnRateLimit(worker: Worker, err: unknown, hub?: Hub, connection?: string): Promise<never> {
  if (err instanceof RateLimitedError) {
    const ms = Math.max(err.retryAfterMs, 1000);
    if (hub && connection) await hub.metrics.rateLimitWait(connection, 'queue', ms).catch(() => {});
    await worker.rateLimit(ms);
    throw Worker.RateLimitError();
  }
  throw scrubThrown(err);
}

/** A job's work, then the replica barrier (Hub.replicaBarrier) before BullMQ marks the job completed. */
function committed<A extends unknown[], R>(hub: Hub, work: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const result = await work(...args);
    await hub.replicaBarrier();
    return result;
  };
}

export function startWorkers(hub: Hub): WorkerSet {
  const { jobs, redis } = hub.config;
  // The name is kept on each job it processes (processedBy): which process and thread took it.
  const common = { lockDuration: jobs.lockDurationMs, stalledInterval: jobs.stalledIntervalMs, maxStalledCount: 5, name: `${hostname()}:${process.pid}:${threadId}` };
  const slots: WorkerSlot[] = [];
  const stopSupervising: (() => void)[] = [];
  const log = hub.logger;
  // Each queue's worker is made by a function, so that on a Redis Cluster a worker a failover left
  // stuck can be replaced by a new one (src/jobs/worker-watchdog.ts).
  const run = (queue: Queue, make: () => Worker): WorkerSlot => {
    const made = () => {
      const w = make();
      w.on('error', (err) => log.warn({ queue: w.name, err: err.message }, 'worker error'));
      return w;
    };
    const slot = { worker: made() };
    slots.push(slot);
    if (isClusterClient(hub.redis)) stopSupervising.push(superviseWorker(slot, made, queue, log));
    return slot;
  };

  const pull: WorkerSlot = run(hub.pullQueue, () => {
    const w = new Worker(PULL_QUEUE, committed(hub, async (job: Job, token?: string, signal?: AbortSignal) => {
      try {
        if (job.name === 'start') return await processStart(hub, job as Job<StartJobData>);
        return await processPage(hub, job as Job<PullJobData>, signal);
      } catch (err) {
        if (err instanceof SourceNotReadyError) {
          // A source exporting in the background (a Shopify bulk operation): the page job waits
          // delayed in Redis, holding no worker and no lock, and keeps its cursor (the
          // operation's id), so a restart looks at the same operation again.
          await delayWaitingPull(hub, job, token, hub.config.pipelines.get((job.data as PullJobData).pipeline)?.source.connection, err);
          throw new DelayedError();
        }
        // The source's export failed for good: no retry could succeed; the run fails now.
        if (err instanceof SourceFailedError) throw new SourceRunFailed(scrubThrown(err).message);
        return waitOnRateLimit(pull.worker, err, hub, hub.config.pipelines.get((job.data as PullJobData).pipeline)?.source.connection);
      }
    }), { ...queueOptions(hub.workerConnection(), redis.prefix), ...common, concurrency: jobs.pullConcurrency });
    w.on('failed', async (job, err) => {
      if (!job || job.name !== 'page') return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof SourceRunFailed;
      log.error({ pipeline: job.data.pipeline, runId: job.data.runId, seq: job.data.seq, err: err.message, final }, final ? 'pull failed for good; the run stops at its last checkpoint' : 'pull failed; will retry');
      if (final) await hub.store.failRun(job.data.pipeline, job.data.runId, err.message).catch(() => {});
    });
    return w;
  });

  const ingest: WorkerSlot = run(hub.ingestQueue, () => new Worker(INGEST_QUEUE, committed(hub, async (job: Job<WebhookBatchJobData | WebhookJobData>, token?: string, signal?: AbortSignal) => {
    if (job.name === 'park-expire') return expireParked(hub, job.data as unknown as { orderNumber: string; id: string });
    if (job.name === SEGMENTS_RECOMPUTE_JOB) return hub.config.segments ? recomputeSegments(hub) : undefined;
    if (job.name === SEGMENTS_CUSTOMERS_JOB) return hub.config.segments ? updateCustomerSegments(hub, (job.data as unknown as { customers: string[] }).customers) : undefined;
    if (job.name === APPROVAL_TIMEOUT_JOB) return expireApproval(hub, job.data as unknown as { key: string }, (p, raw, base) => ingestRecords(hub, p, [raw], { deliveryBase: base, deadLetterBase: base }));
    try {
      return await processWebhookJob(hub, job, signal, token);
    } catch (err) {
      return waitOnRateLimit(ingest.worker, err, hub, job.data.connection);
    }
  }), { ...queueOptions(hub.workerConnection(), redis.prefix), ...common, concurrency: jobs.ingestConcurrency }));

  // Webhook records waiting to be pushed together become push batches here (coalesce.ts).
  run(hub.flushQueue, () => new Worker(FLUSH_QUEUE, committed(hub, (job: Job<FlushJobData>, token?: string) => processFlush(hub, job, token)), {
    ...queueOptions(hub.workerConnection(), redis.prefix), ...common, concurrency: jobs.pushConcurrency,
  }));

  const targets = new Set([...hub.config.pipelines.values()].flatMap((p) => p.targets.map((t) => t.connection)));
  for (const connection of targets) {
    const conn = hub.config.connections.get(connection)!;
    const limit = conn.http.rateLimit ?? hub.config.connectorOf(connection).defaultRateLimit;
    const window = limit ? new CallWindow(hub.redis, hub.keyPrefix, connection, limit) : undefined;
    const push: WorkerSlot = run(hub.pushQueue(connection), () => new Worker(pushQueueName(connection), committed(hub, async (job: Job<PushJobData>, token?: string, signal?: AbortSignal) => {
      const pipeline = hub.config.pipelines.get(job.data.pipeline);
      const target = pipeline?.targets.find((t) => t.connection === job.data.target && t.entity === job.data.entity);
      if (!pipeline || !target) throw new Error(`job ${job.id}: pipeline ${job.data.pipeline} has no target ${job.data.target} any more`);
      const gate = await hub.breaker(connection).admit();
      if (!gate.allowed) {
        await push.worker.rateLimit(gate.waitMs);
        throw Worker.RateLimitError();
      }
      // The limit as the target counts it (a rolling window); the queue's limiter below counts fixed windows.
      const place = window ? await window.take() : undefined;
      if (place && 'waitMs' in place) {
        await push.worker.rateLimit(place.waitMs);
        throw Worker.RateLimitError();
      }
      let called = true;
      try {
        return await pushBatch({ hub, pipeline, target, job, signal });
      } catch (err) {
        if (err instanceof RecordsBusyError) {
          // The same record is being pushed by another job: come back shortly, using no attempt (nor a place in the window).
          called = false;
          await job.moveToDelayed(Date.now() + 100 + Math.floor(Math.random() * 200), token);
          throw new DelayedError();
        }
        if (err instanceof AuthFailedError) {
          // Stop the connection, not a retry storm: an admin resumes it once the credentials are fixed.
          log.error({ connection, err: err.message }, 'authentication failed: push queue paused until resumed');
          await hub.pushQueue(connection).pause();
        }
        // Awaited here, so its rejection is handled before the finally below waits on Redis.
        return await waitOnRateLimit(push.worker, err, hub, connection);
      } finally {
        if (place && 'call' in place) await (called ? window!.done(place.call) : window!.release(place.call)).catch(() => {});
      }
    }), {
      ...queueOptions(hub.workerConnection(), redis.prefix), ...common, concurrency: jobs.pushConcurrency,
      ...(limit ? { limiter: { max: limit.max, duration: limit.perMs } } : {}),
    }));
  }

  // Notifications of order events, when some pipeline has sinks.
  const notifyClients = { rabbit: new RabbitPublisher(), mailer: new Mailer() };
  if ([...hub.config.pipelines.values()].some((p) => p.notify.length)) {
    run(hub.notifyQueue, () => new Worker(NOTIFY_QUEUE, committed(hub, (job: Job<NotifyJobData | DigestJobData>, _token?: string, signal?: AbortSignal) => processNotification(hub, job, notifyClients, signal)), {
      ...queueOptions(hub.workerConnection(), redis.prefix), ...common, concurrency: jobs.pushConcurrency,
    }));
  }

  let closing: Promise<void> | undefined;
  return {
    get workers() {
      return slots.map((s) => s.worker);
    },
    close(force = false) {
      closing ??= (async () => {
        for (const stop of stopSupervising) stop();
        await Promise.allSettled(slots.map(async ({ worker: w }) => {
          await w.close(force);
          (await w.client).disconnect();
        }));
        await notifyClients.rabbit.close();
        notifyClients.mailer.close();
      })();
      return closing;
    },
  };
}

/** One scheduler per pipeline with a schedule; upsert is idempotent, so several processes starting at once do not double-fire. */
export async function installSchedules(hub: Hub): Promise<void> {
  const wanted = new Set<string>();
  for (const p of hub.config.pipelines.values()) {
    if (!p.schedule) continue;
    const id = `schedule-${p.name}`;
    wanted.add(id);
    await hub.pullQueue.upsertJobScheduler(id, { pattern: p.schedule }, { name: 'start', data: { pipeline: p.name, full: false } satisfies StartJobData, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } });
  }
  for (const s of await hub.pullQueue.getJobSchedulers()) {
    if (s.key && s.key.startsWith('schedule-') && !wanted.has(s.key)) await hub.pullQueue.removeJobScheduler(s.key);
  }
  // Customer segments: the full computation (recency moves with time).
  if (hub.config.segments) await hub.ingestQueue.upsertJobScheduler('segments', { pattern: hub.config.segments.schedule }, { name: SEGMENTS_RECOMPUTE_JOB, data: {}, opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 10 } } });
  else await hub.ingestQueue.removeJobScheduler('segments');
}
