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
 * thread, not the process. Each thread serves one evaluation; the next one is started ahead
 * (loading TypeScript and jsonata takes ~0.5 s), unreferenced so it never holds the process.
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

const ENTRY = new URL('../../bin/mapping-sandbox.js', import.meta.url);
const HEAP_MB = 256;

let spare: Worker | undefined;

function startThread(): Worker {
  const worker = new Worker(ENTRY, { stdout: false, stderr: false, resourceLimits: { maxOldGenerationSizeMb: HEAP_MB, maxYoungGenerationSizeMb: 48 } });
  worker.unref();
  // A spare that dies before it is used is replaced when the next one is needed.
  const forget = () => {
    if (spare === worker) spare = undefined;
  };
  worker.once('exit', forget);
  worker.once('error', forget);
  return worker;
}

/** Starts the thread the next preview will use, if none is waiting. */
export function warmSandbox(): void {
  spare ??= startThread();
}

function takeThread(): Worker {
  const worker = spare ?? startThread();
  spare = startThread();
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
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const stopAfter = (ms: number, what: string) => setTimeout(() => finish(() => reject(new MappingError(`${job.file}: ${what} after ${ms} ms and was stopped`, { file: job.file }))), ms);
    let timer = stopAfter(startMs, 'the preview did not start');
    worker.on('message', (m: SandboxMessage) => {
      if (m.type === 'evaluating') {
        clearTimeout(timer);
        timer = stopAfter(wallMs, 'the evaluation ran past its time limit');
      } else if (m.type === 'output') {
        finish(() => resolve(m.value));
      } else {
        finish(() => reject(new MappingError(m.message, m.code === 'mapping_failed' ? m.details as ConstructorParameters<typeof MappingError>[1] : { file: job.file })));
      }
    });
    worker.on('error', (err: Error & { code?: string }) => finish(() => reject(new MappingError(
      err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `${job.file}: the evaluation ran out of memory and was stopped` : `${job.file}: the evaluation failed: ${err.message}`, { file: job.file }))));
    worker.on('exit', (code) => finish(() => reject(new MappingError(`${job.file}: the evaluation stopped without an answer (exit ${code})`, { file: job.file }))));
    worker.postMessage(job);
  });
}
