import type { Readable } from 'node:stream';
import axios, { type AxiosResponse } from 'axios';
import { RemoteRejectedError, RemoteUnavailableError, SourceFailedError } from '../../core/errors.js';

/**
 * Reading a bulk operation's JSONL result one page at a time, never whole.
 *
 * shopify.dev, "Perform bulk operations with the GraphQL Admin API" (api/usage/bulk-operations/queries):
 * each line is one object; the nodes of a nested connection are lines of their own that name
 * their parent in `__parentId`. With `groupObjects: true` (bulkOperationRunQuery; its default is
 * false since 2026-01, see the changelog "Bulk operations group objects default changed to
 * false") child objects are placed directly below their parent, so a root object is complete
 * when the next root line (a line without `__parentId`) starts. A page is `limit` root objects
 * with their children; the next page starts at the byte offset of the following root line and
 * is fetched with an HTTP Range request, so each page job reads only its own part of the file.
 */

/** One line may hold at most this many bytes (a root object with its inline fields). */
export const BULK_MAX_LINE_BYTES = 4 * 1024 * 1024;
/** Children one root object may have, at most (the paged pull's bound: 100 pages of 100). */
export const BULK_MAX_CHILDREN = 10_000;
/** A page ends at the next root line once it holds this many bytes, even short of its `limit` roots. */
export const BULK_MAX_PAGE_BYTES = 16 * 1024 * 1024;

export interface BulkLine { text: string; offset: number }

/**
 * Splits a byte stream into lines, each with the byte offset (in the whole file) where it starts,
 * handed on a chunk's complete lines at a time (one await per chunk of the download, not one per
 * line: a page of 250 orders is ~1,500 lines). `start` is the offset of the stream's first byte;
 * the first `skip` bytes are dropped (a server that ignored the Range header and sent the file
 * from its start). `read.end` follows the offset just past the last byte read, so the caller can
 * compare the end with the file's size.
 */
export async function* jsonlLines(body: AsyncIterable<Uint8Array>, start: number, skip = 0, read: { end: number } = { end: 0 }, maxLineBytes = BULK_MAX_LINE_BYTES): AsyncGenerator<BulkLine[]> {
  read.end = start;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineStart = start + skip;
  let toSkip = skip;
  for await (const raw of body) {
    let chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    read.end += chunk.length;
    if (toSkip > 0) {
      const n = Math.min(toSkip, chunk.length);
      toSkip -= n;
      chunk = chunk.subarray(n);
    }
    const lines: BulkLine[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(0x0a, from); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      // A line within the chunk is decoded in place (no Buffer view per line).
      const bytes = pendingBytes + nl - from;
      if (bytes > maxLineBytes) throw new RemoteRejectedError(`bulk result: the line at byte ${lineStart} is longer than ${maxLineBytes} bytes`);
      const text = pendingBytes ? Buffer.concat([...pending, chunk.subarray(from, nl)]).toString('utf8') : chunk.toString('utf8', from, nl);
      lines.push({ text, offset: lineStart });
      lineStart += bytes + 1;
      pending = [];
      pendingBytes = 0;
      from = nl + 1;
    }
    if (from < chunk.length) {
      pending.push(Buffer.from(chunk.subarray(from)));
      pendingBytes += chunk.length - from;
      if (pendingBytes > maxLineBytes) throw new RemoteRejectedError(`bulk result: the line at byte ${lineStart} is longer than ${maxLineBytes} bytes`);
    }
    if (lines.length) yield lines;
  }
  if (toSkip > 0) throw new RemoteUnavailableError(`bulk result: the file ended before byte ${start + skip}`);
  if (pendingBytes) yield [{ text: Buffer.concat(pending).toString('utf8'), offset: lineStart }];
}

/**
 * Passes a download on unchanged and keeps its bytes from file offset `from` on, so a page's
 * bytes can be kept whole (sealed as the source page) instead of its records written as JSON
 * again. `start` is the file offset of the download's first byte. Nothing before `from` is kept
 * (a server that ignored the Range header sends the file from its start).
 */
