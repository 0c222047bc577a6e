import type { KeyObject } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient } from '../http.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';
import { privateKeyOf, publicKeyOf, wechatAuthorization, wechatMessage, wechatVerify } from './crypto.js';

/**
 * Reconciliation: `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…` for the
 * orders the hub still sees unpaid past `pendingAgeMs`, each request signed with the
 * merchant key and each answer's signature checked with the platform key.
 */
export class WechatpayClient {
  readonly http: HttpClient;
  private readonly privateKey: KeyObject;
  private readonly platformKey: KeyObject;

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    this.privateKey = privateKeyOf(conn.credentials.privateKey);
    this.platformKey = publicKeyOf(conn.credentials.platformPublicKey);
    this.http = new HttpClient({
      connection: conn.name, baseURL: conn.baseUrl!, settings: conn.http, logger: ctx.logger,
      headers: { accept: 'application/json' },
      describeError: (res) => {
        const d = res.data as { code?: string; message?: string } | undefined;
        return d?.code ? `${d.code}: ${d.message ?? ''}` : undefined;
      },
    });
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    if (entity !== 'payment') throw new NotSupportedError(`wechatpay ${entity}`);
    if (!req.pendingOrders) return { records: [], cursor: null, done: true };
    const numbers = await req.pendingOrders(Number(this.conn.options.pendingAgeMs ?? 15 * 60_000), Math.min(req.pageSize, 200));
    const records: Record<string, unknown>[] = [];
    for (const outTradeNo of numbers) {
      const r = await this.query(outTradeNo, req.signal);
      if (r) records.push({ event_type: 'QUERY', create_time: new Date().toISOString(), ...r });
    }
    return { records, cursor: null, done: true };
  }

  async query(outTradeNo: string, signal?: AbortSignal): Promise<Record<string, unknown> | null> {
    const { mchId, serialNo } = this.conn.credentials;
    const url = `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(mchId)}`;
    const res = await this.http.request<string>({
      method: 'GET', url, signal, accept: [404], rawText: true,
      headers: { authorization: wechatAuthorization({ mchId, serialNo, privateKey: this.privateKey, method: 'GET', url, body: '' }) },
    });
    if (res.status === 404) return null;
    const text = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
    const h = res.headers;
    if (!h['wechatpay-signature'] || !wechatVerify(wechatMessage(h['wechatpay-timestamp'] ?? '', h['wechatpay-nonce'] ?? '', text), h['wechatpay-signature'], this.platformKey)) {
      throw new RemoteRejectedError(`${this.conn.name}: the answer for ${outTradeNo} is unsigned or its signature does not match the platform key`);
    }
    return JSON.parse(text) as Record<string, unknown>;
  }

  fetch(entity: Entity, id: string): Promise<unknown | null> {
    throw new NotSupportedError(`wechatpay fetch of ${entity} ${id}: notifications carry the whole record`);
  }

  push(entity: Entity, _items: PushItem[]): Promise<PushOutcome[]> {
    throw new NotSupportedError(`wechatpay push of ${entity} (payment results are read, not written)`);
  }
}
