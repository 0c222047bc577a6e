import type { KeyObject } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient } from '../http.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';
import { alipayContent, alipayKey, rsa2Sign, rsa2Verify } from './sign.js';

/** `yyyy-MM-dd HH:mm:ss` in Beijing time, as the gateway wants its timestamp. */
function beijingTime(now = Date.now()): string {
  return new Date(now + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);
}

/**
 * Reconciliation: `alipay.trade.query` (a signed v2 gateway request) for the orders the
 * hub still sees unpaid past `pendingAgeMs`; each answer becomes a record shaped like a
 * notification, so the same mapping reads both.
 */
export class AlipayClient {
  readonly http: HttpClient;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    this.privateKey = alipayKey(conn.credentials.privateKey, 'private');
    this.publicKey = alipayKey(conn.credentials.alipayPublicKey, 'public');
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

  /** One signed gateway call; the answer's own signature is checked before it is believed. */
  async query(outTradeNo: string, signal?: AbortSignal): Promise<Record<string, string> | null> {
    const method = 'alipay.trade.query';
    const params: Record<string, string> = {
      app_id: this.conn.credentials.appId, method, format: 'JSON', charset: 'utf-8', sign_type: 'RSA2',
      timestamp: beijingTime(), version: '1.0', biz_content: JSON.stringify({ out_trade_no: outTradeNo }),
    };
    params.sign = rsa2Sign(alipayContent(params), this.privateKey);
    const res = await this.http.request<string>({ method: 'POST', url: '', data: new URLSearchParams(params).toString(), signal, rawText: true, headers: { accept: 'application/json' } });
    const text = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
    const key = `${method.replace(/\./g, '_')}_response`;
    const m = signedResponse(text, key);
    if (!m || !rsa2Verify(m.content, m.sign, this.publicKey)) throw new RemoteRejectedError(`${this.conn.name}: the ${method} answer is unsigned or its signature does not match`);
    const body = JSON.parse(m.content) as Record<string, string>;
    if (body.code === '40004' && body.sub_code === 'ACQ.TRADE_NOT_EXIST') return null;
    if (body.code !== '10000') throw new RemoteRejectedError(`${this.conn.name}: ${method} ${body.code} ${body.sub_code ?? ''}: ${body.sub_msg ?? body.msg}`);
    return {
      notify_id: `query:${body.trade_no}:${body.trade_status}`, app_id: this.conn.credentials.appId, trade_no: body.trade_no, out_trade_no: body.out_trade_no,
      trade_status: body.trade_status, total_amount: body.total_amount, ...(body.send_pay_date ? { gmt_payment: body.send_pay_date } : {}),
      notify_time: beijingTime(), source: 'alipay.trade.query',
    };
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
export function signedResponse(text: string, key: string): { content: string; sign: string } | null {
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
  i = skipSpace(end);
  if (text[i] !== ',') return null;
  i = skipSpace(i + 1);
  if (!text.startsWith('"sign"', i)) return null;
  i = skipSpace(i + 6);
  if (text[i] !== ':') return null;
  i = skipSpace(i + 1);
  if (text[i] !== '"') return null;
  const close = text.indexOf('"', i + 1);
  if (close <= i + 1) return null;
  return { content: text.slice(start, end), sign: text.slice(i + 1, close) };
}
