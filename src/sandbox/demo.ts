import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';
import type { Logger } from '../core/logger.js';
import type { Hub } from '../jobs/hub.js';
import { HubspotSandbox } from './hubspot.js';
import { ShopifySandbox } from './shopify.js';

/** Secrets of the local sandbox only; they guard nothing real. */
const DEMO_WEBHOOK_SECRET = 'demo-shopify-webhook-secret';

export function listen(app: Hono, port = 0): Promise<{ url: string; server: ServerType }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve({ url: `http://127.0.0.1:${info.port}`, server }));
  });
}

/**
 * The built-in sandbox of `npm start`: a Shopify-shaped shop seeded with a few
 * hundred customers and orders, a HubSpot-shaped CRM, and a feed of new orders
 * posted as signed webhooks. It sets the variables config/demo.yaml reads.
 */
export async function startDemoSandbox(logger: Logger, opts: { customers?: number; orders?: number } = {}) {
  const shop = new ShopifySandbox({ customers: opts.customers ?? 200, orders: opts.orders ?? 300 });
  const crm = new HubspotSandbox();
  const s = await listen(shop.app());
  const h = await listen(crm.app());
  Object.assign(process.env, {
    SANDBOX_SHOPIFY_URL: s.url, SANDBOX_HUBSPOT_URL: h.url,
    SANDBOX_SHOPIFY_TOKEN: 'shpat_sandbox', SANDBOX_SHOPIFY_WEBHOOK_SECRET: DEMO_WEBHOOK_SECRET,
    SANDBOX_HUBSPOT_TOKEN: 'pat-sandbox', SANDBOX_HUBSPOT_CLIENT_SECRET: 'sandbox-client-secret',
  });
  logger.info({ shopify: s.url, hubspot: h.url, customers: shop.customers.length, orders: shop.orders.length }, 'demo sandbox up: a Shopify-shaped shop and a HubSpot-shaped CRM on localhost');
  const timers: NodeJS.Timeout[] = [];
  return {
    shop, crm,
    startOrderFeed(webhookUrl: string, everyMs = 3000) {
      timers.push(setInterval(() => {
        shop.postOrderWebhook(webhookUrl, DEMO_WEBHOOK_SECRET).then(
          (status) => logger.info({ status }, 'demo: the shop took a new order and posted orders/create'),
          (err) => logger.warn({ err: (err as Error).message }, 'demo: webhook post failed'),
        );
      }, everyMs));
    },
    reportEvery(hub: Hub, everyMs: number) {
      timers.push(setInterval(async () => {
        const stats = await Promise.all([...hub.config.pipelines.keys()].map(async (p) => [p, await hub.store.pipelineStats(p)] as const)).catch(() => []);
        logger.info({ hubspotDeals: crm.objects.deals.size, hubspotContacts: crm.objects.contacts.size, pipelines: Object.fromEntries(stats.map(([p, st]) => [p, { pushed: st.pushed, skipped: st.skipped, deadLettered: st.dead }])) }, 'demo: what reached the CRM so far');
      }, everyMs));
    },
    stop() {
      for (const t of timers) clearInterval(t);
      s.server.close();
      h.server.close();
    },
  };
}
