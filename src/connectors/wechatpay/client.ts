import type { KeyObject } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient } from '../http.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';
import { privateKeyOf, wechatAuthorization } from './crypto.js';
import { openCertificateList, type PlatformCertificate } from './certificates.js';
import { checkWechatSignature, WechatpayKeySet } from './keys.js';

/**
 * Reconciliation: `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…` for the
 * orders the hub still sees unpaid past `pendingAgeMs`, each request signed with the
 * merchant key and each answer's signature checked with the key its Wechatpay-Serial names.
 * Holding a WeChat Pay public key, each request names it in Wechatpay-Serial, so WeChat Pay
 * signs the answer with it (without the header, answers are signed with the platform certificate).
 */
export class WechatpayClient {
  readonly http: HttpClient;
  private readonly privateKey: KeyObject;

  constructor(private readonly conn: Connection, private readonly ctx: ConnectorContext, private readonly keys: WechatpayKeySet) {
    this.privateKey = privateKeyOf(conn.credentials.privateKey);
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
    const url = `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(this.conn.credentials.mchId)}`;
    const text = await this.signedGet(url, `the answer for ${outTradeNo}`, this.keys, signal);
    return text === null ? null : JSON.parse(text) as Record<string, unknown>;
  }

  /**
   * `GET /v3/certificates` (下载平台证书): the platform certificates in use, each sealed with the
   * APIv3 key. The answer may be signed by a certificate it brings, so it is verified with the
   * held keys and the ones it carries; those are trusted because only WeChat Pay and the merchant
   * hold the APIv3 key that sealed them (AES-256-GCM authenticates).
   */
  async downloadCertificates(signal?: AbortSignal): Promise<PlatformCertificate[]> {
    let certificates: PlatformCertificate[] = [];
    await this.signedGet('/v3/certificates', 'the platform certificate list', (body) => {
      certificates = openCertificateList(body, this.conn.credentials.apiV3Key);
      const keys = new WechatpayKeySet(this.keys.entries());
      for (const c of certificates) keys.add(c.serial, c.publicKey);
      return keys;
    }, signal);
    return certificates;
  }

  /** A signed GET whose answer must be signed by a key of `keys` (or of the set built from the body); null on 404. */
  private async signedGet(url: string, what: string, keys: WechatpayKeySet | ((body: string) => WechatpayKeySet), signal?: AbortSignal): Promise<string | null> {
    const { mchId, serialNo } = this.conn.credentials;
    const res = await this.http.request<string>({
      method: 'GET', url, signal, accept: [404], rawText: true,
      headers: {
        authorization: wechatAuthorization({ mchId, serialNo, privateKey: this.privateKey, method: 'GET', url, body: '' }),
        ...(this.keys.publicKeyId ? { 'wechatpay-serial': this.keys.publicKeyId } : {}),
      },
    });
    if (res.status === 404) return null;
    const text = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
    const h = res.headers;
    const check = checkWechatSignature(typeof keys === 'function' ? keys(text) : keys, { timestamp: h['wechatpay-timestamp'], nonce: h['wechatpay-nonce'], signature: h['wechatpay-signature'], serial: h['wechatpay-serial'] }, text);
    if (!check.ok) {
      // WeChat Pay probes answers too: refused like any bad signature, noted as what it is.
      if (check.reason === 'probe') this.ctx.logger.info({ connection: this.conn.name, url: url.split('?')[0] }, 'WeChat Pay signature probe on an API answer refused');
      throw new RemoteRejectedError(`${this.conn.name}: ${what} is refused: ${check.message}`);
    }
    return text;
  }

  fetch(entity: Entity, id: string): Promise<unknown | null> {
    throw new NotSupportedError(`wechatpay fetch of ${entity} ${id}: notifications carry the whole record`);
  }

  push(entity: Entity, _items: PushItem[]): Promise<PushOutcome[]> {
    throw new NotSupportedError(`wechatpay push of ${entity} (payment results are read, not written)`);
  }
}
