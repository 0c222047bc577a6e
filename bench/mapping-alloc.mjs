/**
 * Bytes allocated (garbage included) and CPU per order of the default Shopify order → canonical
 * (in) and canonical → HubSpot deal (out) mappings, in this process, on the compiled build of
 * src/ (`npm run build` first; ROOT=<checkout> measures another checkout's build, e.g. main's):
 * `node bench/mapping-alloc.mjs [orders] [in|out|all]`. Prints bytes per order (V8's sampling
 * heap profiler, every 256 bytes) and µs per order without the sampler; OUT=FILE keeps the
 * profile for `node bench/heap-report.mjs FILE`.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { buildDir } from '../bin/prebuilt.js';

const [n = '3000', what = 'all'] = process.argv.slice(2);
const N = Number(n);
const D = buildDir(process.env.ROOT || undefined).dir;
const { ShopifySandbox } = await import(`${D}/sandbox/shopify.js`);
const { loadMapping, defaultMappingFile } = await import(`${D}/mappings/engine.js`);
const { getConnector } = await import(`${D}/connectors/registry.js`);

const shop = new ShopifySandbox({ customers: 500, orders: 0 });
const orders = Array.from({ length: 500 }, () => shop.addOrder());
const mapIn = loadMapping(defaultMappingFile('shopify', 'order', 'in'), { connection: 'shop', connector: 'shopify', statusMap: getConnector('shopify')?.statusMap, options: {} });
const mapOut = loadMapping(defaultMappingFile('hubspot', 'order', 'out'), { connection: 'crm', connector: 'hubspot', options: {} });
const canonical = [];
for (const o of orders) canonical.push(await mapIn.evaluate(o));

async function round(count) {
  for (let i = 0; i < count; i++) {
    const k = i % orders.length;
    if (what !== 'out') await mapIn.evaluate(orders[k]);
    if (what !== 'in') await mapOut.evaluate(canonical[k]);
  }
}
await round(N);
const t0 = process.hrtime.bigint();
await round(N);
const usPerOrder = Number(process.hrtime.bigint() - t0) / 1000 / N;

const session = new Session();
session.connect();
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
await post('HeapProfiler.enable');
await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
await round(N);
const { profile } = await post('HeapProfiler.stopSampling');
if (process.env.OUT) writeFileSync(process.env.OUT, JSON.stringify(profile));
let total = 0;
for (const stack = [profile.head]; stack.length;) {
  const node = stack.pop();
  total += node.selfSize;
  stack.push(...node.children);
}
console.log(JSON.stringify({ mappings: what, orders: N, bytesPerOrder: Math.round(total / N), usPerOrder: Number(usPerOrder.toFixed(1)), build: D }));
