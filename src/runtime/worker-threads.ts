import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Logger } from '../core/logger.js';
import type { RedisAddress } from '../state/redis-client.js';

/** What a worker thread is started with: it loads the config itself (its own keyring, mappings and clients). */
export interface ThreadOptions { configFile: string; redisAddress: RedisAddress }

export type ThreadMessage = { type: 'ready' } | { type: 'close'; force: boolean } | { type: 'closed' };

export interface ThreadSet {
  /** Stops every thread's workers (waiting for their jobs unless forced), then the threads. */
  close(force?: boolean): Promise<void>;
}

/** Compiled (bin/prebuilt.js), a thread starts from this module's compiled sibling; as TypeScript, from bin/, which registers tsx first. */
const THREAD_ENTRY = import.meta.url.endsWith('.js') ? new URL('./worker-thread.js', import.meta.url) : new URL('../../bin/worker-thread.js', import.meta.url);

/**
 * Each thread gets the heap limits the process was started with (`--max-old-space-size`,
 * `--max-semi-space-size`, as docs/production.md suggests for workers): a worker
 * thread otherwise takes V8's defaults, whatever the process was told.
 */
function threadLimits(): ResourceLimits {
  const mb = (flag: string) => {
    const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
    const v = args.map((a) => new RegExp(`^--${flag}=(\\d+)$`).exec(a)?.[1]).find(Boolean);
    return v === undefined ? undefined : Number(v);
  };
  const old = mb('max-old-space-size');
  const semi = mb('max-semi-space-size');
  // Given an old-generation limit alone, V8 sizes the young generation from it (a few MB for
  // 128 MB, which multiplies scavenges); keep the main thread's: 3 semi-spaces, 16 MB each by default.
  return { ...(old ? { maxOldGenerationSizeMb: old } : {}), maxYoungGenerationSizeMb: (semi ?? 16) * 3 };
}

/**
 * Starts `count` worker threads beside the main one. A thread that fails to start or dies
 * takes the process down with it (exit 1): its jobs' locks expire and a worker taking them up
 * again is safer than a process that quietly works at a fraction of its size.
 */
export async function startWorkerThreads(count: number, options: ThreadOptions, logger: Logger): Promise<ThreadSet> {
  const threads: Worker[] = [];
  let closing = false;
  const started = Array.from({ length: count }, (_, i) => new Promise<void>((resolve, reject) => {
    const t = new Worker(THREAD_ENTRY, { workerData: options, stdout: false, stderr: false, resourceLimits: threadLimits() });
    threads.push(t);
    t.on('message', (m: ThreadMessage) => { if (m.type === 'ready') resolve(); });
    t.once('error', (err) => {
      logger.error({ thread: i + 1, err: err.message }, 'worker thread failed; stopping the process');
      reject(err);
      if (!closing) process.exit(1);
    });
    t.once('exit', (code) => {
      if (!closing) {
        logger.error({ thread: i + 1, code }, 'worker thread exited; stopping the process');
        process.exit(1);
      }
    });
  }));
  await Promise.all(started);
  logger.info({ threads: count + 1 }, 'worker threads running');
  return {
    async close(force = false) {
      closing = true;
      await Promise.all(threads.map((t) => new Promise<void>((resolve) => {
        t.once('exit', () => resolve());
        t.on('message', (m: ThreadMessage) => { if (m.type === 'closed') void t.terminate(); });
        t.postMessage({ type: 'close', force } satisfies ThreadMessage);
      })));
    },
  };
}
