import type { Queue, Worker } from 'bullmq';
import type { Logger } from '../core/logger.js';

/** How often a worker on a Redis Cluster is looked at, and how long it may sit idle beside ready jobs. */
const CHECK_EVERY_MS = 3000;
const IDLE_MS = 8000;

/** The worker a queue's processor runs in now: a stuck one is replaced in place. */
export interface WorkerSlot {
  worker: Worker;
}

/**
 * Replaces a BullMQ worker that a Redis Cluster failover left stuck. After the primary serving a
 * queue's slot is SIGKILLed and its replica promoted, a worker of that queue can stay "running"
 * and take nothing more, with no error (seen here with BullMQ 5.81 and ioredis 5.11 in about one
 * failover of three; reconnecting its connections did not free it, a new worker on a new
 * connection takes the jobs at once). So when the worker has taken no job for IDLE_MS while its
 * queue has jobs ready (waiting, or delayed and due) and is neither paused nor rate-limited, a new
 * worker made by `make` takes its place and the old one is closed without waiting for it. Jobs it
 * held come back through BullMQ's stalled-job check, as after a killed process.
 * Returns the stop function.
 */
export function superviseWorker(slot: WorkerSlot, make: () => Worker, queue: Queue, logger: Logger): () => void {
  let lastActivity = Date.now();
  const touch = () => {
    lastActivity = Date.now();
  };
  const listen = (w: Worker) => {
    w.on('active', touch);
    w.on('completed', touch);
    w.on('failed', touch);
  };
  listen(slot.worker);
  let checking = false;
  const timer = setInterval(() => {
    const current = slot.worker;
    if (checking || current.closing || current.isPaused() || Date.now() - lastActivity < IDLE_MS) return;
    checking = true;
    void (async () => {
      if (await queue.isPaused()) return;
      if ((await queue.getRateLimitTtl()) > 0) return;
      const counts = await queue.getJobCounts('wait', 'prioritized');
      let ready = counts.wait + counts.prioritized > 0;
      if (!ready) {
        const [next] = await queue.getDelayed(0, 0);
        ready = next !== undefined && next.timestamp + (next.opts.delay ?? 0) < Date.now() - 1000;
      }
      if (!ready || slot.worker !== current || current.closing) return;
      logger.warn({ queue: current.name }, 'worker idle beside ready jobs (left stuck by a failover?): replaced by a new one');
      slot.worker = make();
      listen(slot.worker);
      touch();
      void current.close(true).then(async () => (await current.client).disconnect(), () => {});
    })().catch(() => {}).finally(() => {
      checking = false;
    });
  }, CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
