import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

export interface RawBodyVariables {
  /** The request body exactly as received (signatures are computed over these bytes). */
  rawBody: Buffer;
  /** Request headers, names lower-cased. */
  rawHeaders: Record<string, string>;
}

export interface RawBodyOptions {
  maxBytes: number;
  /** The answer to a body over `maxBytes`. */
  onTooLarge: (c: Context) => Response | Promise<Response>;
}

/**
 * Reads the body as bytes, refusing one over `maxBytes`, and sets `rawBody` and `rawHeaders`.
 *
 * Under @hono/node-server it reads Node's IncomingMessage (`c.env.incoming`) directly:
 * going through `c.req` makes node-server build a WHATWG Request first (an AbortController,
 * a web ReadableStream over the Node stream, a Headers copy), which costs about as much as
 * the rest of a webhook's verification and storage together. Elsewhere (app.request in
 * tests, other runtimes) it uses Hono's bodyLimit and `c.req`.
 */
export function rawBody(opts: RawBodyOptions): MiddlewareHandler<{ Variables: RawBodyVariables }> {
  const viaRequest = bodyLimit({ maxSize: opts.maxBytes, onError: opts.onTooLarge });
  return async (c, next) => {
    const incoming = nodeIncoming(c);
    if (!incoming) {
      return viaRequest(c, async () => {
        c.set('rawBody', Buffer.from(await c.req.arrayBuffer()));
        const headers: Record<string, string> = {};
        c.req.raw.headers.forEach((v, k) => { headers[k.toLowerCase()] = v; });
        c.set('rawHeaders', headers);
        await next();
      });
    }
    const declared = Number(incoming.headers['content-length'] ?? 0);
    if (declared > opts.maxBytes) return opts.onTooLarge(c);
    const body = await readBody(incoming, opts.maxBytes);
    if (!body) return opts.onTooLarge(c);
    c.set('rawBody', body);
    c.set('rawHeaders', headerRecord(incoming));
    await next();
  };
}

/** The Node request, when the app runs under @hono/node-server and nothing has read its body yet. */
function nodeIncoming(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || typeof incoming.on !== 'function' || !('rawHeaders' in incoming)) return undefined;
  if (incoming.readableDidRead || incoming.readableEnded) return undefined;
  return incoming;
}

/**
 * From the raw header lines, as node-server builds its Headers: names lower-cased, a repeated
 * header joined with ", " (Node's own `headers` keeps only the first of some, such as
 * Authorization), HTTP/2 pseudo-headers left out.
 */
function headerRecord(incoming: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = incoming.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].charCodeAt(0) === 58) continue; // ':'
    const name = raw[i].toLowerCase();
    const prev = out[name];
    out[name] = prev === undefined ? raw[i + 1] : `${prev}, ${raw[i + 1]}`;
  }
  return out;
}

/** The body, or null once it passes `maxBytes` (the rest is left for node-server to drain). */
function readBody(incoming: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        done();
        resolve(null);
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(new Error('the client closed the connection before the body was complete'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}
