import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { hubspotWebhooks } from '../../src/connectors/hubspot/webhooks.js';
import { magentoWebhooks } from '../../src/connectors/magento/webhooks.js';
import { paypal } from '../../src/connectors/paypal/index.js';
import { shopifyWebhooks } from '../../src/connectors/shopify/webhooks.js';
import { jsonBody } from '../../src/connectors/shared.js';
import { wechatpay } from '../../src/connectors/wechatpay/index.js';
import { decodeBase64Strict } from '../../src/core/base64.js';
import { fixture } from '../helpers/mock-apis.js';
import { quietLogger } from '../helpers/hub.js';
import { testConnection } from '../helpers/connection.js';
import { rsaKeys, signedWechatNotify } from '../helpers/payment-signing.js';

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const req = (body: string, headers: Record<string, string>, url = 'https://hub.example.com/webhooks/x') => ({ method: 'POST', url, headers, rawBody: Buffer.from(body) });
const codeOf = async (f: () => unknown) => { try { await f(); return 'accepted'; } catch (e: any) { return e.code as string; } };

describe('webhook bodies nested too deep', () => {
  it('jsonBody refuses a body nested deeper than the limit as malformed (400), and takes one at the limit', async () => {
    expect(await codeOf(() => jsonBody(req(deep(10_000), {})))).toBe('webhook_malformed');
    expect(await codeOf(() => jsonBody(req(`{"a":${deep(200)}}`, {})))).toBe('webhook_malformed');
    expect(await codeOf(() => jsonBody(req(deep(64), {})))).toBe('accepted');
    expect(await codeOf(() => jsonBody(req(deep(65), {})))).toBe('webhook_malformed');
    // Objects and arrays count alike, whichever holds which; scalars and nulls do not add a level.
    const mixed = (n: number) => '{"a":['.repeat(n / 2) + '1,null,"[{"' + ']}'.repeat(n / 2);
    expect(await codeOf(() => jsonBody(req(mixed(64), {})))).toBe('accepted');
    expect(await codeOf(() => jsonBody(req(`[${mixed(64)}]`, {})))).toBe('webhook_malformed');
    expect(() => jsonBody(req(deep(10_000), {}))).toThrow(/nested deeper than 64/);
  });

  it('PayPal: a body too deep to send for verification is refused 400 before PayPal is asked', async () => {
    nock.disableNetConnect();
    const headers = { 'paypal-auth-algo': 'SHA256withRSA', 'paypal-cert-url': 'https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42', 'paypal-transmission-id': 'dfb3be50-fd74-11e4-8bf3-77339302725b', 'paypal-transmission-sig': 'c2ln', 'paypal-transmission-time': '2025-03-01T10:00:06Z' };
    const pp = paypal.create(testConnection({ name: 'pp', connector: 'paypal', baseUrl: 'https://api-m.sandbox.paypal.com', credentials: { clientId: 'AYSq3', clientSecret: 'EGnHD', webhookId: '1JE4291016473214C' } }), { logger: quietLogger });
    const body = `{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":${deep(10_000)}}`;
    expect(await codeOf(() => pp.webhooks!.verify(req(body, headers)))).toBe('webhook_malformed');
    nock.cleanAll();
    nock.enableNetConnect();
  });
});

describe('HubSpot v3 timestamps', () => {
  const SECRET = 'client-secret';
  const URL_ = 'https://hub.example.com/webhooks/crm';
  const body = JSON.stringify(fixture('hubspot/webhook-events.json'));
  const signed = (ts: number) => req(body, { 'x-hubspot-signature-v3': createHmac('sha256', SECRET).update(`POST${URL_}${body}${ts}`).digest('base64'), 'x-hubspot-request-timestamp': String(ts) }, URL_);

  it('refuses a timestamp more than 5 minutes in the future, takes one within', () => {
    const h = hubspotWebhooks(SECRET);
    expect(() => h.verify(signed(Date.now() + 365 * 24 * 3600 * 1000))).toThrow(/5 minutes/);
    expect(() => h.verify(signed(Date.now() + 5 * 60 * 1000 + 1000))).toThrow(/5 minutes/);
    expect((h.verify(signed(Date.now() + 60 * 1000)) as any).events).toHaveLength(2);
  });
});

