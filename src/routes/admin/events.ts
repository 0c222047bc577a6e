import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Redis } from 'ioredis';
import type { Hub } from '../../jobs/hub.js';
import { duplicateClient } from '../../state/redis-client.js';
import { EVENT_STREAM_MAXLEN, eventStreamKey } from '../../jobs/order-events.js';

const BLOCK_MS = 15_000;

/** Open event streams per hub, so a server shutting down can end them instead of waiting for their clients. */
const openStreams = new WeakMap<Hub, Set<() => void>>();

export function endEventStreams(hub: Hub): void {
  for (const end of openStreams.get(hub) ?? []) end();
}
const STREAM_ID = /^\d+-\d+$/;

/**
 * GET /api/events: Server-Sent Events of order status changes and payment results
 * as they are applied, read from a bounded Redis stream (the newest
 * EVENT_STREAM_MAXLEN). Each event's id is its stream id: a client that reconnects
 * with Last-Event-ID gets everything after it; when that id was trimmed away
 * meanwhile, a `gap` event says so before the rest.
 */
export function eventRoutes(hub: Hub): Hono {
  const app = new Hono();
  app.get('/', (c) => {
    const resumeFrom = c.req.header('last-event-id') ?? c.req.query('lastEventId');
    const res = streamSSE(c, async (stream) => {
      // A blocking read holds its connection: one per client, closed when the client goes.
      const reader: Redis = duplicateClient(hub.redis, { enableOfflineQueue: true, maxRetriesPerRequest: null });
      reader.on('error', (err) => hub.logger.debug({ err: err.message }, 'events stream: redis error'));
      stream.onAbort(() => reader.disconnect());
      const streams = openStreams.get(hub) ?? new Set();
      openStreams.set(hub, streams);
      let ended = false;
      const end = () => {
        ended = true;
        reader.disconnect();
        void stream.close();
      };
      streams.add(end);
      try {
        const key = eventStreamKey(hub);
        let last = '$';
        if (resumeFrom && STREAM_ID.test(resumeFrom)) {
          last = resumeFrom;
          const first = await reader.xrange(key, '-', '+', 'COUNT', 1);
          if (first.length && compareIds(first[0][0], resumeFrom) > 0) {
            await stream.writeSSE({ event: 'gap', data: JSON.stringify({ lastEventId: resumeFrom, oldestKept: first[0][0], kept: EVENT_STREAM_MAXLEN }) });
          }
        } else {
          // Resolve '$' once, so events written between two reads are not skipped.
          const newest = await reader.xrevrange(key, '+', '-', 'COUNT', 1);
          last = newest.length ? newest[0][0] : '0-0';
        }
        await stream.writeSSE({ event: 'ready', data: JSON.stringify({ after: last }) });
        while (!ended && !stream.aborted && !stream.closed) {
          let res: [string, [string, string[]][]][] | null;
          try {
            res = (await reader.xread('COUNT', 100, 'BLOCK', BLOCK_MS, 'STREAMS', key, last)) as typeof res;
          } catch (err) {
            if (ended || stream.aborted) break;
            throw err;
          }
          if (!res) {
            await stream.write(': keep-alive\n\n');
            continue;
          }
          for (const [id, fields] of res[0][1]) {
            last = id;
            const data = fields[fields.indexOf('event') + 1];
            const type = (JSON.parse(data) as { type: string }).type;
            await stream.writeSSE({ id, event: type, data });
          }
        }
      } finally {
        streams.delete(end);
        reader.disconnect();
      }
    }, async (err, stream) => {
      hub.logger.warn({ err: err.message }, 'events stream ended with an error');
      await stream.writeSSE({ event: 'error', data: JSON.stringify({ code: 'store_unavailable', message: 'the event stream could not be read; reconnect with Last-Event-ID' }) });
    });
    // The socket ends with the stream (clients reconnect anyway), so a closing server has no idle connection to wait for.
    res.headers.set('connection', 'close');
    return res;
  });
  return app;
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}
