// Posts n signed Shopify orders/create webhooks (each its own order, body and
// X-Shopify-Webhook-Id; orders numbered from `offset`, 0 unless given) to argv[2].url over
// `connections` concurrent keep-alive connections, in its own process so it does not share the
// event loop it measures. Prints JSON: when the first request left (ms since the epoch), how many
// were answered 2xx, the seconds taken, the latency percentiles, and its own CPU time while
// sending (ms).
//
// The sender stands for Shopify, which does not run on the hub's machine, so it should cost the
// machine as little as it can: every request (headers, HMAC and body) is built before the clock
// starts, and each connection is a plain keep-alive socket that writes one prepared request and
// reads its answer (status line, then a Content-Length or chunked body) before the next. Node's
// http client cost ~260 µs of CPU a request here, a quarter of what a 2-core machine has per
// record at 2,000 records/s; this one costs a fraction of that (bench/RESULTS.md).
import { createHmac } from 'node:crypto';
import net from 'node:net';

const { url, n, connections, secret, template, offset = 0 } = JSON.parse(process.argv[2]);
const target = new URL(url);
const startedAt = Date.now();
const requests = Array.from({ length: n }, (_, i) => {
  const body = Buffer.from(JSON.stringify({
    ...template, id: 8_000_000_000 + offset + i, order_number: 100_000 + offset + i, name: `#${100_000 + offset + i}`, total_price: `${10 + (i % 990)}.${String(i % 100).padStart(2, '0')}`,
  }));
  const head = [
    `POST ${target.pathname}${target.search} HTTP/1.1`, `host: ${target.host}`, 'connection: keep-alive', 'content-type: application/json',
    'x-shopify-topic: orders/create', `x-shopify-webhook-id: bench-${startedAt}-${offset + i}`, 'x-shopify-shop-domain: bench.myshopify.com',
    `x-shopify-hmac-sha256: ${createHmac('sha256', secret).update(body).digest('base64')}`, `content-length: ${body.length}`, '', '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
});

const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * One answer's end in `buf` (the index after it) and its status, or undefined while incomplete.
 * Reads what an HTTP/1.1 server sends: a Content-Length body, or a chunked one.
 */
function answer(buf) {
  const headEnd = buf.indexOf(CRLF2);
  if (headEnd < 0) return undefined;
  const head = buf.toString('latin1', 0, headEnd).toLowerCase();
  const status = Number(head.slice(9, 12));
  const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (length) {
    const end = headEnd + 4 + Number(length[1]);
    return buf.length >= end ? { status, end } : undefined;
  }
  if (!/\r\ntransfer-encoding:\s*chunked/.test(head)) return { status, end: headEnd + 4 };
  let at = headEnd + 4;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (size === 0) {
      const end = buf.indexOf(CRLF2, lineEnd);
      return end < 0 ? undefined : { status, end: end + 4 };
    }
    at = lineEnd + 2 + size + 2;
    if (buf.length < at) return undefined;
  }
}

const latencies = [];
let ok = 0;
let next = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();

function connection() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname);
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let sentAt = 0;
    const send = () => {
      if (next >= n) return socket.end(resolve);
      const i = next++;
      sentAt = performance.now();
      socket.write(requests[i]);
    };
    socket.on('connect', send);
    socket.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const a = answer(buf);
      if (!a) return;
      latencies.push(performance.now() - sentAt);
      if (a.status >= 200 && a.status < 300) ok++;
      buf = buf.subarray(a.end);
      send();
    });
    socket.on('error', reject);
    socket.on('close', () => (next >= n ? resolve() : reject(new Error('the hub closed a connection with requests left to send'))));
  });
}
await Promise.all(Array.from({ length: connections }, connection));
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
latencies.sort((a, b) => a - b);
const pct = (p) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]);
process.stdout.write(JSON.stringify({ startedAt, answered: ok, seconds, p50: pct(0.5), p99: pct(0.99), cpuMs: (cpu.user + cpu.system) / 1000 }));
