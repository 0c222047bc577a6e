import { parentPort, threadId, workerData } from 'node:worker_threads';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../core/logger.js';
import { Hub } from '../jobs/hub.js';
import { startWorkers } from '../jobs/workers.js';
import type { ThreadMessage, ThreadOptions } from './worker-threads.js';

/**
 * One worker thread: the same config and Redis as the process that started it, and the
 * same queue workers (no schedulers, no HTTP server: the main thread has those). It takes
 * jobs like another worker process would, so everything that makes several processes safe
 * (job locks, deterministic job ids, per-record push locks, compare-and-set) covers it too.
 */
const { configFile, redisAddress } = workerData as ThreadOptions;
const port = parentPort!;
const logger = createLogger().child({ thread: threadId });
const hub = await Hub.open(loadConfig(configFile), logger, redisAddress);
const workers = startWorkers(hub);

port.on('message', async (m: ThreadMessage) => {
  if (m.type !== 'close') return;
  await workers.close(m.force);
  await hub.close();
  port.postMessage({ type: 'closed' } satisfies ThreadMessage);
});
port.postMessage({ type: 'ready' } satisfies ThreadMessage);
