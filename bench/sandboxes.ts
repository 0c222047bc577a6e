/**
 * The pipeline benchmark's sandboxes in a process of their own (bench/pipeline.ts starts it),
 * so the shop's and the CRM's CPU is neither in the worker's nor in the benchmark's own, and
 * the figures measure the hub. Usage: `node --import tsx bench/sandboxes.ts <orders> <warm-up orders>`.
 * Prints one JSON line with the sandboxes' URLs, then one line `bulk-finished <op> <status> <epoch ms>`
 * each time a bulk operation of the measured shop ends (the export's time in the run).
 * Exits when its stdin closes (the benchmark ended, or died).
 */
import { HubspotSandbox } from '../src/sandbox/hubspot.js';
import { listen } from '../src/sandbox/demo.js';
import { ShopifySandbox } from '../src/sandbox/shopify.js';
import { BENCH_SHOP_GRAPHQL } from './util.js';


const [orders, warmup] = process.argv.slice(2).map(Number);
const shop = new ShopifySandbox({
  customers: 500, orders,
  graphql: { ...BENCH_SHOP_GRAPHQL, bulk: { onFinished: (op) => process.stdout.write(`bulk-finished ${op.id} ${op.status} ${Date.now()}\n`) } },
});
const warmShop = new ShopifySandbox({ customers: 500, orders: warmup, graphql: BENCH_SHOP_GRAPHQL });
const [s, h, ws, wh, bh] = await Promise.all([shop.app(), new HubspotSandbox().app(), warmShop.app(), new HubspotSandbox().app(), new HubspotSandbox().app()].map((app) => listen(app)));
process.stdout.write(`${JSON.stringify({ shop: s.url, crm: h.url, warmShop: ws.url, warmCrm: wh.url, baseCrm: bh.url })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
