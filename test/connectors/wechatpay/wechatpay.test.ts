import nock from 'nock';
import { randomBytes, sign, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { wechatpay } from '../../../src/connectors/wechatpay/index.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';
import { rsaKeys, signedWechatNotify } from '../../helpers/payment-signing.js';

const merchant = rsaKeys();
const platform = rsaKeys();
const API_V3_KEY = randomBytes(16).toString('hex');
const SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
function connector() {
  return wechatpay.create(testConnection({ name: 'wx', connector: 'wechatpay', baseUrl: 'https://api.mch.weixin.qq.com', credentials: {
    mchId: '1900000109', serialNo: '408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB', privateKey: merchant.privatePem, apiV3Key: API_V3_KEY, platformPublicKey: platform.publicPem, platformSerial: SERIAL,
  } }), { logger: quietLogger });
}
const transaction = (extra: Record<string, unknown> = {}) => ({
  mchid: '1900000109', appid: 'wxd678efh567hg6787', out_trade_no: '1001', transaction_id: '4200000001202503011234567890', trade_type: 'JSAPI', trade_state: 'SUCCESS',
  trade_state_desc: '支付成功', bank_type: 'CMC', success_time: '2025-03-01T10:00:04+08:00', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }, amount: { total: 2000, payer_total: 2000, currency: 'CNY', payer_currency: 'CNY' }, ...extra,
});
const req = (n: { body: string; headers: Record<string, string> }) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/wx', headers: n.headers, rawBody: Buffer.from(n.body) });

describe('wechatpay notifications', () => {
  const h = connector().webhooks!;
  const signed = (extra: Partial<Parameters<typeof signedWechatNotify>[0]> = {}) =>
    signedWechatNotify({ id: 'EV-2018022511223320873', eventType: 'TRANSACTION.SUCCESS', resource: transaction(), apiV3Key: API_V3_KEY, platformPrivate: platform.privateKey, serial: SERIAL, ...extra });

  it('verifies the platform signature, decrypts the resource, dedupes on the notification id and answers 204', async () => {
    const d = await h.verify(req(signed()));
    expect(d.events).toEqual([expect.objectContaining({ id: 'EV-2018022511223320873', entity: 'payment', record: expect.objectContaining({ out_trade_no: '1001', trade_state: 'SUCCESS' }) })]);
    expect(h.acknowledge!(d)).toEqual({ status: 204 });
  });

  it('refuses another key, another serial, a stale timestamp and a resource sealed with another APIv3 key; failures answer {"code":"FAIL"}', () => {
    expect(() => h.verify(req(signed({ platformPrivate: merchant.privateKey })))).toThrow(/does not match/);
    expect(() => h.verify(req(signed({ serial: 'OTHER' })))).toThrow(/not the configured platform/);
    expect(() => h.verify(req(signed({ timestamp: Math.floor(Date.now() / 1000) - 301 })))).toThrow(/5 minutes/);
    expect(() => h.verify(req(signed({ apiV3Key: randomBytes(16).toString('hex') })))).toThrow(/could not be decrypted/);
    expect(h.reject!(401, { message: 'bad signature' } as never)).toEqual({ status: 401, body: '{"code":"FAIL","message":"bad signature"}', contentType: 'application/json' });
  });
});

describe('wechatpay mapping', () => {
  const m = loadMapping(defaultMappingFile('wechatpay', 'payment', 'in'), { connector: 'wechatpay', statusMap: wechatpay.statusMap });
  it.each([
    [transaction(), { status: 'succeeded', amount: '20.00', currency: 'CNY', orderNumber: '1001', occurredAt: '2025-03-01T02:00:04.000Z' }],
    [transaction({ trade_state: 'NOTPAY', success_time: undefined, create_time: '2025-03-01T10:00:00+08:00' }), { status: 'pending' }],
    [transaction({ trade_state: 'CLOSED', success_time: undefined, create_time: '2025-03-01T10:00:00+08:00' }), { status: 'cancelled' }],
    [transaction({ trade_state: 'PAYERROR', trade_state_desc: '支付失败，请重新下单支付', success_time: undefined, create_time: '2025-03-01T10:00:00+08:00' }), { status: 'failed', failureCode: 'PAYERROR' }],
    [{ mchid: '1900000109', out_trade_no: '1001', transaction_id: '4200000001202503011234567890', out_refund_no: 'R1', refund_id: '50000000382019052709732678859', refund_status: 'SUCCESS', success_time: '2025-03-02T10:00:00+08:00', amount: { total: 2000, refund: 500, payer_total: 2000, payer_refund: 500 } }, { status: 'partially_refunded', refundedAmount: '5.00', refundId: '50000000382019052709732678859' }],
  ])('%#', async (record, expected) => {
    const out: any = await m.evaluate(record);
    expect(canonicalProblems('payment', out)).toEqual([]);
    expect(out).toMatchObject(expected);
  });
});

describe('wechatpay reconciliation', () => {
  afterEach(() => nock.cleanAll());

  it('queries by out_trade_no with a WECHATPAY2-SHA256-RSA2048 request and checks the answer signature', async () => {
    let auth = '';
    const body = JSON.stringify(transaction({ out_trade_no: '1003' }));
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = sign('sha256', Buffer.from(`${ts}\nabc\n${body}\n`), platform.privateKey).toString('base64');
    nock('https://api.mch.weixin.qq.com').get('/v3/pay/transactions/out-trade-no/1003').query({ mchid: '1900000109' })
      .reply(function () { auth = String(this.req.headers.authorization); return [200, body, { 'wechatpay-timestamp': ts, 'wechatpay-nonce': 'abc', 'wechatpay-signature': signature, 'wechatpay-serial': SERIAL, 'content-type': 'application/json' }]; });
    const page = await connector().pull('payment', { cursor: null, pageSize: 10, pendingOrders: async () => ['1003'] });
    expect(page.records).toEqual([expect.objectContaining({ out_trade_no: '1003', trade_state: 'SUCCESS' })]);
    const m = /^WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="(\w+)",signature="([^"]+)",timestamp="(\d+)",serial_no="408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB"$/.exec(auth)!;
    expect(m).not.toBeNull();
    const message = `GET\n/v3/pay/transactions/out-trade-no/1003?mchid=1900000109\n${m[3]}\n${m[1]}\n\n`;
    expect(verify('sha256', Buffer.from(message), merchant.publicKey, Buffer.from(m[2], 'base64'))).toBe(true);

    nock('https://api.mch.weixin.qq.com').get('/v3/pay/transactions/out-trade-no/1003').query(true).reply(200, body, { 'wechatpay-timestamp': ts, 'wechatpay-nonce': 'abc', 'wechatpay-signature': 'forged', 'content-type': 'application/json' });
    await expect(connector().pull('payment', { cursor: null, pageSize: 10, pendingOrders: async () => ['1003'] })).rejects.toThrow(/signature does not match/);
  });
});
