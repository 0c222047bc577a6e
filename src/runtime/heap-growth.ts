import v8 from 'node:v8';

const FLAG = '--heap-growing-percent';

/**
 * How far V8 lets a worker's old generation grow past its live data before the next full
 * collection (`jobs.heapGrowthPercent`). On a machine with plenty of memory V8's heap controller
 * allows up to fourfold (its MaxGrowingFactor for a large heap limit): a worker whose live data is
 * ~30-35 MB a thread then carries 60-70 MB of garbage in each thread's heap, plus the Buffers that
 * garbage keeps (freed only by a full collection), at its peak. A fixed factor keeps the peak near
 * the live data at the cost of more full collections: at 100, one thread peaked ~70 MB lower for
 * ~12% more CPU a record, most of it V8's concurrent marking (bench/RESULTS.md, "Heap growth per
 * worker thread").
 *
 * The flag is V8's own (`--heap-growing-percent`), read whenever a heap sets its next limit and
 * global to the process, so it holds for the worker threads started after it too. Node takes it on
 * its command line but refuses it in NODE_OPTIONS, hence this setting; a value given on the
 * command line wins. 0 leaves V8's own factor.
 */
export function limitHeapGrowth(percent: number, execArgv: readonly string[] = process.execArgv): 'set' | 'command line' | 'v8 default' {
  if (execArgv.some((a) => a.startsWith(`${FLAG}=`) || a.startsWith('--heap_growing_percent='))) return 'command line';
  if (percent <= 0) return 'v8 default';
  v8.setFlagsFromString(`${FLAG}=${Math.round(percent)}`);
  return 'set';
}
