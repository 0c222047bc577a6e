/**
 * Allocation sampling for a hub process, garbage included: `node --import ./bench/heap-sample.mjs …`
 * (BENCH_HEAP_SAMPLE=bench/heap-sample.mjs does that for the webhook → CRM benchmark's processes;
 * BENCH_WORKER_NODE_OPTIONS="--import ./bench/heap-sample.mjs" for bench/one-run.ts's worker).
 * Unlike `--heap-prof`, which keeps only what is still alive at exit, this counts every sampled
 * allocation, also those collected since: what drives the garbage collector's work. On SIGTERM
 * the process writes `heap-<pid>.json` (a V8 sampling heap profile) to HEAP_SAMPLE_DIR (default
 * the system's temp folder); `node bench/heap-report.mjs FILE` sums it by function. With
 * HEAP_SAMPLE_PROMOTED=1 only what outlived the young generation is counted.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const session = new Session();
session.connect();
session.post('HeapProfiler.enable');
// HEAP_SAMPLE_PROMOTED=1 leaves out what a scavenge collected: what is left outlived the young
// generation (promoted to the old one), the objects that make scavenges and full collections cost.
session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !process.env.HEAP_SAMPLE_PROMOTED });
process.prependListener('SIGTERM', () => {
  // An in-process session answers synchronously, before the hub's own SIGTERM handler closes it.
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (!err) writeFileSync(path.join(process.env.HEAP_SAMPLE_DIR || os.tmpdir(), `heap-${process.pid}.json`), JSON.stringify(result.profile));
  });
});
