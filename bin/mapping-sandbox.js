// Entry of the worker thread that evaluates an admin preview's expression (src/mappings/sandboxed.ts):
// module hooks do not pass to worker threads on Node 20, so it registers tsx before the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('../src/mappings/sandbox-thread.ts');
