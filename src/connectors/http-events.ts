import { EventEmitter } from 'node:events';

/**
 * What HTTP clients of this process report for metrics, without knowing about
 * Redis or the hub: `rateLimitWait` (connection, ms) each time a client waits
 * inline on an API's rate-limit signal. The hub counts them (see admin/metrics.ts).
 */
export interface HttpEventMap {
  rateLimitWait: [connection: string, ms: number];
}

export const httpEvents = new EventEmitter<HttpEventMap>();
