import nock from 'nock';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { fixture } from '../helpers/mock-apis.js';

describe('a payment whose order never arrives', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    nock.cleanAll();
  });

  it('is kept for jobs.orderWaitMs, then dead-lettered with the reason "order not found"', async () => {
    t = await openTestHub(testConfig({
      jobs: { orderWaitMs: 1000 },
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'x' } },
        stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x', webhookSecret: 'whsec_w' } },
      },
      pipelines: { payments: { source: { connection: 'stripe', entity: 'payment' }, targets: [{ connection: 'shop', entity: 'order' }], webhooks: true } },
    }));
    t.startWorkers();
    const body = JSON.stringify({ id: 'evt_lost', object: 'event', created: Math.floor(Date.now() / 1000), type: 'payment_intent.succeeded', data: { object: { ...fixture<Record<string, unknown>>('stripe/payment_intent.json'), metadata: { order_number: '9999' } } } });
    const sig = new Stripe('sk_test_unused').webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_w' });
    const res = await createApp(t.hub).request('/webhooks/stripe', { method: 'POST', body, headers: { 'stripe-signature': sig } });
    expect(res.status).toBe(200);
    const parked = await eventually(async () => Object.keys(await t!.hub.store.orders.parkedPayments('9999')).length > 0);
    expect(parked).toBe(true);
    const dl = await eventually(async () => (await t!.hub.store.listDeadLetters({ pipeline: 'payments' })).items[0], 15_000);
    expect(dl).toMatchObject({ step: 'apply', entity: 'payment', error: { code: 'order_not_found' } });
    expect(dl.error.message).toContain('no order numbered 9999');
    expect(Object.keys(await t.hub.store.orders.parkedPayments('9999'))).toEqual([]);
  });
});
