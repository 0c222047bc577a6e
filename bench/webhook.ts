/**
 * Webhook ingest: autocannon, in a separate process, posts signed Shopify orders/create
 * webhooks (a unique X-Shopify-Webhook-Id and body each, each body signed by the load
 * generator, as the hub also dedupes on the signed body's hash) to /webhooks/shop with 50 connections for
 * 10 s. Baseline in the same run: a bare Hono route on @hono/node-server that reads the
 * body and answers 200. Afterwards every accepted event must be in the queue. Each server first
 * takes WARMUP_SECONDS of the same load, unmeasured: a hub that has just started spends its first
 * seconds compiling its code (V8), which a 10-s run would measure as much as the route.
 */
import { serve } from '@hono/node-server';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Hono } from 'hono';
import { buildConfig } from '../src/config/load.js';
import { generateKeySpec } from '../src/core/crypto.js';
import { createLogger } from '../src/core/logger.js';
import { Hub } from '../src/jobs/hub.js';
import { createApp } from '../src/server.js';
import { orders } from './mapping.js';
import { fmt, ratio, type Row } from './util.js';

const SECRET = 'bench-webhook-secret';
const WARMUP_SECONDS = 3;

interface Cannon { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; '2xx': number }

function cannon(url: string, body: string, headers: Record<string, string>, seconds: number): Promise<Cannon> {
  const opts = { url, connections: 50, duration: seconds, method: 'POST', body, headers, sign: { secret: SECRET, header: 'x-shopify-hmac-sha256' } };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.resolve('bench/load-generator.mjs'), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Cannon) : reject(new Error(`the load generator exited ${code}`))));
  });
}

function listen(fetch: (req: Request) => Response | Promise<Response>): Promise<{ url: string; close: () => void }> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve({ url: `http://127.0.0.1:${info.port}`, close: () => server.close() }));
  });
}

export async function webhookBench(redisUrl: string, seconds = 10): Promise<Row[]> {
  const body = JSON.stringify({ ...orders(1)[0], note: 'bench [<id>]' });
  const headers = {
    'content-type': 'application/json', 'x-shopify-topic': 'orders/create',
    'x-shopify-webhook-id': '[<id>]', 'x-shopify-shop-domain': 'bench.myshopify.com',
  };
  const bare = new Hono();
  bare.post('/webhooks/:c', async (c) => { await c.req.arrayBuffer(); return c.text('ok'); });
  const b = await listen(bare.fetch);
  await cannon(`${b.url}/webhooks/shop`, body, headers, WARMUP_SECONDS);
  const base = await cannon(`${b.url}/webhooks/shop`, body, headers, seconds);
  b.close();

  const config = buildConfig({
    redis: { url: redisUrl, prefix: `bench-wh-${Date.now()}` }, encryption: { keys: generateKeySpec('bench') },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'http://127.0.0.1:9', credentials: { accessToken: 'x', webhookSecret: SECRET } },
      crm: { connector: 'hubspot', baseUrl: 'http://127.0.0.1:9', credentials: { accessToken: 'x' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
  }, path.resolve('bench/hub.yaml'), { env: {} });
  const hub = await Hub.open(config, createLogger({ level: 'silent' }), redisUrl);
  const h = await listen(createApp(hub).fetch);
  // One ingest job carries the events of one route write (src/jobs/webhook-batch.ts): count the events, not the jobs.
  const queuedEvents = async () => (await hub.ingestQueue.getJobs(['waiting', 'active', 'completed', 'delayed', 'prioritized']))
    .reduce((n, job) => n + (job && Array.isArray(job.data?.events) ? job.data.events.length : job ? 1 : 0), 0);
  await cannon(`${h.url}/webhooks/shop`, body, headers, WARMUP_SECONDS);
  // The warm-up's requests still in flight as it stopped are stored after it: let them land before counting.
  await new Promise((r) => setTimeout(r, 500));
  const before = await queuedEvents();
  const ours = await cannon(`${h.url}/webhooks/shop`, body, headers, seconds);
  h.close();
  const queued = (await queuedEvents()) - before;
  await hub.close();
  const accepted = ours['2xx'];
  return [
    { benchmark: 'webhook ingest', measure: 'requests/s (50 connections, 10 s)', value: fmt(ours.requests.average), baseline: `${fmt(base.requests.average)} (bare Hono route)`, ratio: ratio(ours.requests.average, base.requests.average), target: '≥ 0.70', met: ours.requests.average / base.requests.average >= 0.7 ? 'yes' : 'no' },
    { benchmark: 'webhook ingest', measure: 'latency p50 / p99 (ms)', value: `${ours.latency.p50} / ${ours.latency.p99}`, baseline: `${base.latency.p50} / ${base.latency.p99}`, ratio: ratio(ours.latency.p99, base.latency.p99), target: 'p99 < 50 ms', met: ours.latency.p99 < 50 ? 'yes' : 'no' },
    // Requests still in flight when the load generator stops are stored but not counted by it: the queue may hold more.
    { benchmark: 'webhook ingest', measure: 'answered 2xx / events in the queue afterwards', value: `${fmt(accepted)} / ${fmt(queued)}`, baseline: '', ratio: '', target: 'every 2xx stored', met: queued >= accepted ? 'yes' : `no (${ours.non2xx} non-2xx)` },
  ];
}
