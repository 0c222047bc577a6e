// Entry of a worker thread of `synchub worker` / `synchub start` (jobs.threads > 1): module
// hooks do not pass to worker threads on Node 20, so each registers tsx before the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('../src/runtime/worker-thread.ts');
