import { randomUUID } from 'node:crypto';

/** One operation of an OData `$batch` request (outside any change set: each succeeds or fails alone). */
export interface BatchOperation { method: 'PATCH' | 'POST' | 'GET'; url: string; body?: unknown; headers?: Record<string, string> }

export interface BatchResult { status: number; headers: Record<string, string>; body: unknown }

export function buildBatch(ops: BatchOperation[]): { boundary: string; body: string } {
  const boundary = `batch_${randomUUID()}`;
  const parts = ops.map((op, i) => [
    `--${boundary}`,
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    `Content-ID: ${i + 1}`,
    '',
    `${op.method} ${op.url} HTTP/1.1`,
    // IEEE754Compatible: Edm.Decimal values (money) travel as exact decimal strings.
    ...(op.body !== undefined ? ['Content-Type: application/json; type=entry; IEEE754Compatible=true'] : []),
    ...Object.entries(op.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    '',
    op.body !== undefined ? JSON.stringify(op.body) : '',
  ].join('\r\n'));
  return { boundary, body: `${parts.join('\r\n')}\r\n--${boundary}--\r\n` };
}

/** Parses a `multipart/mixed` $batch answer into one result per operation, in order. */
export function parseBatch(contentType: string | undefined, text: string): BatchResult[] {
  const boundary = /boundary=("?)([^";]+)\1/i.exec(contentType ?? '')?.[2];
  if (!boundary) throw new Error(`the $batch answer is not multipart (content-type ${contentType ?? 'missing'})`);
  const results: BatchResult[] = [];
  for (const raw of text.split(`--${boundary}`).slice(1)) {
    if (raw.startsWith('--')) break;
    const part = raw.replace(/^\r?\n/, '');
    // The part's own headers, a blank line, then the embedded HTTP response.
    const split = part.search(/\r?\n\r?\n/);
    const http = part.slice(split).replace(/^\r?\n\r?\n/, '');
    const status = /^HTTP\/1\.1 (\d{3})/.exec(http);
    if (!status) continue;
    const headEnd = http.search(/\r?\n\r?\n/);
    const head = headEnd >= 0 ? http.slice(0, headEnd) : http;
    const bodyText = headEnd >= 0 ? http.slice(headEnd).trim() : '';
    const headers: Record<string, string> = {};
    for (const line of head.split(/\r?\n/).slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let body: unknown = bodyText || undefined;
    if (bodyText.startsWith('{')) {
      try {
        body = JSON.parse(bodyText);
      } catch {
        /* keep the text */
      }
    }
    results.push({ status: Number(status[1]), headers, body });
  }
  return results;
}
