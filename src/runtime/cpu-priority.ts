import { readdirSync } from 'node:fs';
import os from 'node:os';

export interface CpuPriorityResult {
  /** 'set': lowered; 'kept': already at or below it (`nice -n 15 synchub worker`); 'off': 0 asked; 'refused': the system said no. */
  outcome: 'set' | 'kept' | 'off' | 'refused';
  /** Threads (Linux tasks) that were lowered. */
  threads: number;
  error?: string;
}

/**
 * Lowers this process's CPU priority to the Unix nice value `nice` (`jobs.workerNice`), never
 * raising it: a `synchub worker` sharing a machine with `synchub serve` and Redis then yields
 * the CPU to them while they want it, so webhooks are answered and Redis serves without waiting
 * behind ingest and push work. Nothing is lost by it: a webhook is answered once stored, and
 * the worker works its queue off as CPU frees up (bench/RESULTS.md, "The worker's CPU priority").
 *
 * On Linux a nice value belongs to each thread, and a thread takes its creator's when it
 * starts. So every thread the process has now (the main one, libuv's and V8's) is lowered one
 * by one, before any worker thread is started: those inherit it. Elsewhere the whole process
 * is lowered at once. Lowering needs no privilege; a refusal (a locked-down container) is
 * reported and the worker runs on at the priority it has.
 */
export function lowerCpuPriority(nice: number): CpuPriorityResult {
  if (nice <= 0) return { outcome: 'off', threads: 0 };
  let tasks: number[];
  try {
    tasks = readdirSync('/proc/self/task').map(Number).filter((t) => Number.isSafeInteger(t) && t > 0);
  } catch {
    tasks = [0]; // not Linux: the process as a whole
  }
  let lowered = 0;
  for (const task of tasks) {
    try {
      if (os.getPriority(task) >= nice) continue;
      os.setPriority(task, nice);
      lowered++;
    } catch (err) {
      // A thread that ended between the listing and the call is not a refusal.
      if ((err as { info?: { code?: string } }).info?.code === 'ESRCH') continue;
      return { outcome: 'refused', threads: lowered, error: (err as Error).message };
    }
  }
  return { outcome: lowered ? 'set' : 'kept', threads: lowered };
}
