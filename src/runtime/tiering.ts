import v8 from 'node:v8';

const FLAG = '--max-bytecode-size-for-early-opt';

/**
 * Small functions optimised by V8 only once they are hot, not on their first profiler tick.
 *
 * The data path creates its small callbacks afresh for each page or batch (`live.map((m) => m.key)`
 * in ingest, the state store's key builders, …). Closures of one function literal share their
 * optimised code through their feedback vector, but V8 holds that code weakly there: once the
 * closures that ran it are gone, a full collection drops it, and the next page's closures start
 * again in the interpreter. V8 optimises a function whose bytecode is under 81 bytes on its first
 * tick ("small function"), so after every full collection each of these callbacks was compiled by
 * TurboFan again: in a worker's steady state (after 20,000 orders) TurboFan took more than half of
 * V8's helper threads' CPU, about a sixth of the worker's, compiling the same ~70 callbacks again
 * once per full collection (`--trace-opt`, perf; bench/RESULTS.md, thirteenth session).
 *
 * At 0 (V8's `--max-bytecode-size-for-early-opt`) small functions wait until they are "hot and
 * stable" like any other, so a callback that runs a few hundred times between two collections
 * stays in baseline code instead of being compiled again. The flag is read at each tick and
 * global to the process (worker threads too); a value on node's command line wins.
 */
export function optimiseSmallFunctionsWhenHot(execArgv: readonly string[] = process.execArgv): 'set' | 'command line' {
  if (execArgv.some((a) => a.startsWith(`${FLAG}=`) || a.startsWith('--max_bytecode_size_for_early_opt='))) return 'command line';
  v8.setFlagsFromString(`${FLAG}=0`);
  return 'set';
}
