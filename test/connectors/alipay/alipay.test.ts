import nock from 'nock';
import { sign } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { alipay } from '../../../src/connectors/alipay/index.js';
import { signedResponse } from '../../../src/connectors/alipay/client.js';
import { alipayContent } from '../../../src/connectors/alipay/sign.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';
import { rsaKeys, signedAlipayNotify } from '../../helpers/payment-signing.js';

const app = rsaKeys();
const ali = rsaKeys();
const GATEWAY = 'https://openapi.alipay.com/gateway.do';
function connector() {
  return alipay.create(testConnection({ name: 'ali', connector: 'alipay', baseUrl: GATEWAY, credentials: { appId: '2021000000000001', privateKey: app.privatePem, alipayPublicKey: ali.publicPem } }), { logger: quietLogger });
}
const notify = (extra: Record<string, string> = {}) => ({
  notify_time: '2025-03-01 18:00:05', notify_id: 'ac05099524730693a8b330c5ecf72da9786', app_id: '2021000000000001', trade_no: '2025030122001400000000000001',
  out_trade_no: '1001', trade_status: 'TRADE_SUCCESS', total_amount: '20.00', receipt_amount: '20.00', gmt_create: '2025-03-01 17:59:58', gmt_payment: '2025-03-01 18:00:04', subject: '订单 1001', ...extra,
});
const req = (body: string) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/ali', headers: { 'content-type': 'application/x-www-form-urlencoded' }, rawBody: Buffer.from(body) });

describe('alipay notifications', () => {
  const h = connector().webhooks!;

  it('verifies RSA2 over the sorted parameters, dedupes on notify_id and answers plain "success"', async () => {
    const d = await h.verify(req(signedAlipayNotify(notify(), ali.privateKey)));
    expect(d.events).toEqual([expect.objectContaining({ id: 'ac05099524730693a8b330c5ecf72da9786', entity: 'payment' })]);
    expect(h.acknowledge!(d)).toEqual({ status: 200, body: 'success', contentType: 'text/plain; charset=utf-8' });
  });

  it('refuses a forged signature, a changed amount, another app and answers "fail"', () => {
    expect(() => h.verify(req(signedAlipayNotify(notify(), app.privateKey)))).toThrow(/does not match/);
    expect(() => h.verify(req(signedAlipayNotify(notify(), ali.privateKey).replace('total_amount=20.00', 'total_amount=0.01')))).toThrow(/does not match/);
    expect(() => h.verify(req(signedAlipayNotify(notify({ app_id: '2021000000000999' }), ali.privateKey)))).toThrow(/another app_id/);
    expect(h.reject!(401, new Error('x') as never)).toMatchObject({ status: 401, body: 'fail' });
  });
});

describe('alipay mapping', () => {
  const m = loadMapping(defaultMappingFile('alipay', 'payment', 'in'), { connector: 'alipay', statusMap: alipay.statusMap });
  it.each([
    [{}, { status: 'succeeded', amount: '20.00', currency: 'CNY', orderNumber: '1001', occurredAt: '2025-03-01T10:00:04.000Z' }],
    [{ trade_status: 'WAIT_BUYER_PAY' }, { status: 'pending' }],
    [{ trade_status: 'TRADE_FINISHED' }, { status: 'succeeded' }],
    [{ trade_status: 'TRADE_CLOSED', gmt_close: '2025-03-01 18:30:00' }, { status: 'cancelled' }],
    [{ trade_status: 'TRADE_CLOSED', refund_fee: '20.00', gmt_refund: '2025-03-02 09:00:00.123' }, { status: 'refunded', refundedAmount: '20.00' }],
    [{ trade_status: 'TRADE_SUCCESS', refund_fee: '5.00', gmt_refund: '2025-03-02 09:00:00' }, { status: 'partially_refunded', refundedAmount: '5.00' }],
  ])('%j', async (extra, expected) => {
    const out: any = await m.evaluate(notify(extra as Record<string, string>));
    expect(canonicalProblems('payment', out)).toEqual([]);
    expect(out).toMatchObject(expected);
  });
});

describe('alipay reconciliation', () => {
  afterEach(() => nock.cleanAll());

  it('queries orders still unpaid with a signed alipay.trade.query and believes only a signed answer', async () => {
    let sent: URLSearchParams | undefined;
    const response = JSON.stringify({ code: '10000', msg: 'Success', trade_no: '2025030122001400000000000002', out_trade_no: '1002', trade_status: 'TRADE_SUCCESS', total_amount: '20.00', send_pay_date: '2025-03-01 18:01:00' });
    const answer = `{"alipay_trade_query_response":${response},"sign":"${sign('sha256', Buffer.from(response), ali.privateKey).toString('base64')}"}`;
    nock('https://openapi.alipay.com').post('/gateway.do', (b) => { sent = new URLSearchParams(b); return true; }).reply(200, answer, { 'content-type': 'application/json' });
    const page = await connector().pull('payment', { cursor: null, pageSize: 50, pendingOrders: async (age) => (expect(age).toBe(900000), ['1002']) });
    expect(page.records).toEqual([expect.objectContaining({ out_trade_no: '1002', trade_status: 'TRADE_SUCCESS', total_amount: '20.00' })]);
    const params = Object.fromEntries(sent!);
    expect(params).toMatchObject({ method: 'alipay.trade.query', sign_type: 'RSA2', app_id: '2021000000000001', biz_content: '{"out_trade_no":"1002"}' });
    // The request is signed with the application key over the same sorted content.
    const { verify } = await import('node:crypto');
    expect(verify('sha256', Buffer.from(alipayContent(params)), app.publicKey, Buffer.from(params.sign, 'base64'))).toBe(true);

    nock('https://openapi.alipay.com').post('/gateway.do').reply(200, `{"alipay_trade_query_response":${response},"sign":"forged"}`);
    await expect(connector().pull('payment', { cursor: null, pageSize: 50, pendingOrders: async () => ['1002'] })).rejects.toThrow(/signature does not match/);
  });
});

describe('alipay signed answer', () => {
  const KEY = 'alipay_trade_query_response';
  it('cuts out the signed object byte for byte, following strings and nesting', () => {
    const content = '{"code":"10000","msg":"Success","subject":"a},\\"sign\\":\\"x {","nested":{"a":1}}';
    expect(signedResponse(`{"${KEY}": ${content} ,\n "sign":"c2lnbg=="}`, KEY)).toEqual({ content, sign: 'c2lnbg==' });
    expect(signedResponse(`{"${KEY}":{"code":"10000"}`, KEY)).toBeNull();
    expect(signedResponse(`{"${KEY}":{"code":"10000"}}`, KEY)).toBeNull();
  });

  it('reads a hostile answer of many repeated keys in linear time', () => {
    const text = `{"${KEY}":{` + `"${KEY}":{`.repeat(50_000);
    expect(signedResponse(text, KEY)).toBeNull();
    // The same shape through the regex this replaced took tens of seconds.
  }, 2000);
});