export function keepBytes(body: AsyncIterable<Uint8Array>, start: number, from: number): { body: AsyncIterable<Uint8Array>; range: (end: number) => Buffer[] } {
  const parts: Buffer[] = [];
  let at = start;
  async function* pass(): AsyncGenerator<Uint8Array> {
    for await (const raw of body) {
      const chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      if (at + chunk.length > from) parts.push(at >= from ? chunk : chunk.subarray(from - at));
      at += chunk.length;
      yield raw;
    }
  }
  /** The kept bytes from `from` up to file offset `end` (views of the download's chunks, no copy). */
  const range = (end: number): Buffer[] => {
    const out: Buffer[] = [];
    let pos = from;
    for (const part of parts) {
      if (pos >= end) break;
      const take = Math.min(part.length, end - pos);
      out.push(take === part.length ? part : part.subarray(0, take));
      pos += take;
    }
    if (pos < end) throw new RemoteUnavailableError(`bulk result: bytes ${pos}-${end} were not read`);
    return out;
  };
  return { body: pass(), range };
}

export interface BulkPage<T = Record<string, any>> {
  /** Root objects with their children put back under them (`{ nodes: [...] }` per connection), as `complete` made them. */
  roots: T[];
  /** Byte offset where the next page starts (the next root line, or the file's end). */
  nextOffset: number;
  /** The file ended within this page. */
  eof: boolean;
}

/** Puts one child line under its parent; throws on a child type the query does not select. */
export type AttachChild = (parent: Record<string, any>, child: Record<string, any>) => void;

/**
 * Reads up to `limit` root objects from the lines (as jsonlLines hands them on), each with its children. A child whose
 * `__parentId` is not the current root or one of its objects breaks the grouping the query
 * asked for: the page is refused rather than a record handed on without its line items.
 *
 * `complete` gets each root once its children are all there (the next root line has started,
 * or the page or the file ended), in file order; the page holds what it returns. A caller that
 * turns the parsed lines into records there lets them go while the page is still being read,
 * instead of holding a page of both until its end (so fewer survive a young-generation GC).
 */
export async function readBulkPage<T = Record<string, any>>(batches: AsyncIterable<BulkLine[]>, opts: BulkPageOptions<T> & { read: { end: number } }): Promise<BulkPage<T>> {
  const page = new BulkPageBuilder(opts);
  for await (const lines of batches) {
    for (const { text, offset } of lines) {
      if (page.add(text, offset)) return { roots: page.roots, nextOffset: offset, eof: false };
    }
  }
  return { roots: page.end(), nextOffset: opts.read.end, eof: true };
}

/**
 * The roots of a page's JSONL as readBulkPage read them, from the page's bytes kept whole (a
 * kept source page, see ShopifyBulk): every root of `body`, each with its children, given to
 * `complete` as when the page was read.
 */
export function decodeBulkPage<T = Record<string, any>>(body: Buffer, opts: Omit<BulkPageOptions<T>, 'limit' | 'maxPageBytes'>): T[] {
  const page = new BulkPageBuilder({ ...opts, limit: Infinity, maxPageBytes: Infinity });
  let from = 0;
  while (from < body.length) {
    const nl = body.indexOf(0x0a, from);
    const end = nl < 0 ? body.length : nl;
    page.add(body.toString('utf8', from, end), from);
    from = end + 1;
  }
  return page.end();
}

export interface BulkPageOptions<T> {
  limit: number;
  attach: AttachChild;
  maxChildren?: number;
  maxPageBytes?: number;
  complete?: (root: Record<string, any>) => T;
}

/** One page's roots, built a line at a time (readBulkPage, decodeBulkPage). */
class BulkPageBuilder<T> {
  readonly roots: T[] = [];
  private readonly complete: (root: Record<string, any>) => T;
  private readonly maxChildren: number;
  private readonly maxPageBytes: number;
  private pageStart: number | undefined;
  // The root whose children are still being read, and how many roots the page has with it.
  private current: Record<string, any> | undefined;
  private count = 0;
  private index = new Map<string, Record<string, any>>();
  private children = 0;

  constructor(private readonly opts: BulkPageOptions<T>) {
    this.complete = opts.complete ?? ((root: Record<string, any>) => root as T);
    this.maxChildren = opts.maxChildren ?? BULK_MAX_CHILDREN;
    this.maxPageBytes = opts.maxPageBytes ?? BULK_MAX_PAGE_BYTES;
  }

