// Posts n signed Shopify orders/create webhooks (each its own order, body and
// X-Shopify-Webhook-Id) to argv[2].url over `connections` concurrent keep-alive connections,
// in its own process so it does not share the event loop it measures. Prints JSON: when the
// first request left (ms since the epoch), how many were answered 2xx, the seconds taken and
// the latency percentiles, and its own CPU time while sending (ms).
import { createHmac } from 'node:crypto';
import http from 'node:http';

const { url, n, connections, secret, template } = JSON.parse(process.argv[2]);
const bodies = Array.from({ length: n }, (_, i) => JSON.stringify({
  ...template, id: 8_000_000_000 + i, order_number: 100_000 + i, name: `#${100_000 + i}`, total_price: `${10 + (i % 990)}.${String(i % 100).padStart(2, '0')}`,
}));
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const post = (body, headers) => new Promise((resolve, reject) => {
  const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, agent }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  });
  req.on('error', reject);
  req.end(body);
});
const latencies = [];
let ok = 0;
let next = 0;
const startedAt = Date.now();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
async function connection() {
  while (next < n) {
    const i = next++;
    const body = bodies[i];
    const headers = {
      'content-type': 'application/json', 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': `bench-${startedAt}-${i}`,
      'x-shopify-shop-domain': 'bench.myshopify.com', 'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body).digest('base64'),
    };
    const s = performance.now();
    const status = await post(body, headers);
    latencies.push(performance.now() - s);
    if (status >= 200 && status < 300) ok++;
  }
}
await Promise.all(Array.from({ length: connections }, connection));
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
latencies.sort((a, b) => a - b);
const pct = (p) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]);
process.stdout.write(JSON.stringify({ startedAt, answered: ok, seconds, p50: pct(0.5), p99: pct(0.99), cpuMs: (cpu.user + cpu.system) / 1000 }));
agent.destroy();
