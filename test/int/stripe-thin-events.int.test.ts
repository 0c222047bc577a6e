/**
 * Stripe thin events through the webhook route on real Redis: the delivery is verified,
 * stored as a reference and answered with no call to Stripe; a second delivery of the
 * same event id is a duplicate; the ingest worker then reads the event
 * (`GET /v2/core/events/{id}`) and the PaymentIntent it names, and the payment moves the
 * order like a snapshot delivery would.
 */
import nock from 'nock';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';
import { fixture, mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';
const STAGES = Object.fromEntries(['pending_payment', 'paid', 'shipped', 'completed', 'cancelled', 'refunded', 'partially_refunded'].map((s) => [s, `stage_${s}`]));
const official = new Stripe('sk_test_unused');
const WHSEC = 'whsec_int';

describe('Stripe thin events → order status', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('stores a thin event before answering, dedupes it on its id, and fetches what it names in the job', async () => {
    const orders: Record<string, any>[] = shopifyOrders(2).map((o) => ({ ...o, financial_status: 'pending', total_price: '20.00', subtotal_price: '20.00', tags: '' }));
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    const pi = { ...fixture<Record<string, any>>('stripe/payment_intent.json'), id: 'pi_3MtwBwLkdIwHu7ix1001', metadata: { order_number: '1001' } };
    const event = {
      id: 'evt_test_65R9Ijk8mLKAzdNV5h1SVyqnwzXgSDC8DjgsQ0oE6pAq', object: 'v2.core.event', type: 'v1.payment_intent.succeeded', livemode: false,
      created: new Date().toISOString(), context: null, related_object: { id: pi.id, type: 'payment_intent', url: `/v1/payment_intents/${pi.id}` },
      reason: { type: 'request', request: { id: 'req_v2ffBKGgVZWPuVUzf', idempotency_key: null } },
    };
    const stripeCalls: string[] = [];
    nock('https://api.stripe.com').persist()
      .get(`/v2/core/events/${event.id}`).reply((uri) => { stripeCalls.push(uri); return [200, event]; })
      .get(`/v1/payment_intents/${pi.id}`).reply((uri) => { stripeCalls.push(uri); return [200, pi]; });

    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, dealStages: STAGES },
        stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x', webhookSecret: WHSEC } },
      },
      pipelines: {
        orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
        payments: { source: { connection: 'stripe', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true },
      },
    }));
    const app = createApp(t.hub);
    const body = JSON.stringify(event);
    const post = () => app.request('/webhooks/stripe', { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': official.webhooks.generateTestHeaderString({ payload: body, secret: WHSEC }) } });

    // No worker runs yet: the answer can only come from the stored event.
    const first = await post();
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ stored: 1, duplicates: 0 });
    const again = await post();
    expect(await again.json()).toMatchObject({ stored: 0, duplicates: 1 });
    expect(stripeCalls).toEqual([]);

    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    await eventually(async () => (await t!.hub.store.getRun(runId))?.finishedAt);
    await eventually(() => crm.deals.get('1001')?.properties.dealstage === STAGES.paid, 30_000)
      .catch(async (err) => {
        const dead = await t!.hub.store.listDeadLetters({});
        throw new Error(`${err.message}; stripe calls ${JSON.stringify(stripeCalls)}; dead letters ${JSON.stringify(dead.items.map((d) => [d.step, d.error.message]))}`);
      });
    expect(stripeCalls).toEqual([`/v2/core/events/${event.id}`, `/v1/payment_intents/${pi.id}`]);
    expect(crm.deals.get('1002')?.properties.dealstage).not.toBe(STAGES.paid);
  });
});
