/**
 * Evaluates one mapping on one input in a worker thread that is terminated when it runs
 * too long, for the admin preview of an arbitrary expression.
 *
 * The mapping timeout is checked between the nodes of an expression; a single built-in call
 * that runs long (`$distinct` over a large array compares every pair) or a bug in a bound
 * would still hold the event loop, and with it every request the server answers. Here the
 * event loop that runs the expression is the thread's, the server only waits for a message,
 * and at the limit it terminates the thread (V8 stops the running JavaScript) and answers a
 * mapping error. The thread also runs under a heap limit, so a runaway allocation ends the
 * thread, not the process. A thread that answered is kept for the next preview, and one is
 * started ahead in place of a thread that was stopped (loading TypeScript and jsonata takes
 * ~0.5 s); the one kept waiting is unreferenced, so it never holds the process open.
 */
import { Worker } from 'node:worker_threads';
import { MappingError, type ErrorCode } from '../core/errors.js';
import type { MappingContext, MappingLimits } from './engine.js';

export interface SandboxJob {
  source: string;
  file: string;
  context: MappingContext;
  limits: Partial<MappingLimits>;
  input: unknown;
}

export type SandboxMessage =
  | { type: 'evaluating' }
  | { type: 'output'; value: unknown }
  | { type: 'error'; message: string; code?: ErrorCode; details?: unknown };

export interface SandboxOptions {
  /** How long the evaluation may take once the thread has compiled the expression (ms). Default: the mapping's timeoutMs, at least 1000. */
  wallMs?: number;
  /** How long the thread may take to start and compile (ms). Default 15000. */
  startMs?: number;
}

/** Compiled (bin/prebuilt.js), the thread starts from this module's compiled sibling; as TypeScript, from bin/, which registers tsx first. */
const ENTRY = import.meta.url.endsWith('.js') ? new URL('./sandbox-thread.js', import.meta.url) : new URL('../../bin/mapping-sandbox.js', import.meta.url);
const HEAP_MB = 256;

/** The thread waiting for the next preview. */
let idle: Worker | undefined;

const newThread = () => new Worker(ENTRY, { stdout: false, stderr: false, resourceLimits: { maxOldGenerationSizeMb: HEAP_MB, maxYoungGenerationSizeMb: 48 } });

/** Ends a thread; whatever it still reports is ignored. */
function end(worker: Worker): void {
  worker.removeAllListeners();
  worker.on('error', () => undefined);
  void worker.terminate();
}

/** Keeps a thread as the one waiting (or ends it when one already is). */
function wait(worker: Worker): void {
  if (idle) {
    end(worker);
    return;
  }
  worker.removeAllListeners();
  idle = worker;
  worker.unref();
  // One that dies while waiting is replaced when the next one is needed.
  const forget = () => {
    if (idle === worker) idle = undefined;
  };
  worker.once('exit', forget);
  worker.on('error', forget);
}

/** Starts the thread the next preview will use, if none is waiting. */
export function warmSandbox(): void {
  if (!idle) wait(newThread());
}

function takeThread(): Worker {
  const worker = idle ?? newThread();
  idle = undefined;
  worker.removeAllListeners();
  worker.ref();
  return worker;
}

/** The mapping's output on the input, evaluated in a worker thread; MappingError when it fails, runs out of time or of memory. */
export function evaluateSandboxed(job: SandboxJob, options: SandboxOptions = {}): Promise<unknown> {
  const wallMs = options.wallMs ?? Math.max(1000, job.limits.timeoutMs ?? 1000);
  const startMs = options.startMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const worker = takeThread();
    let settled = false;
    /** `answered`: the thread answered and can serve the next preview; otherwise it is ended and another started. */
    const finish = (fn: () => void, answered = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      if (answered) {
        wait(worker);
      } else {
        end(worker);
        warmSandbox();
      }
    };
    const stopAfter = (ms: number, what: string) => setTimeout(() => finish(() => reject(new MappingError(`${job.file}: ${what} after ${ms} ms and was stopped`, { file: job.file }))), ms);
    let timer = stopAfter(startMs, 'the preview did not start');
    worker.on('message', (m: SandboxMessage) => {
      if (m.type === 'evaluating') {
        clearTimeout(timer);
        timer = stopAfter(wallMs, 'the evaluation ran past its time limit');
      } else if (m.type === 'output') {
        finish(() => resolve(m.value), true);
      } else {
        finish(() => reject(new MappingError(m.message, m.code === 'mapping_failed' ? m.details as ConstructorParameters<typeof MappingError>[1] : { file: job.file })), true);
      }
    });
    worker.on('error', (err: Error & { code?: string }) => finish(() => reject(new MappingError(
      err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `${job.file}: the evaluation ran out of memory and was stopped` : `${job.file}: the evaluation failed: ${err.message}`, { file: job.file }))));
    worker.on('exit', (code) => finish(() => reject(new MappingError(`${job.file}: the evaluation stopped without an answer (exit ${code})`, { file: job.file }))));
    worker.postMessage(job);
  });
}
