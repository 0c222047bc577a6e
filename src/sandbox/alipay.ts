import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { Hono } from 'hono';
import { beijingTime } from '../connectors/alipay/client.js';
import { alipayContent, rsa2Sign, rsa2Verify } from '../connectors/alipay/sign.js';
import { fromMinorUnits, toMinorUnits } from '../core/money.js';
import type { SandboxOrder } from './stripe.js';

/**
 * An Alipay-shaped payment provider for the demo, in public-key mode: it holds an "Alipay" key pair
 * and the application's, and posts asynchronous notifications (异步通知) for the shop's orders
 * (`out_trade_no` = the order number), form-encoded and signed RSA2 over the sorted parameters
 * without `sign` and `sign_type`, with the project's own signer (src/connectors/alipay/sign.ts),
 * as opendocs.alipay.com/open/270/105902 describes. Refund notifications carry `refund_fee`, the
 * running total refunded: `TRADE_SUCCESS` for a part, `TRADE_CLOSED` once everything is refunded;
 * an order closed unpaid is `TRADE_CLOSED` without it. Its gateway answers `alipay.trade.query`
 * (opendocs.alipay.com/open/82ea786a_alipay.trade.query): the request's RSA2 signature is checked
 * with the application's public key, and the answer is signed over the exact text of
 * `alipay_trade_query_response`, as the gateway signs it; a trade it does not know is
 * `40004 ACQ.TRADE_NOT_EXIST`. Any other method is answered `40004 isv.invalid-method` (not simulated).
 */
export class AlipaySandbox {
  readonly appId = '2021000000000000';
  private readonly alipay = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly trades = new Map<string, { tradeNo: string; created: string; paid?: string; refunded: bigint; status: string; total: string }>();
  /** alipay.trade.query calls answered, for tests. */
  queries = 0;
  /** Notifications posted, for the demo's summary. */
  posted = 0;

  /** The application private key and the Alipay public key, bare base64 as the open platform hands them out. */
  credentials(): { appId: string; privateKey: string; alipayPublicKey: string } {
    const bare = (key: KeyObject, type: 'pkcs8' | 'spki') => key.export({ type, format: 'der' } as never).toString('base64');
    return { appId: this.appId, privateKey: bare(this.appKeys.privateKey, 'pkcs8'), alipayPublicKey: bare(this.alipay.publicKey, 'spki') };
  }

  private trade(order: SandboxOrder) {
    let t = this.trades.get(order.number);
    if (!t) {
      t = { tradeNo: `2026${Date.now()}${randomBytes(3).toString('hex')}`.slice(0, 28), created: beijingTime(), refunded: 0n, status: 'WAIT_BUYER_PAY', total: order.total };
      this.trades.set(order.number, t);
    }
    return t;
  }

  private notification(order: SandboxOrder, tradeStatus: string, extra: Record<string, string> = {}): Record<string, string> {
    const t = this.trade(order);
    t.status = tradeStatus;
    return {
      notify_time: beijingTime(), notify_type: 'trade_status_sync', notify_id: randomBytes(16).toString('hex'), app_id: this.appId,
      charset: 'utf-8', version: '1.0', sign_type: 'RSA2', trade_no: t.tradeNo, out_trade_no: order.number,
      subject: `Order #${order.number}`, trade_status: tradeStatus, total_amount: order.total,
      gmt_create: t.created, ...(t.paid ? { gmt_payment: t.paid, receipt_amount: order.total, buyer_pay_amount: order.total } : {}), ...extra,
    };
  }

  succeed(order: SandboxOrder): Record<string, string> {
    this.trade(order).paid = beijingTime();
    return this.notification(order, 'TRADE_SUCCESS');
  }

  /** An order closed without payment (the buyer never paid before the timeout). */
  close(order: SandboxOrder): Record<string, string> {
    return this.notification(order, 'TRADE_CLOSED', { gmt_close: beijingTime() });
  }

  /** A refund of `amount` (a decimal string): the running total in `refund_fee`, closed once all is refunded. */
  refund(order: SandboxOrder, amount: string): Record<string, string> {
    const t = this.trade(order);
    const total = toMinorUnits(order.total, order.currency);
    const sum = t.refunded + toMinorUnits(amount, order.currency);
    t.refunded = sum > total ? total : sum;
    const full = t.refunded === total;
    return this.notification(order, full ? 'TRADE_CLOSED' : 'TRADE_SUCCESS', { refund_fee: fromMinorUnits(t.refunded, order.currency), gmt_refund: beijingTime(), ...(full ? { gmt_close: beijingTime() } : {}) });
  }

  /** The gateway (`POST /gateway.do`, form-encoded v2 requests). */
  app(): Hono {
    const app = new Hono();
    app.post('/gateway.do', async (c) => {
      const params = Object.fromEntries(new URLSearchParams(await c.req.text()));
      const method = params.method ?? '';
      const key = `${method.replace(/\./g, '_')}_response`;
      let answer: Record<string, string>;
      if (params.app_id !== this.appId || !params.sign || !rsa2Verify(alipayContent(params), params.sign, this.appKeys.publicKey)) {
        answer = { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature', sub_msg: '验签出错' };
      } else if (method !== 'alipay.trade.query') {
        answer = { code: '40004', msg: 'Business Failed', sub_code: 'isv.invalid-method', sub_msg: `the demo sandbox does not simulate ${method}` };
      } else {
        this.queries++;
        let biz: { out_trade_no?: string } = {};
        try { biz = JSON.parse(params.biz_content ?? '{}'); } catch { /* answered as an unknown trade */ }
        const t = biz.out_trade_no ? this.trades.get(biz.out_trade_no) : undefined;
        answer = t
          ? { code: '10000', msg: 'Success', trade_no: t.tradeNo, out_trade_no: biz.out_trade_no!, trade_status: t.status, total_amount: t.total, ...(t.paid ? { send_pay_date: t.paid } : {}) }
          : { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.TRADE_NOT_EXIST', sub_msg: '交易不存在' };
      }
      const content = JSON.stringify(answer);
      return c.body(`{"${key}":${content},"sign":"${rsa2Sign(content, this.alipay.privateKey)}"}`, 200, { 'content-type': 'text/html;charset=utf-8' });
    });
    return app;
  }

  /** Posts the notification signed as Alipay signs it; answers the hub's status and text (`success`). */
  async post(hubUrl: string, params: Record<string, string>): Promise<{ status: number; text: string }> {
    const signed = { ...params, sign: rsa2Sign(alipayContent(params), this.alipay.privateKey) };
    const res = await fetch(hubUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: new URLSearchParams(signed).toString() });
    this.posted++;
    return { status: res.status, text: await res.text() };
  }
}
