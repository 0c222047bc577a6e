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

/**
 * Parses a `multipart/mixed` $batch answer into one result per operation, in order. A change
 * set's answer is a part that is itself `multipart/mixed` (boundary `changesetresponse_…`):
 * its operations' results take their places in the order (Dataverse's "Execute batch
 * operations using the Web API"). Parsed by scanning for the boundaries, linear in the size.
 */
export function parseBatch(contentType: string | undefined, text: string): BatchResult[] {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new Error(`the $batch answer is not multipart (content-type ${contentType ?? 'missing'})`);
  const results: BatchResult[] = [];
  for (const part of multipartParts(text, boundary)) {
    const { headers, body } = splitHead(part);
    const inner = /^multipart\/mixed/i.test(headers['content-type'] ?? '') ? boundaryOf(headers['content-type']) : undefined;
    if (inner) {
      // A change set nests only one level deep (OData 4.0, 11.7.2).
      for (const op of multipartParts(body, inner)) {
        const r = httpResult(splitHead(op).body);
        if (r) results.push(r);
      }
      continue;
    }
    const r = httpResult(body);
    if (r) results.push(r);
  }
  return results;
}

function boundaryOf(contentType: string | undefined): string | undefined {
  const at = (contentType ?? '').toLowerCase().indexOf('boundary=');
  if (at < 0) return undefined;
  const value = contentType!.slice(at + 'boundary='.length).split(';')[0].trim();
  const unquoted = value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  return unquoted || undefined;
}

/** The parts between `--boundary` lines, up to the closing `--boundary--`. */
function multipartParts(text: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let at = text.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (text.startsWith('--', start)) break;
    const next = text.indexOf(delimiter, start);
    parts.push(text.slice(start, next < 0 ? text.length : next).replace(/^\r?\n/, ''));
    at = next;
  }
  return parts;
}

/** Header lines (lower-cased names), a blank line, then the rest. */
function splitHead(block: string): { headers: Record<string, string>; body: string; first: string } {
  const crlf = block.indexOf('\r\n\r\n');
  const lf = block.indexOf('\n\n');
  const [end, gap] = crlf >= 0 && (lf < 0 || crlf <= lf) ? [crlf, 4] : lf >= 0 ? [lf, 2] : [block.length, 0];
  const lines = block.slice(0, end).split(/\r?\n/);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { headers, body: block.slice(end + gap), first: lines[0] ?? '' };
}

/** The embedded HTTP response of one operation: status line, headers, JSON body. */
function httpResult(http: string): BatchResult | undefined {
  const { headers, body: bodyText, first } = splitHead(http.replace(/^(\r?\n)+/, ''));
  const status = /^HTTP\/1\.1 (\d{3})/.exec(first);
  if (!status) return undefined;
  const trimmed = bodyText.trim();
  let body: unknown = trimmed || undefined;
  if (trimmed.startsWith('{')) {
    try {
      body = JSON.parse(trimmed);
    } catch {
      /* keep the text */
    }
  }
  return { status: Number(status[1]), headers, body };
}