  /** Takes the line at `offset`; true when it starts the next page (the line is not taken, and the page is complete). */
  add(text: string, offset: number): boolean {
    if (!text.trim()) return false;
    let obj: Record<string, any>;
    try {
      obj = JSON.parse(text);
    } catch {
      throw new RemoteRejectedError(`bulk result: the line at byte ${offset} is not JSON`);
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new RemoteRejectedError(`bulk result: the line at byte ${offset} is not an object`);
    const parentId = obj.__parentId;
    if (parentId === undefined) {
      this.pageStart ??= offset;
      const full = this.count >= this.opts.limit || (this.count > 0 && offset - this.pageStart > this.maxPageBytes);
      if (this.current) this.roots.push(this.complete(this.current));
      this.current = undefined;
      if (full) return true;
      this.current = obj;
      this.count++;
      this.index = indexObjects(obj);
      this.children = 0;
      return false;
    }
    const parent = typeof parentId === 'string' ? this.index.get(parentId) : undefined;
    if (!parent) {
      throw new SourceFailedError(`bulk result: the line at byte ${offset} belongs to ${String(parentId)}, which is not the object above it; the result is not grouped by parent`, 'UNGROUPED_RESULT');
    }
    if (++this.children > this.maxChildren) {
      throw new RemoteRejectedError(`bulk result: ${this.current?.id} has more than ${this.maxChildren} nested objects; the record is not pulled incomplete`);
    }
    delete obj.__parentId;
    this.opts.attach(parent, obj);
    if (typeof obj.id === 'string') this.index.set(obj.id, obj);
    return false;
  }

  /** The page's roots, the last one completed (the file, or the kept page, ended). */
  end(): T[] {
    if (this.current) this.roots.push(this.complete(this.current));
    this.current = undefined;
    return this.roots;
  }
}

/** The root and the objects of its inline lists (an order's refunds), by id: the parents its children may name. */
function indexObjects(root: Record<string, any>): Map<string, Record<string, any>> {
  const index = new Map<string, Record<string, any>>();
  if (typeof root.id === 'string') index.set(root.id, root);
  for (const key in root) {
    const value = root[key];
    if (!Array.isArray(value)) continue;
    for (const item of value) if (item && typeof item === 'object' && typeof item.id === 'string') index.set(item.id, item);
  }
  return index;
}

/**
 * Opens the result file at byte `offset`. The `url` is a signed storage URL (no Shopify
 * credentials are sent with it); a server that answers 200 instead of 206 sent the file from
 * its start, and the caller skips to the offset. Returns the body and how many bytes to skip.
 *
 * Read through axios's Node stream, as every other call of the hub, not `fetch`: the first
 * `fetch` in a process loads undici and its WebAssembly HTTP parser, ~30 MB of resident memory
 * (measured in a bare Node 20 process) that a worker would carry only for this download.
 */
export async function openBulkResult(url: string, offset: number, signal: AbortSignal, opts: { loopbackHttp?: boolean } = {}): Promise<{ body: AsyncIterable<Uint8Array>; skip: number; close: () => void }> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RemoteRejectedError('bulk result: the operation\'s url is not a URL');
  }
  // Plain http only for a shop that is itself a local sandbox on loopback (the built-in one), and only to loopback.
  const allowed = (u: { protocol?: string | null; hostname?: string | null }) => u.protocol === 'https:'
    || Boolean(opts.loopbackHttp && u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(u.hostname ?? ''));
  if (!allowed(parsed)) throw new RemoteRejectedError(`bulk result: the operation's url is not https (${parsed.protocol})`);
  let res: AxiosResponse<Readable>;
  try {
    res = await axios.get<Readable>(parsed.href, {
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      responseType: 'stream', signal, validateStatus: () => true, maxRedirects: 5,
      // A redirect may not leave https (nor loopback, for the sandbox).
      beforeRedirect: (options) => {
        if (!allowed(options as { protocol?: string; hostname?: string })) throw new RemoteRejectedError(`bulk result: the download was redirected off https (${String(options.protocol)})`);
      },
    });
  } catch (err) {
    // What beforeRedirect threw comes back wrapped (follow-redirects' RedirectionError in an AxiosError).
    for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
      if (e instanceof RemoteRejectedError) throw e;
    }
    throw new RemoteUnavailableError(`bulk result: download failed: ${(err as Error).message}`, { cause: err });
  }
  const close = () => void res.data.destroy();
  if (res.status === 206 || res.status === 200) {
    if (res.status === 206 && !String(res.headers['content-range'] ?? '').startsWith(`bytes ${offset}-`)) {
      close();
      throw new RemoteUnavailableError(`bulk result: asked for bytes from ${offset}, got ${res.headers['content-range']}`);
    }
    return { body: res.data, skip: res.status === 200 ? offset : 0, close };
  }
  close();
  // A signed URL past its time answers 400/403: the operation is looked up again on the next try.
  if (res.status >= 500 || res.status === 403 || res.status === 400 || res.status === 408 || res.status === 429) {
    throw new RemoteUnavailableError(`bulk result: download answered ${res.status}`, { status: res.status });
  }
  throw new RemoteRejectedError(`bulk result: download answered ${res.status}`, { status: res.status });
}
