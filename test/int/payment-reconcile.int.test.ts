/**
 * A missed webhook is caught by the next scheduled run: Stripe through /v1/events, Alipay
 * by querying the orders the hub still sees unpaid. A later run writes nothing more.
 */
import { sign } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { fixture, mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { rsaKeys } from '../helpers/payment-signing.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';

const SHOP = 'https://acme.myshopify.com';
const STAGES = Object.fromEntries(['pending_payment', 'paid', 'shipped', 'completed', 'cancelled', 'refunded', 'partially_refunded'].map((s) => [s, `stage_${s}`]));

describe('reconciliation runs catch missed payment webhooks', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('Stripe events and Alipay queries move the orders to paid; a second run pushes nothing', async () => {
    const orders: Record<string, any>[] = shopifyOrders(2).map((o, i) => ({ ...o, financial_status: 'pending', total_price: '20.00', subtotal_price: '20.00', created_at: '2025-01-01T00:00:00Z', currency: i === 1 ? 'CNY' : 'USD' }));
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    const ali = rsaKeys();
    const app = rsaKeys();
    const created = Math.floor(Date.now() / 1000) - 60;
    const pi = { ...fixture<Record<string, unknown>>('stripe/payment_intent.json'), id: 'pi_1001', amount: 2000, metadata: { order_number: '1001' } };
    nock('https://api.stripe.com').persist().get('/v1/events').query(true)
      .reply(200, { object: 'list', has_more: false, data: [{ id: 'evt_missed', object: 'event', created, type: 'payment_intent.succeeded', data: { object: pi } }] });
    let queries = 0;
    nock('https://openapi.alipay.com').persist().post('/gateway.do').reply((_uri, body) => {
      queries++;
      const biz = JSON.parse(new URLSearchParams(String(body)).get('biz_content')!);
      const response = biz.out_trade_no === '1002'
        ? JSON.stringify({ code: '10000', msg: 'Success', trade_no: 'T1002', out_trade_no: '1002', trade_status: 'TRADE_SUCCESS', total_amount: '20.00', send_pay_date: '2025-03-01 18:00:00' })
        : JSON.stringify({ code: '40004', msg: 'Business Failed', sub_code: 'ACQ.TRADE_NOT_EXIST', sub_msg: '交易不存在' });
      return [200, `{"alipay_trade_query_response":${response},"sign":"${sign('sha256', Buffer.from(response), ali.privateKey).toString('base64')}"}`, { 'content-type': 'application/json' }];
    });
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, dealStages: STAGES },
        stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x' } },
        ali: { connector: 'alipay', pendingAgeMs: 60_000, credentials: { appId: '2021000000000001', privateKey: app.privatePem, alipayPublicKey: ali.publicPem } },
      },
      pipelines: {
        orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
        stripe: { source: { connection: 'stripe', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }] },
        alipay: { source: { connection: 'ali', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }] },
      },
    }));
    t.startWorkers();
    const run = async (name: string) => {
      const { runId } = await startRun(t!.hub, name, false);
      return runFinished(t!.hub, runId);
    };
    await run('orders');
    const stageOf = (num: string) => crm.deals.get(num)?.properties.dealstage;
    expect([stageOf('1001'), stageOf('1002')]).toEqual([STAGES.pending_payment, STAGES.pending_payment]);

    expect(await run('stripe')).toMatchObject({ expected: 1, pushed: 1, dead: 0 });
    await eventually(() => stageOf('1001') === STAGES.paid);
    expect(await run('alipay')).toMatchObject({ expected: 1, pushed: 1, dead: 0 });
    await eventually(() => stageOf('1002') === STAGES.paid);
    // Only 1002 was still unpaid when Alipay was asked.
    expect(queries).toBe(1);

    // The next runs find nothing new to write.
    const calls = crm.calls.length;
    expect(await run('stripe')).toMatchObject({ pushed: 0, dead: 0 });
    expect(await run('alipay')).toMatchObject({ expected: 0, dead: 0 });
    expect(crm.calls.length).toBe(calls);
    expect(queries).toBe(1);
  });
});
