import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient } from '../http.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';
import type { AlipayKeys } from './keys.js';
import { alipayContent, rsa2Sign, rsa2Verify } from './sign.js';

/** A downloaded certificate file is a few kilobytes; anything far larger is not one. */
const MAX_CERT_CONTENT = 64 * 1024;

/** `yyyy-MM-dd HH:mm:ss` in Beijing time, as the gateway wants its timestamp. */
export function beijingTime(now = Date.now()): string {
  return new Date(now + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);
}

/**
 * Reconciliation: `alipay.trade.query` (a signed v2 gateway request) for the orders the
 * hub still sees unpaid past `pendingAgeMs`; each answer becomes a record shaped like a
 * notification, so the same mapping reads both.
 */
export class AlipayClient {
  readonly http: HttpClient;

  constructor(private readonly conn: Connection, private readonly ctx: ConnectorContext, private readonly keys: AlipayKeys) {
    this.http = new HttpClient({
      connection: conn.name, baseURL: conn.baseUrl!, settings: conn.http, logger: ctx.logger,
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
    });
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    if (entity !== 'payment') throw new NotSupportedError(`alipay ${entity}`);
    if (!req.pendingOrders) return { records: [], cursor: null, done: true };
    const age = Number(this.conn.options.pendingAgeMs ?? 15 * 60_000);
    const numbers = await req.pendingOrders(age, Math.min(req.pageSize, 200));
    const records: Record<string, string>[] = [];
    for (const outTradeNo of numbers) {
      const r = await this.query(outTradeNo, req.signal);
      if (r) records.push(r);
    }
    return { records, cursor: null, done: true };
  }

  /** `alipay.trade.query` for one order, as a record shaped like a notification (null: no such trade). */
  async query(outTradeNo: string, signal?: AbortSignal): Promise<Record<string, string> | null> {
    const method = 'alipay.trade.query';
    const body = await this.gateway(method, { out_trade_no: outTradeNo }, signal);
    if (body.code === '40004' && body.sub_code === 'ACQ.TRADE_NOT_EXIST') return null;
    if (body.code !== '10000') throw new RemoteRejectedError(`${this.conn.name}: ${method} ${body.code} ${body.sub_code ?? ''}: ${body.sub_msg ?? body.msg}`);
    return {
      notify_id: `query:${body.trade_no}:${body.trade_status}`, app_id: this.conn.credentials.appId, trade_no: body.trade_no, out_trade_no: body.out_trade_no,
      trade_status: body.trade_status, total_amount: body.total_amount, ...(body.send_pay_date ? { gmt_payment: body.send_pay_date } : {}),
      notify_time: beijingTime(), source: 'alipay.trade.query',
    };
  }

  /**
   * One signed gateway call (certificate mode adds `app_cert_sn` and `alipay_root_cert_sn`
   * to the signed parameters); the answer's own signature is checked, with the key of the
   * `alipay_cert_sn` it names, before it is believed.
   */
  private async gateway(method: string, biz: Record<string, string>, signal?: AbortSignal): Promise<Record<string, string>> {
    const m = await this.send(method, biz, signal);
    const key = await this.keys.answerKey(m.certSn, (sn) => this.downloadAlipayCertificate(sn, signal), this.ctx.logger, this.conn.name);
    if (!rsa2Verify(m.content, m.sign, key)) throw new RemoteRejectedError(`${this.conn.name}: the ${method} answer's signature does not match`);
    return JSON.parse(m.content) as Record<string, string>;
  }

  private async send(method: string, biz: Record<string, string>, signal?: AbortSignal) {
    const params: Record<string, string> = {
      app_id: this.conn.credentials.appId, method, format: 'JSON', charset: 'utf-8', sign_type: 'RSA2',
      timestamp: beijingTime(), version: '1.0', ...this.keys.requestParams(), biz_content: JSON.stringify(biz),
    };
    params.sign = rsa2Sign(alipayContent(params), this.keys.privateKey);
    const res = await this.http.request<string>({ method: 'POST', url: '', data: new URLSearchParams(params).toString(), signal, rawText: true, headers: { accept: 'application/json' } });
    const text = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
    const m = signedResponse(text, `${method.replace(/\./g, '_')}_response`);
    if (!m) throw new RemoteRejectedError(`${this.conn.name}: the ${method} answer is unsigned or its signature does not match`);
    return m;
  }

  /**
   * `alipay.open.app.alipaycert.download`: the PEM of the Alipay certificate an answer named,
   * base64 in `alipay_cert_content`. Its answer is signed under that new certificate, so what
   * makes it trusted is the check against the configured root certificate (AlipayKeys.answerKey).
   */
  private async downloadAlipayCertificate(alipayCertSn: string, signal?: AbortSignal): Promise<string> {
    const method = 'alipay.open.app.alipaycert.download';
    const m = await this.send(method, { alipay_cert_sn: alipayCertSn }, signal);
    const body = JSON.parse(m.content) as Record<string, string>;
    if (body.code !== '10000' || typeof body.alipay_cert_content !== 'string') throw new Error(`${method} ${body.code} ${body.sub_code ?? ''} ${body.sub_msg ?? body.msg ?? ''}`.trim());
    if (body.alipay_cert_content.length > MAX_CERT_CONTENT) throw new Error(`${method}: alipay_cert_content is larger than ${MAX_CERT_CONTENT} characters`);
    return Buffer.from(body.alipay_cert_content, 'base64').toString('utf8');
  }

  fetch(entity: Entity, id: string): Promise<unknown | null> {
    throw new NotSupportedError(`alipay fetch of ${entity} ${id}: notifications carry the whole record`);
  }

  push(entity: Entity, _items: PushItem[]): Promise<PushOutcome[]> {
    throw new NotSupportedError(`alipay push of ${entity} (payment results are read, not written)`);
  }
}

/**
 * The signed part of a gateway answer, byte for byte: `{"<method>_response": {…}, "sign": "…"}`
 * is signed over the exact text of the `{…}` object, so it is cut out of the text rather than
 * re-serialised. One linear scan (strings and nesting followed), where a lazy regex was
 * quadratic on repeated keys and could stop at a `}` inside a string.
 */
export function signedResponse(text: string, key: string): { content: string; sign: string; certSn?: string } | null {
  const skipSpace = (i: number) => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
    return i;
  };
  let i = text.indexOf(`"${key}"`);
  if (i < 0) return null;
  i = skipSpace(i + key.length + 2);
  if (text[i] !== ':') return null;
  const start = skipSpace(i + 1);
  if (text[start] !== '{') return null;
  let depth = 0;
  let end = -1;
  for (let j = start; j < text.length && end < 0; j++) {
    const c = text[j];
    if (c === '"') {
      for (j++; j < text.length && text[j] !== '"'; j++) if (text[j] === '\\') j++;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) end = j + 1;
  }
  if (end < 0) return null;
  // The siblings (`sign`, and `alipay_cert_sn` in certificate mode) are read with a real parser.
  let whole: { sign?: unknown; alipay_cert_sn?: unknown };
  try {
    whole = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof whole?.sign !== 'string' || !whole.sign) return null;
  return { content: text.slice(start, end), sign: whole.sign, ...(typeof whole.alipay_cert_sn === 'string' ? { certSn: whole.alipay_cert_sn } : {}) };
}