describe('base64 signatures are decoded strictly', () => {
  it('decodeBase64Strict takes only canonical base64', () => {
    expect(decodeBase64Strict('aGk=')?.toString()).toBe('hi');
    expect(decodeBase64Strict('aGk')?.toString()).toBe('hi'); // padding left out
    expect(decodeBase64Strict('')).toBeUndefined();
    expect(decodeBase64Strict('aGk=junk')).toBeUndefined();
    expect(decodeBase64Strict('aGk=\n')).toBeUndefined();
    expect(decodeBase64Strict('a Gk=')).toBeUndefined();
    expect(decodeBase64Strict('aGl=')).toBeUndefined(); // non-zero unused bits
    expect(decodeBase64Strict('aGk-')).toBeUndefined(); // base64url is not base64
  });

  it('Magento: a valid signature with trailing garbage is refused', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const h = magentoWebhooks(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const body = JSON.stringify({ eventName: 'observer.sales_order_save_after', data: { order: fixture('magento/order.json') } });
    const sig = sign('sha256', Buffer.from(body), privateKey).toString('base64');
    expect((h.verify(req(body, { 'x-adobe-commerce-webhook-signature': sig })) as any).events).toHaveLength(1);
    expect(() => h.verify(req(body, { 'x-adobe-commerce-webhook-signature': `${sig}garbage` }))).toThrow(/does not match/);
  });

  it('WeChat Pay: a valid signature with trailing garbage is refused', () => {
    const merchant = rsaKeys();
    const platform = rsaKeys();
    const apiV3Key = randomBytes(16).toString('hex');
    const serial = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
    const h = wechatpay.create(testConnection({ name: 'wx', connector: 'wechatpay', baseUrl: 'https://api.mch.weixin.qq.com', credentials: {
      mchId: '1900000109', serialNo: '408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB', privateKey: merchant.privatePem, apiV3Key, platformPublicKey: platform.publicPem, platformSerial: serial,
    } }), { logger: quietLogger }).webhooks!;
    const n = signedWechatNotify({ id: 'EV-1', eventType: 'TRANSACTION.SUCCESS', resource: { out_trade_no: '1001', transaction_id: '42', trade_state: 'SUCCESS', amount: { total: 100, currency: 'CNY' } }, apiV3Key, platformPrivate: platform.privateKey, serial });
    expect((h.verify(req(n.body, n.headers)) as any).events).toHaveLength(1);
    expect(() => h.verify(req(n.body, { ...n.headers, 'wechatpay-signature': `${n.headers['wechatpay-signature']}garbage` }))).toThrow(/does not match/);
  });

  it('Shopify compares the base64 HMAC as text: trailing garbage does not match', () => {
    const h = shopifyWebhooks('shpss_secret');
    const body = JSON.stringify(fixture('shopify/order.json'));
    const hmac = createHmac('sha256', 'shpss_secret').update(body).digest('base64');
    const headers = { 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': 'w1' };
    expect(() => h.verify(req(body, { ...headers, 'x-shopify-hmac-sha256': `${hmac}x` }))).toThrow(/does not match|missing/);
  });
});

describe('Shopify: a repeated X-Shopify-Topic header', () => {
  afterEach(() => nock.cleanAll());
  it('is refused as malformed instead of dropping the event', async () => {
    const h = shopifyWebhooks('shpss_secret');
    const body = JSON.stringify(fixture('shopify/order.json'));
    const hmac = createHmac('sha256', 'shpss_secret').update(body).digest('base64');
    // Node and Headers join a repeated header with ", ".
    const headers = { 'x-shopify-topic': 'orders/create, orders/create', 'x-shopify-webhook-id': 'w1', 'x-shopify-hmac-sha256': hmac };
    expect(await codeOf(() => h.verify(req(body, headers)))).toBe('webhook_malformed');
    expect(await codeOf(() => h.verify(req(body, { ...headers, 'x-shopify-webhook-id': 'w1, w2', 'x-shopify-topic': 'orders/create' })))).toBe('webhook_malformed');
  });
});
