/**
 * Payment results drive order status, end to end on real Redis: Shopify orders synced to
 * HubSpot, then Stripe results posted to the webhook route — duplicates, a refund before
 * its success, a failure, a partial refund, and a payment for an order not synced yet —
 * end with the right status in both the Shopify and the HubSpot mocks, each change applied once.
 * Then once per provider mode (test/helpers/payment-modes.ts): Alipay public-key and
 * certificate modes, PayPal verified by PayPal's API and offline.
 */
import nock from 'nock';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { fixture, mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { mockShopifyOrderWrites } from '../helpers/shopify-store.js';
import { rsaKeys, signedAlipayNotify, signedWechatNotify } from '../helpers/payment-signing.js';
import { paymentModes } from '../helpers/payment-modes.js';
import { factHomes } from '../../src/jobs/order-events.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';

const SHOP = 'https://acme.myshopify.com';
const STAGES = Object.fromEntries(['pending_payment', 'paid', 'shipped', 'completed', 'cancelled', 'refunded', 'partially_refunded'].map((s) => [s, `stage_${s}`]));
const official = new Stripe('sk_test_unused');
const WHSEC = 'whsec_int';

describe('payment results → order status in the shop and the CRM', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('applies Stripe results once each, in any order, and keeps a payment until its order arrives', async () => {
    const orders: Record<string, any>[] = shopifyOrders(5).map((o) => ({ ...o, financial_status: 'pending', total_price: '20.00', subtotal_price: '20.00', tags: '' }));
    const shopList = [...orders];
    mockShopifyOrders(SHOP, shopList);
    const shop = mockShopifyOrderWrites(SHOP, shopList);
    const crm = mockHubspotDeals();
    const stages = new Map<string, string[]>();
    const writes = new Map<string, string[]>();
    crm.scope.on('request', (_r: unknown, _i: unknown, body: string) => {
      for (const input of JSON.parse(body).inputs) {
        stages.set(input.id, [...(stages.get(input.id) ?? []), input.properties.dealstage]);
        writes.set(input.id, [...(writes.get(input.id) ?? []), JSON.stringify(input.properties)]);
      }
    });

    // Stripe: events and charges the connector reads back for charge.* webhooks.
    const stripeEvents = new Map<string, any>();
    const charges = new Map<string, any>();
    nock('https://api.stripe.com').persist()
      .get(/^\/v1\/events\/(evt_\w+)/).reply((uri) => [200, stripeEvents.get(/events\/(evt_\w+)/.exec(uri)![1])])
      .get(/^\/v1\/charges\/(ch_\w+)/).reply((uri) => [200, charges.get(/charges\/(ch_\w+)/.exec(uri)![1])]);

    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, dealStages: STAGES },
        stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x', webhookSecret: WHSEC } },
      },
      pipelines: {
        orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
        payments: { source: { connection: 'stripe', entity: 'payment' }, targets: [{ connection: 'shop', entity: 'order' }, { connection: 'crm', entity: 'order' }], webhooks: true },
      },
    }));
    t.startWorkers();
    const sync = async () => {
      const { runId } = await startRun(t!.hub, 'orders', false);
      return runFinished(t!.hub, runId);
    };
    expect(await sync()).toMatchObject({ expected: 5, pushed: 5, dead: 0 });
    // On a cluster with shards, order 1001's fact for the reports as an earlier version wrote it:
    // on the hub tag, with its home there. Its payment updates it there (1004's in its shard).
    const factOf = async (o: Record<string, any>) => {
      const [home] = await factHomes(t!.hub, [`order:shop:${o.id}`]);
      return { home, fact: JSON.parse((await t!.hub.redis.hget(home!, `order:shop:${o.id}`))!) };
    };
    if (t.hub.layout.spread) {
      const key = `order:shop:${orders[0].id}`;
      const { home, fact } = await factOf(orders[0]);
      const legacy = `${t.hub.layout.hub}${home!.slice(home!.indexOf('}') + 1)}`;
      await t.hub.redis.hset(legacy, key, JSON.stringify(fact));
      await t.hub.redis.hset(t.hub.store.k('facts', 'home'), key, legacy);
      await t.hub.redis.hdel(home!, key);
      await t.hub.redis.hdel(`${t.hub.layout.groupOf(key)}:facts:home`, key);
    }

    const app = createApp(t.hub);
    let n = 0;
    const pi = (orderNumber: string, extra: Record<string, unknown> = {}) => ({ ...fixture<Record<string, any>>('stripe/payment_intent.json'), id: `pi_${orderNumber}`, amount: 2000, metadata: { order_number: orderNumber }, ...extra });
    const post = async (type: string, object: Record<string, any>, created: number, id = `evt_${++n}`) => {
      const event = { id, object: 'event', api_version: '2024-06-20', created, type, livemode: false, data: { object } };
      stripeEvents.set(id, event);
      const body = JSON.stringify(event);
      const res = await app.request('/webhooks/stripe', { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': official.webhooks.generateTestHeaderString({ payload: body, secret: WHSEC }) } });
      expect(res.status).toBe(200);
      return body;
    };
    const refund = async (orderNumber: string, refunded: number, full: boolean, created: number) => {
      const charge = { ...fixture<Record<string, any>>('stripe/charge.json'), id: `ch_${orderNumber}_${refunded}`, amount: 2000, amount_refunded: refunded, refunded: full, payment_intent: `pi_${orderNumber}` };
      charges.set(charge.id, { ...charge, payment_intent: pi(orderNumber) });
      return post('charge.refunded', charge, created);
    };
    const now = Math.floor(Date.now() / 1000);

    // 1001 paid; the same delivery posted twice.
    const dup = await post('payment_intent.succeeded', pi('1001'), now, 'evt_dup');
    await app.request('/webhooks/stripe', { method: 'POST', body: dup, headers: { 'stripe-signature': official.webhooks.generateTestHeaderString({ payload: dup, secret: WHSEC }) } });
    // 1002: the full refund arrives before the success it refunds.
    await refund('1002', 2000, true, now + 10);
    await post('payment_intent.succeeded', pi('1002'), now);
    // 1003: a declined card.
    await post('payment_intent.payment_failed', pi('1003', { status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' } }), now);
    // 1004: paid, then 5.00 refunded.
    await post('payment_intent.succeeded', pi('1004'), now);
    await refund('1004', 500, false, now + 20);
    // 1006: paid before the shop's order reached the hub.
    await post('payment_intent.succeeded', pi('1006'), now);

    const stageOf = (num: string) => crm.deals.get(num)?.properties.dealstage;
    await eventually(() => stageOf('1001') === STAGES.paid && stageOf('1002') === STAGES.refunded && stageOf('1004') === STAGES.partially_refunded && shop.mutations.some((m) => m.kind === 'tag'), 30_000)
      .catch(async (err) => {
        const dead = await t!.hub.store.listDeadLetters({});
        throw new Error(`${err.message}; stages ${JSON.stringify([...stages])}; shop ${JSON.stringify(shop.mutations)}; dead letters ${JSON.stringify(dead.items.map((d) => [d.step, d.error.message]))}`);
      });
    expect(crm.deals.has('1006')).toBe(false);

    // The order 1006 arrives with the next sync: the kept payment is applied.
    const late = { ...shopifyOrders(1, { startId: 5_000_100 })[0], order_number: 1006, name: '#1006', financial_status: 'pending', total_price: '20.00', subtotal_price: '20.00', tags: '', updated_at: new Date(Date.UTC(2025, 5, 1)).toISOString() };
    shopList.push(late);
    await sync();
    // The shop's side is its own push: under load it can land after the CRM's, so wait for it too.
    const shopStatus = (num: number) => shopList.find((o) => o.order_number === num)!.financial_status;
    await eventually(() => stageOf('1006') === STAGES.paid && shopStatus(1006) === 'paid' && shopStatus(1004) === 'partially_refunded' && shopStatus(1002) === 'refunded', 30_000);
    await new Promise((r) => setTimeout(r, 500)); // let any stray push land before counting

    const byNumber = (num: number) => String(shopList.find((o) => o.order_number === num)!.id);
    const count = (num: number, kind: string) => shop.mutations.filter((m) => m.id === byNumber(num) && m.kind === kind).length;
    // The shop: each change done once.
    expect(shopList.find((o) => o.order_number === 1001)!.financial_status).toBe('paid');
    expect(count(1001, 'markAsPaid')).toBe(1);
    expect(shopList.find((o) => o.order_number === 1002)!.financial_status).toBe('refunded');
    expect([count(1002, 'markAsPaid'), count(1002, 'refund')]).toEqual([1, 1]);
    expect(shopList.find((o) => o.order_number === 1003)!).toMatchObject({ financial_status: 'pending', tags: 'payment-failed' });
    expect(shop.mutations.filter((m) => m.id === byNumber(1004) && m.kind === 'refund')).toEqual([{ id: byNumber(1004), kind: 'refund', amount: '5.00' }]);
    expect(shopList.find((o) => o.order_number === 1004)!.financial_status).toBe('partially_refunded');
    expect(count(1005, 'markAsPaid') + count(1005, 'refund')).toBe(0);
    expect(count(1006, 'markAsPaid')).toBe(1);

    // The CRM: the right final stage, and no deal written twice in a row with the same properties.
    // (1002's refund can be applied before its success: the success then adds the close date to
    // the refunded deal, a second write with the same stage.)
    expect([stageOf('1001'), stageOf('1002'), stageOf('1003'), stageOf('1004'), stageOf('1005'), stageOf('1006')])
      .toEqual([STAGES.paid, STAGES.refunded, STAGES.pending_payment, STAGES.partially_refunded, STAGES.pending_payment, STAGES.paid]);
    for (const [num, seq] of writes) expect(seq.every((w, i) => i === 0 || w !== seq[i - 1]), `order ${num}: ${seq.join(' → ')}`).toBe(true);
    // 1002 went straight to refunded, or through paid when its success was applied first; never back.
    expect([[STAGES.pending_payment, STAGES.refunded], [STAGES.pending_payment, STAGES.paid, STAGES.refunded]]).toContainEqual([...new Set(stages.get('1002'))]);
    expect(stages.get('1001')).toEqual([STAGES.pending_payment, STAGES.paid]);
    expect(await t.hub.store.listDeadLetters({})).toMatchObject({ total: 0 });
    // The reports' facts follow the payments, each where its home is.
    const [f1001, f1004] = [await factOf(orders[0]), await factOf(orders[3])];
    expect([f1001.fact.status, f1004.fact.status]).toEqual(['paid', 'partially_refunded']);
    expect(f1001.home!.startsWith(`${t.hub.layout.hub}:`)).toBe(true);
    expect(f1004.home!.startsWith(`${t.hub.layout.groupOf(`order:shop:${orders[3].id}`)}:`)).toBe(true);
  });

  it('applies Alipay and WeChat Pay results with the answers each expects: "success", 204', async () => {
    const orders: Record<string, any>[] = shopifyOrders(3).map((o) => ({ ...o, financial_status: 'pending', total_price: '20.00', subtotal_price: '20.00', currency: 'CNY', tags: '' }));
    mockShopifyOrders(SHOP, orders);
    const shop = mockShopifyOrderWrites(SHOP, orders);
    const crm = mockHubspotDeals();
    const ali = rsaKeys();
    const app = rsaKeys();
    const wxPlatform = rsaKeys();
    const wxMerchant = rsaKeys();
    const apiV3Key = 'a'.repeat(16) + 'b'.repeat(16);
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, dealStages: STAGES },
        ali: { connector: 'alipay', credentials: { appId: '2021000000000001', privateKey: app.privatePem, alipayPublicKey: ali.publicPem } },
        wx: { connector: 'wechatpay', credentials: { mchId: '1900000109', serialNo: 'M1', privateKey: wxMerchant.privatePem, apiV3Key, platformPublicKey: wxPlatform.publicPem, platformSerial: 'P1' } },
      },
      pipelines: {
        orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
        alipay: { source: { connection: 'ali', entity: 'payment' }, targets: [{ connection: 'shop', entity: 'order' }, { connection: 'crm', entity: 'order' }], webhooks: true },
        wechat: { source: { connection: 'wx', entity: 'payment' }, targets: [{ connection: 'shop', entity: 'order' }, { connection: 'crm', entity: 'order' }], webhooks: true },
      },
    }));
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'orders', false);
    await eventually(async () => (await t!.hub.store.getRun(runId))?.finishedAt);
    const appHttp = createApp(t.hub);

    // Alipay: 1001 paid, the notification delivered twice.
    const aliBody = signedAlipayNotify({ notify_time: '2025-03-01 18:00:05', notify_id: 'n-1001', app_id: '2021000000000001', trade_no: 'T1001', out_trade_no: '1001', trade_status: 'TRADE_SUCCESS', total_amount: '20.00', gmt_payment: '2025-03-01 18:00:04' }, ali.privateKey);
    for (let i = 0; i < 2; i++) {
      const res = await appHttp.request('/webhooks/ali', { method: 'POST', body: aliBody, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect([res.status, await res.text()]).toEqual([200, 'success']);
    }
    const forged = await appHttp.request('/webhooks/ali', { method: 'POST', body: signedAlipayNotify({ notify_id: 'n-x', app_id: '2021000000000001', trade_no: 'T9', out_trade_no: '1003', trade_status: 'TRADE_SUCCESS', total_amount: '20.00' }, app.privateKey) });
    expect([forged.status, await forged.text()]).toEqual([401, 'fail']);

    // WeChat Pay: 1002's refund arrives before its success.
    const tx = { mchid: '1900000109', out_trade_no: '1002', transaction_id: 'W1002', trade_state: 'SUCCESS', success_time: '2025-03-01T10:00:04+08:00', amount: { total: 2000, currency: 'CNY' } };
    const refund = { mchid: '1900000109', out_trade_no: '1002', transaction_id: 'W1002', refund_id: 'R1002', out_refund_no: 'OR1002', refund_status: 'SUCCESS', success_time: '2025-03-02T10:00:00+08:00', amount: { total: 2000, refund: 2000, payer_total: 2000, payer_refund: 2000, currency: 'CNY' } };
    for (const [id, type, resource] of [['EV-r', 'REFUND.SUCCESS', refund], ['EV-s', 'TRANSACTION.SUCCESS', tx]] as const) {
      const n = signedWechatNotify({ id, eventType: type, resource, apiV3Key, platformPrivate: wxPlatform.privateKey, serial: 'P1' });
      const res = await appHttp.request('/webhooks/wx', { method: 'POST', body: n.body, headers: n.headers });
      expect(res.status).toBe(204);
    }
    const stale = signedWechatNotify({ id: 'EV-old', eventType: 'TRANSACTION.SUCCESS', resource: tx, apiV3Key, platformPrivate: wxPlatform.privateKey, serial: 'P1', timestamp: Math.floor(Date.now() / 1000) - 600 });
    const staleRes = await appHttp.request('/webhooks/wx', { method: 'POST', body: stale.body, headers: stale.headers });
    expect([staleRes.status, (await staleRes.json()).code]).toEqual([401, 'FAIL']);

    const stageOf = (num: string) => crm.deals.get(num)?.properties.dealstage;
    await eventually(() => stageOf('1001') === STAGES.paid && stageOf('1002') === STAGES.refunded && orders[1].financial_status === 'refunded', 30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(orders.map((o) => o.financial_status)).toEqual(['paid', 'refunded', 'pending']);
    expect(shop.mutations.filter((m) => m.kind === 'markAsPaid').map((m) => m.id).sort()).toEqual([String(orders[0].id), String(orders[1].id)].sort());
    expect(shop.mutations.filter((m) => m.kind === 'refund')).toEqual([{ id: String(orders[1].id), kind: 'refund', amount: '20.00' }]);
    expect(stageOf('1003')).toBe(STAGES.pending_payment);
  });

  // One run per provider mode: Alipay public-key and certificate modes, PayPal verified by
  // PayPal's API and offline. Each: a success delivered twice, a forged delivery refused with
  // the provider's answer, a success then its full refund; final states in the shop and the CRM.
  it.each(paymentModes.map((m) => [m.name, m] as const))('%s: results reach the shop and the CRM once each, forged deliveries are refused', async (_name, mode) => {
    const orders: Record<string, any>[] = shopifyOrders(3).map((o) => ({ ...o, financial_status: 'pending', total_price: '20.00', subtotal_price: '20.00', currency: mode.currency, tags: '' }));
    mockShopifyOrders(SHOP, orders);
    const shop = mockShopifyOrderWrites(SHOP, orders);
    const crm = mockHubspotDeals();
    const provider = await mode.start();
    try {
      t = await openTestHub(testConfig({
        connections: {
          shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
          crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, dealStages: STAGES },
          pay: provider.connection,
        },
        pipelines: {
          orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
          payments: { source: { connection: 'pay', entity: 'payment' }, targets: [{ connection: 'shop', entity: 'order' }, { connection: 'crm', entity: 'order' }], webhooks: true },
        },
      }));
      t.startWorkers();
      const { runId } = await startRun(t.hub, 'orders', false);
      await eventually(async () => (await t!.hub.store.getRun(runId))?.finishedAt);
      const http = createApp(t.hub);
      const post = async (d: { body: string; headers: Record<string, string> }) => {
        const res = await http.request('/webhooks/pay', { method: 'POST', body: d.body, headers: d.headers });
        const text = await res.text();
        return { status: res.status, ...(mode.accepted.body !== undefined ? { body: text } : {}) };
      };
      const success = provider.success('1001');
      for (let i = 0; i < 2; i++) expect(await post(success)).toEqual(mode.accepted);
      expect((await post(provider.forged('1003'))).status).toBe(401);
      expect(await post(provider.success('1002'))).toEqual(mode.accepted);
      expect(await post(provider.refund('1002'))).toEqual(mode.accepted);

      const stageOf = (num: string) => crm.deals.get(num)?.properties.dealstage;
      await eventually(() => stageOf('1001') === STAGES.paid && stageOf('1002') === STAGES.refunded && orders[1].financial_status === 'refunded', 30_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(orders.map((o) => o.financial_status)).toEqual(['paid', 'refunded', 'pending']);
      expect(shop.mutations.filter((m) => m.kind === 'markAsPaid').map((m) => m.id).sort()).toEqual([String(orders[0].id), String(orders[1].id)].sort());
      expect(shop.mutations.filter((m) => m.kind === 'refund')).toEqual([{ id: String(orders[1].id), kind: 'refund', amount: '20.00' }]);
      expect(stageOf('1003')).toBe(STAGES.pending_payment);
      expect(await t.hub.store.listDeadLetters({})).toMatchObject({ total: 0 });
      provider.expectDone();
    } finally {
      await provider.stop();
    }
  });
});
