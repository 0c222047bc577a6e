/**
 * Queue: jobs/s of the push queue's add-and-process cycle at the batch size used (100
 * records, encrypted, as ingest hands them on; processed by the push worker against the
 * HubSpot sandbox), against BullMQ's bare addBulk and a no-op worker on the same Redis.
 */
import { Queue, Worker } from 'bullmq';
import path from 'node:path';
import { buildConfig } from '../src/config/load.js';
import { generateKeySpec } from '../src/core/crypto.js';
import { createLogger } from '../src/core/logger.js';
import { Hub } from '../src/jobs/hub.js';
import { ingestRecords } from '../src/jobs/ingest.js';
import { startWorkers } from '../src/jobs/workers.js';
import { listen } from '../src/sandbox/demo.js';
import { HubspotSandbox } from '../src/sandbox/hubspot.js';
import { orders } from './mapping.js';
import { fmt, ratio, type Row } from './util.js';

const BATCH = 100;

export async function queueBench(redisUrl: string, jobs = 200): Promise<Row[]> {
  const data = orders(jobs * BATCH);
  // Bare BullMQ: the same number of jobs, a no-op worker.
  const prefix = `bench-q-${Date.now()}`;
  const connection = { url: redisUrl, maxRetriesPerRequest: null } as never;
  const bare = new Queue('bare', { connection, prefix });
  const t0 = performance.now();
  await bare.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'noop', data: { i, items: data.slice(i * BATCH, (i + 1) * BATCH).map((o) => o.id) } })));
  let done = 0;
  let w: Worker | undefined;
  await new Promise<void>((resolve) => {
    w = new Worker('bare', async () => { if (++done === jobs) setImmediate(resolve); }, { connection, prefix, concurrency: 4 });
  });
  const bareMs = performance.now() - t0;
  await w!.close();
  await bare.obliterate({ force: true }).catch(() => {});
  await bare.close();

  const crm = new HubspotSandbox();
  const h = await listen(crm.app());
  const config = buildConfig({
    redis: { url: redisUrl, prefix: `bench-p-${Date.now()}` }, encryption: { keys: generateKeySpec('bench') },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'http://127.0.0.1:9', credentials: { accessToken: 'x' } },
      crm: { connector: 'hubspot', baseUrl: h.url, credentials: { accessToken: 'x' }, http: { rateLimit: { max: 100_000, perMs: 1000 } } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: BATCH } },
  }, path.resolve('bench/hub.yaml'), { env: {} });
  const hub = await Hub.open(config, createLogger({ level: 'silent' }), redisUrl);
  const t1 = performance.now();
  for (let i = 0; i < jobs; i += 10) await ingestRecords(hub, config.pipelines.get('orders')!, data.slice(i * BATCH, (i + 10) * BATCH), { deliveryBase: `b${i}` });
  const workers = startWorkers(hub);
  while (crm.objects.deals.size < jobs * BATCH) await new Promise((r) => setTimeout(r, 20));
  const oursMs = performance.now() - t1;
  await workers.close();
  await hub.close();
  h.server.close();
  const rate = (ms: number) => (jobs / ms) * 1000;
  return [{ benchmark: 'queue', measure: `push jobs/s: hand-on (map, validate, encrypt, addBulk) + push worker to the HubSpot sandbox (${jobs} jobs × ${BATCH} records)`, value: fmt(rate(oursMs), 1), baseline: `${fmt(rate(bareMs), 1)} (bare addBulk + no-op worker)`, ratio: ratio(rate(oursMs), rate(bareMs)) }];
}
