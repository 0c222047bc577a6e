/**
 * Records mapped one after another between two turns of the event loop. A batch of 100 or
 * more records mapped without a break holds the loop for tens of milliseconds, and in a
 * process that also serves webhooks (`synchub start`) every request that arrives meanwhile
 * waits for it (measured in `npm run bench -- webhook-crm` as the answer's p99).
 */
export const RECORDS_PER_TURN = 16;

/** Lets timers and I/O (the HTTP server's requests) run before going on. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
