/**
 * Shopify bulk backfill reading: a bulk operation's JSONL result of N orders (each with three
 * line items, a shipping line and a refund transaction as child lines) read the way the page
 * jobs read it — pages of 250 orders, each opened at its byte offset (a file stream here in
 * place of the HTTP Range request), children put back under their order, normalised to the
 * REST shape — against the floor: the same file read once through readline with one
 * JSON.parse a line. Times are the better of two passes (the machine is shared). Memory is the
 * heap in use after a full GC, sampled 20 times over the pages, at 10,000 and 100,000 orders:
 * reading page by page, it should not grow with the file.
 */

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import v8 from 'node:v8';
import vm from 'node:vm';
import { attachBulkChild } from '../src/connectors/shopify/bulk.js';
import { jsonlLines, readBulkPage } from '../src/connectors/shopify/bulk-jsonl.js';
import { orderToRest } from '../src/connectors/shopify/graphql-normalize.js';
import { fmt, ratio, timed, type Row } from './util.js';

const PAGE = 250;

/** The JSONL Shopify writes for `n` orders (groupObjects: true), slashes escaped as it does. */
function writeJsonl(file: string, n: number): void {
  const base = JSON.parse(readFileSync(path.resolve('test/fixtures/shopify/graphql-order.json'), 'utf8'));
  const more = JSON.parse(readFileSync(path.resolve('test/fixtures/shopify/graphql-order-line-items-page2.json'), 'utf8')).nodes;
  const { lineItems, shippingLines, refunds, ...own } = base;
  const items = [...lineItems.nodes, ...more];
  const fd = openSync(file, 'w');
  const line = (o: unknown) => writeSync(fd, `${JSON.stringify(o).replace(/\//g, '\\/')}\n`);
  for (let i = 0; i < n; i++) {
    const id = 1_000_000 + i;
    const gid = `gid://shopify/Order/${id}`;
    const refund = `gid://shopify/Refund/${id}`;
    line({ ...own, id: gid, legacyResourceId: String(id), number: 1001 + i, name: `#${1001 + i}`, updatedAt: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(), refunds: [{ id: refund }] });
    items.forEach((li: any, k: number) => line({ ...li, id: `gid://shopify/LineItem/${id}${k}`, __parentId: gid }));
    line({ ...shippingLines.nodes[0], id: `gid://shopify/ShippingLine/${id}`, __parentId: gid });
    line({ ...refunds[0].transactions.nodes[0], id: `gid://shopify/OrderTransaction/${id}`, __parentId: refund });
  }
  closeSync(fd);
}

async function readPaged(file: string, sampleEvery = 0): Promise<{ records: number; pages: number; heapMaxMb: number; heapAfterFirstMb: number }> {
  const size = statSync(file).size;
  let offset = 0;
  let records = 0;
  let pages = 0;
  let heapMax = 0;
  let heapAfterFirst = 0;
  for (;;) {
    const read = { end: offset };
    const body = createReadStream(file, { start: offset });
    const page = await readBulkPage(jsonlLines(body, offset, 0, read), { limit: PAGE, attach: attachBulkChild, read });
    body.destroy();
    records += page.roots.map(orderToRest).length;
    pages++;
    if (sampleEvery && (pages === 1 || pages % sampleEvery === 0)) {
      gc();
      const heap = process.memoryUsage().heapUsed;
      heapMax = Math.max(heapMax, heap);
      if (pages === 1) heapAfterFirst = heap;
    }
    if (page.eof) break;
    offset = page.nextOffset;
    if (offset >= size) break;
  }
  return { records, pages, heapMaxMb: heapMax / 2 ** 20, heapAfterFirstMb: heapAfterFirst / 2 ** 20 };
}

async function readFloor(file: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line) continue;
    const o = JSON.parse(line);
    if (o.__parentId === undefined) n++;
  }
  return n;
}

export async function bulkBench(sizes: number[]): Promise<Row[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-bench-bulk-'));
  const rows: Row[] = [];
  try {
    for (const n of sizes) {
      const file = path.join(dir, `orders-${n}.jsonl`);
      writeJsonl(file, n);
      const mb = statSync(file).size / 2 ** 20;
      const best = async <T>(fn: () => Promise<T>) => {
        gc();
        const a = await timed(fn);
        gc();
        const b = await timed(fn);
        return a.ms <= b.ms ? a : b;
      };
      const floor = await best(() => readFloor(file));
      const paged = await best(() => readPaged(file));
      if (paged.value.records !== n || floor.value !== n) throw new Error(`bulk bench: read ${paged.value.records} / ${floor.value} orders of ${n}`);
      const memory = await readPaged(file, Math.max(1, Math.floor(n / PAGE / 20)));
      const perSec = (ms: number) => (n / ms) * 1000;
      rows.push({
        benchmark: `bulk JSONL, ${fmt(n)} orders (${fmt(mb, 1)} MB)`,
        measure: `orders/s, pages of ${PAGE} from their byte offsets vs one readline + JSON.parse pass`,
        value: fmt(perSec(paged.ms)), baseline: fmt(perSec(floor.ms)), ratio: ratio(perSec(paged.ms), perSec(floor.ms)),
      });
      rows.push({
        benchmark: `bulk JSONL, ${fmt(n)} orders`,
        measure: `heap in use after GC: most over ${fmt(memory.pages)} pages vs after the first page`,
        value: `${fmt(memory.heapMaxMb, 1)} MB`, baseline: `${fmt(memory.heapAfterFirstMb, 1)} MB`, ratio: ratio(memory.heapMaxMb, memory.heapAfterFirstMb),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
