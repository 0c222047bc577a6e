/**
 * The body of a preview's worker thread (./sandboxed.ts): started ahead, it takes one job at
 * a time, compiles the expression, says it is evaluating, answers the output or the error.
 */
import { parentPort } from 'node:worker_threads';
import { SynchubError } from '../core/errors.js';
import { compileMapping } from './engine.js';
import type { SandboxJob, SandboxMessage } from './sandboxed.js';

const send = (m: SandboxMessage) => parentPort!.postMessage(m);

parentPort!.on('message', async (job: SandboxJob) => {
  try {
    const mapping = compileMapping(job.source, job.file, job.context, job.limits);
    send({ type: 'evaluating' });
    send({ type: 'output', value: await mapping.evaluate(job.input) });
  } catch (err) {
    const e = err as SynchubError;
    send({ type: 'error', message: e?.message ?? String(err), code: e instanceof SynchubError ? e.code : undefined, details: e instanceof SynchubError ? e.details : undefined });
  }
});
