import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';
import type { Logger } from '../core/logger.js';
import type { Hub } from '../jobs/hub.js';
import { AlipaySandbox } from './alipay.js';
import { demoSummary } from './demo-summary.js';
import { HubspotSandbox } from './hubspot.js';
import { PaymentFeed } from './payment-feed.js';
import { ShopifySandbox } from './shopify.js';
import { StripeSandbox } from './stripe.js';

/** Secrets of the local sandbox only; they guard nothing real. */
const DEMO_WEBHOOK_SECRET = 'demo-shopify-webhook-secret';
const DEMO_STRIPE_WEBHOOK_SECRET = 'whsec_demo_sandbox_secret';

export function listen(app: Hono, port = 0): Promise<{ url: string; server: ServerType }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve({ url: `http://127.0.0.1:${info.port}`, server }));
  });
}

/**
 * The built-in sandbox of `npm start`: a Shopify-shaped shop seeded with a few hundred customers
 * and orders, a HubSpot-shaped CRM, and Stripe- and Alipay-shaped payment providers; a feed of new
 * orders awaiting payment posted as signed webhooks, and a feed of signed payment results for the
 * orders awaiting payment. It sets the variables config/demo.yaml reads.
 */
export async function startDemoSandbox(logger: Logger, opts: { customers?: number; orders?: number } = {}) {
  const shop = new ShopifySandbox({ customers: opts.customers ?? 200, orders: opts.orders ?? 300 });
  const crm = new HubspotSandbox();
  const stripe = new StripeSandbox();
  const alipay = new AlipaySandbox();
  const s = await listen(shop.app());
  const h = await listen(crm.app());
  const st = await listen(stripe.app());
  const al = await listen(alipay.app());
  const alipayCredentials = alipay.credentials();
  Object.assign(process.env, {
    SANDBOX_SHOPIFY_URL: s.url, SANDBOX_HUBSPOT_URL: h.url, SANDBOX_STRIPE_URL: st.url, SANDBOX_ALIPAY_URL: `${al.url}/gateway.do`,
    SANDBOX_SHOPIFY_TOKEN: 'shpat_sandbox', SANDBOX_SHOPIFY_WEBHOOK_SECRET: DEMO_WEBHOOK_SECRET,
    SANDBOX_HUBSPOT_TOKEN: 'pat-sandbox', SANDBOX_HUBSPOT_CLIENT_SECRET: 'sandbox-client-secret',
    SANDBOX_STRIPE_SECRET_KEY: 'sk_test_sandbox', SANDBOX_STRIPE_WEBHOOK_SECRET: DEMO_STRIPE_WEBHOOK_SECRET,
    SANDBOX_ALIPAY_APP_ID: alipayCredentials.appId, SANDBOX_ALIPAY_PRIVATE_KEY: alipayCredentials.privateKey, SANDBOX_ALIPAY_PUBLIC_KEY: alipayCredentials.alipayPublicKey,
  });
  logger.info({ shopify: s.url, hubspot: h.url, stripe: st.url, customers: shop.customers.length, orders: shop.orders.length }, 'demo sandbox up: a Shopify-shaped shop, a HubSpot-shaped CRM and Stripe- and Alipay-shaped payment providers on localhost');
  const timers: NodeJS.Timeout[] = [];
  let payments: PaymentFeed | undefined;
  return {
    shop, crm, stripe, alipay,
    get payments() { return payments; },
    /** New orders awaiting payment, each posted as a signed orders/create webhook. */
    startOrderFeed(webhookUrl: string, everyMs = 3000) {
      timers.push(setInterval(() => {
        shop.postOrderWebhook(webhookUrl, DEMO_WEBHOOK_SECRET, shop.addOrder(new Date(), { financialStatus: 'pending' })).then(
          (status) => logger.info({ status }, 'demo: the shop took a new order and posted orders/create'),
          (err) => logger.warn({ err: (err as Error).message }, 'demo: webhook post failed'),
        );
      }, everyMs));
    },
    /** Signed payment results for the orders awaiting payment, one order per tick. */
    startPaymentFeed(hubUrl: string, everyMs = 2000) {
      const feed = new PaymentFeed(shop, stripe, alipay, { stripeUrl: `${hubUrl}/webhooks/stripe`, alipayUrl: `${hubUrl}/webhooks/alipay`, stripeSecret: DEMO_STRIPE_WEBHOOK_SECRET }, logger);
      payments = feed;
      let busy = false;
      timers.push(setInterval(() => {
        if (busy) return;
        busy = true;
        feed.tick().catch((err) => logger.warn({ err: (err as Error).message }, 'demo: a payment result could not be posted')).finally(() => { busy = false; });
      }, everyMs));
      return feed;
    },
    /** A short summary line every few seconds, on stdout whatever the log format. */
    reportEvery(hub: Hub, everyMs: number, write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {
      timers.push(setInterval(() => {
        demoSummary(hub, { shop, crm, payments }).then(write, (err) => logger.warn({ err: (err as Error).message }, 'demo: summary failed'));
      }, everyMs));
    },
    stop() {
      for (const t of timers) clearInterval(t);
      for (const x of [s, h, st, al]) x.server.close();
    },
  };
}
