import nock from 'nock';
import { readFileSync } from 'node:fs';
import { createCipheriv, createPrivateKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { wechatpay } from '../../../src/connectors/wechatpay/index.js';
import { openCertificateList, PlatformCertificateRefresh } from '../../../src/connectors/wechatpay/certificates.js';
import { WechatpayClient } from '../../../src/connectors/wechatpay/client.js';
import { WechatpayKeySet } from '../../../src/connectors/wechatpay/keys.js';
import { WebhookProbeError, type ConfigError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/core/logger.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { eventually, quietLogger, testConfig } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';
import { rsaKeys, signedWechatNotify } from '../../helpers/payment-signing.js';

const merchant = rsaKeys();
const platform = rsaKeys();
const API_V3_KEY = randomBytes(16).toString('hex');
const SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
/** The old single-key form: one platform key and its serial. */
function connector() {
  return wechatpay.create(connector.connection, { logger: quietLogger });
}
connector.connection = testConnection({ name: 'wx', connector: 'wechatpay', baseUrl: 'https://api.mch.weixin.qq.com', credentials: {
  mchId: '1900000109', serialNo: '408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB', privateKey: merchant.privatePem, apiV3Key: API_V3_KEY, platformPublicKey: platform.publicPem, platformSerial: SERIAL,
} });
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
    expect(() => h.verify(req(signed({ serial: 'OTHER' })))).toThrow(/Wechatpay-Serial OTHER is not one of this connection's keys/);
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

    nock('https://api.mch.weixin.qq.com').get('/v3/pay/transactions/out-trade-no/1003').query(true).reply(200, body, { 'wechatpay-timestamp': ts, 'wechatpay-nonce': 'abc', 'wechatpay-signature': 'forged', 'wechatpay-serial': SERIAL, 'content-type': 'application/json' });
    await expect(connector().pull('payment', { cursor: null, pageSize: 10, pendingOrders: async () => ['1003'] })).rejects.toThrow(/Wechatpay-Signature does not match/);
  });
});

// WeChat Pay's switch from platform certificates to the WeChat Pay public key: for seven days
// callbacks are signed at random by either, each naming its key in Wechatpay-Serial.
const PUBLIC_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000000000';
const CERT_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const certPem = readFileSync('test/fixtures/wechatpay/platform-cert.pem', 'utf8');
const certKey = createPrivateKey(readFileSync('test/fixtures/wechatpay/platform-cert.key.pem', 'utf8'));
const wxPublicKey = rsaKeys();
const switchingCredentials = (extra: Record<string, unknown> = {}) => ({
  mchId: '1900000109', serialNo: '408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB', privateKey: merchant.privatePem, apiV3Key: API_V3_KEY,
  platformKeys: { [CERT_SERIAL]: certPem, [PUBLIC_KEY_ID]: wxPublicKey.publicPem }, ...extra,
});
const switchingConnection = (extra: Record<string, unknown> = {}) =>
  testConnection({ name: 'wx', connector: 'wechatpay', baseUrl: 'https://api.mch.weixin.qq.com', credentials: switchingCredentials(extra) as never });

describe('wechatpay verification keys by serial (platformKeys)', () => {
  const h = wechatpay.create(switchingConnection(), { logger: quietLogger }).webhooks!;
  const notify = (id: string, by: 'certificate' | 'public key', extra: Partial<Parameters<typeof signedWechatNotify>[0]> = {}) =>
    signedWechatNotify({
      id, eventType: 'TRANSACTION.SUCCESS', resource: transaction({ out_trade_no: id }), apiV3Key: API_V3_KEY,
      ...(by === 'certificate' ? { platformPrivate: certKey, serial: CERT_SERIAL } : { platformPrivate: wxPublicKey.privateKey, serial: PUBLIC_KEY_ID }), ...extra,
    });

  it('accepts callbacks signed at random by the platform certificate or the WeChat Pay public key, each checked with the key its serial names', async () => {
    const bys = Array.from({ length: 24 }, (_, i) => (i < 2 ? (['certificate', 'public key'] as const)[i] : Math.random() < 0.5 ? 'certificate' : 'public key'));
    for (const [i, by] of bys.entries()) {
      const d = await h.verify(req(notify(`EV-${i}`, by)));
      expect(d.events).toEqual([expect.objectContaining({ id: `EV-${i}`, record: expect.objectContaining({ out_trade_no: `EV-${i}` }) })]);
    }
  });

  it('refuses a signature by one key under the serial of the other', () => {
    expect(() => h.verify(req(notify('EV-x', 'certificate', { serial: PUBLIC_KEY_ID })))).toThrow(/does not match/);
    expect(() => h.verify(req(notify('EV-y', 'public key', { serial: CERT_SERIAL })))).toThrow(/does not match/);
  });

  it('refuses an unknown serial as a signature failure (401) whose message names the serial', () => {
    const err = (() => { try { h.verify(req(notify('EV-z', 'public key', { serial: 'PUB_KEY_ID_0999999999999999999999999999999999' }))); } catch (e) { return e as Error & { code: string }; } })();
    expect(err?.code).toBe('webhook_signature');
    expect(err?.message).toMatch(/Wechatpay-Serial PUB_KEY_ID_0999999999999999999999999999999999 is not one of this connection's keys/);
  });

  it('refuses a signature probe (WECHATPAY/SIGNTEST/…) as a signature failure marked as a probe', () => {
    const n = notify('EV-p', 'public key');
    const probe = { ...n.headers, 'wechatpay-signature': `WECHATPAY/SIGNTEST/${n.headers['wechatpay-signature']}` };
    const err = (() => { try { h.verify(req({ body: n.body, headers: probe })); } catch (e) { return e as Error & { code: string }; } })();
    expect(err).toBeInstanceOf(WebhookProbeError);
    expect(err?.code).toBe('webhook_signature');
    expect(err?.message).toMatch(/signature probe/);
  });

  it('keeps the old single platformSerial / platformPublicKey form working, beside platformKeys or alone', async () => {
    const OLD = '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C';
    const both = wechatpay.create(switchingConnection({ platformSerial: OLD, platformPublicKey: platform.publicPem }), { logger: quietLogger }).webhooks!;
    await expect(Promise.resolve(both.verify(req(signedWechatNotify({ id: 'EV-o', eventType: 'TRANSACTION.SUCCESS', resource: transaction(), apiV3Key: API_V3_KEY, platformPrivate: platform.privateKey, serial: OLD }))))).resolves.toBeTruthy();
    await expect(Promise.resolve(both.verify(req(notify('EV-n', 'public key'))))).resolves.toBeTruthy();
    expect(wechatpay.check!(connector.connection)).toEqual([]);
  });
});

describe('wechatpay credentials check', () => {
  const check = (extra: Record<string, unknown>) => wechatpay.check!(switchingConnection(extra));
  it('accepts public keys and platform certificates by serial', () => {
    expect(check({})).toEqual([]);
  });
  it('names the path of each key that does not parse, is private, or is a certificate of another serial', () => {
    expect(check({ platformKeys: { [PUBLIC_KEY_ID]: 'not a pem', [CERT_SERIAL]: certPem } })).toEqual([
      expect.stringMatching(new RegExp(`^credentials\\.platformKeys\\.${PUBLIC_KEY_ID}: not a PEM public key or certificate`)),
    ]);
    expect(check({ platformKeys: { [PUBLIC_KEY_ID]: merchant.privatePem } })).toEqual([
      expect.stringMatching(new RegExp(`^credentials\\.platformKeys\\.${PUBLIC_KEY_ID}: is a private key`)),
    ]);
    expect(check({ platformKeys: { '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C': certPem } })).toEqual([
      expect.stringMatching(/^credentials\.platformKeys\.1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C: the certificate's serial is 5157F09EFDC096DE15EBE81A47057A7232F1B8E1/),
    ]);
  });
  it('needs platformKeys or platformSerial with platformPublicKey', () => {
    expect(check({ platformKeys: undefined })).toEqual([expect.stringMatching(/^credentials: needs platformKeys/)]);
    expect(check({ platformKeys: undefined, platformSerial: SERIAL })).toEqual([expect.stringMatching(/^credentials: platformSerial and platformPublicKey go together/)]);
  });
  it('refuses platformSerial naming a platformKeys entry with another key', () => {
    expect(check({ platformSerial: CERT_SERIAL, platformPublicKey: wxPublicKey.publicPem })).toEqual([
      expect.stringMatching(new RegExp(`^credentials\\.platformSerial: ${CERT_SERIAL} is also in platformKeys, with another key`)),
    ]);
    expect(check({ platformSerial: CERT_SERIAL, platformPublicKey: certPem })).toEqual([]);
  });
  it('holds at most one WeChat Pay public key (its id is sent as Wechatpay-Serial)', () => {
    expect(check({ platformKeys: { [PUBLIC_KEY_ID]: wxPublicKey.publicPem, PUB_KEY_ID_0114232134912410000000000000000001: wxPublicKey.publicPem } })).toEqual([
      expect.stringMatching(/^credentials\.platformKeys: more than one WeChat Pay public key/),
    ]);
  });
});

describe('wechatpay API answers verified by serial', () => {
  afterEach(() => nock.cleanAll());
  const body = JSON.stringify(transaction({ out_trade_no: '1004' }));
  const signedAnswer = (privateKey: KeyObject, serial: string, signature?: string) => {
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = signature ?? sign('sha256', Buffer.from(`${ts}\nn0nce\n${body}\n`), privateKey).toString('base64');
    return { 'wechatpay-timestamp': ts, 'wechatpay-nonce': 'n0nce', 'wechatpay-signature': sig, 'wechatpay-serial': serial, 'content-type': 'application/json' };
  };
  const query = (conn = switchingConnection()) => wechatpay.create(conn, { logger: quietLogger }).pull('payment', { cursor: null, pageSize: 10, pendingOrders: async () => ['1004'] });

  it('sends the WeChat Pay public key id as Wechatpay-Serial and accepts answers signed by either key it holds', async () => {
    const sent: string[] = [];
    for (const [key, serial] of [[wxPublicKey.privateKey, PUBLIC_KEY_ID], [certKey, CERT_SERIAL]] as const) {
      nock('https://api.mch.weixin.qq.com').get('/v3/pay/transactions/out-trade-no/1004').query({ mchid: '1900000109' })
        .reply(function () { sent.push(String(this.req.headers['wechatpay-serial'])); return [200, body, signedAnswer(key, serial)]; });
      expect((await query()).records).toEqual([expect.objectContaining({ out_trade_no: '1004' })]);
    }
    expect(sent).toEqual([PUBLIC_KEY_ID, PUBLIC_KEY_ID]);
  });

  it('refuses an answer whose serial it does not hold, naming the serial, and an answer that is a signature probe', async () => {
    nock('https://api.mch.weixin.qq.com').get('/v3/pay/transactions/out-trade-no/1004').query(true).reply(200, body, signedAnswer(wxPublicKey.privateKey, 'PUB_KEY_ID_0777'));
    await expect(query()).rejects.toThrow(/Wechatpay-Serial PUB_KEY_ID_0777 is not one of this connection's keys/);
    nock('https://api.mch.weixin.qq.com').get('/v3/pay/transactions/out-trade-no/1004').query(true).reply(200, body, signedAnswer(wxPublicKey.privateKey, PUBLIC_KEY_ID, 'WECHATPAY/SIGNTEST/abc'));
    await expect(query()).rejects.toThrow(/signature probe/);
    nock('https://api.mch.weixin.qq.com').get('/v3/pay/transactions/out-trade-no/1004').query(true).reply(200, body, signedAnswer(certKey, PUBLIC_KEY_ID));
    await expect(query()).rejects.toThrow(/does not match/);
  });

  it('with the old single platform certificate sends no Wechatpay-Serial (answers are then signed with the certificate)', async () => {
    let sent: string | undefined = 'unset';
    nock('https://api.mch.weixin.qq.com').get('/v3/pay/transactions/out-trade-no/1004').query(true)
      .reply(function () { sent = this.req.headers['wechatpay-serial'] as string | undefined; return [200, body, signedAnswer(platform.privateKey, SERIAL)]; });
    expect((await query(connector.connection)).records).toHaveLength(1);
    expect(sent).toBeUndefined();
  });
});

describe('wechatpay platform certificate download (downloadCertificates)', () => {
  afterEach(() => nock.cleanAll());
  const OLD_SERIAL = '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C';
  /** `encrypt_certificate` as WeChat Pay seals it: AES-256-GCM with the APIv3 key, 12-character nonce, AAD "certificate". */
  const sealed = (pem: string, key = API_V3_KEY) => {
    const nonce = randomBytes(6).toString('hex');
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'utf8'), Buffer.from(nonce, 'utf8'));
    cipher.setAAD(Buffer.from('certificate', 'utf8'));
    const ct = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return { algorithm: 'AEAD_AES_256_GCM', nonce, associated_data: 'certificate', ciphertext: ct.toString('base64') };
  };
  const list = (items: { serial: string; pem: string; key?: string }[]) => JSON.stringify({
    data: items.map((c) => ({ serial_no: c.serial, effective_time: '2026-11-30T10:34:56+08:00', expire_time: '2031-11-30T10:34:56+08:00', encrypt_certificate: sealed(c.pem, c.key) })),
  });
  const answer = (body: string, key: KeyObject, serial: string) => {
    const ts = String(Math.floor(Date.now() / 1000));
    return { 'wechatpay-timestamp': ts, 'wechatpay-nonce': 'n1', 'wechatpay-signature': sign('sha256', Buffer.from(`${ts}\nn1\n${body}\n`), key).toString('base64'), 'wechatpay-serial': serial, 'content-type': 'application/json' };
  };
  const oldOnly = (options: Record<string, unknown> = {}) => testConnection({ name: 'wx', connector: 'wechatpay', baseUrl: 'https://api.mch.weixin.qq.com', options, credentials: {
    mchId: '1900000109', serialNo: '408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB', privateKey: merchant.privatePem, apiV3Key: API_V3_KEY, platformPublicKey: platform.publicPem, platformSerial: OLD_SERIAL,
  } });
  const byNewCertificate = () => req(signedWechatNotify({ id: 'EV-new', eventType: 'TRANSACTION.SUCCESS', resource: transaction(), apiV3Key: API_V3_KEY, platformPrivate: certKey, serial: CERT_SERIAL }));
  const byOldCertificate = () => req(signedWechatNotify({ id: 'EV-old', eventType: 'TRANSACTION.SUCCESS', resource: transaction(), apiV3Key: API_V3_KEY, platformPrivate: platform.privateKey, serial: OLD_SERIAL }));

  it('downloads /v3/certificates at start, decrypts each with the APIv3 key and accepts callbacks from the new serial beside the old', async () => {
    const body = list([{ serial: CERT_SERIAL, pem: certPem }]);
    let auth = '';
    // The list is signed by the certificate it announces: verified with the keys it carries.
    nock('https://api.mch.weixin.qq.com').get('/v3/certificates').reply(function () { auth = String(this.req.headers.authorization); return [200, body, answer(body, certKey, CERT_SERIAL)]; });
    const withoutDownload = wechatpay.create(oldOnly(), { logger: quietLogger });
    expect(() => withoutDownload.webhooks!.verify(byNewCertificate())).toThrow(/Wechatpay-Serial 5157F09EFDC096DE15EBE81A47057A7232F1B8E1 is not one of this connection's keys/);

    const c = wechatpay.create(oldOnly({ downloadCertificates: true }), { logger: quietLogger });
    try {
      await eventually(() => { try { return Boolean(c.webhooks!.verify(byNewCertificate())); } catch { return false; } });
      expect(c.webhooks!.verify(byOldCertificate())).toBeTruthy();
      expect(auth).toMatch(/^WECHATPAY2-SHA256-RSA2048 mchid="1900000109",/);
    } finally {
      await c.close();
      await c.close();
    }
  });

  it('downloads again on its schedule and stops when closed', async () => {
    const keys = new WechatpayKeySet([[OLD_SERIAL, platform.publicKey]]);
    const first = JSON.stringify({ data: [] });
    const second = list([{ serial: CERT_SERIAL, pem: certPem }]);
    const scope = nock('https://api.mch.weixin.qq.com')
      .get('/v3/certificates').reply(200, first, answer(first, platform.privateKey, OLD_SERIAL))
      .get('/v3/certificates').reply(200, second, answer(second, platform.privateKey, OLD_SERIAL));
    const client = new WechatpayClient(oldOnly(), { logger: quietLogger }, keys);
    const refresh = new PlatformCertificateRefresh((signal) => client.downloadCertificates(signal), keys, quietLogger, 50);
    refresh.start();
    await eventually(() => keys.has(CERT_SERIAL));
    await refresh.close();
    expect(scope.isDone()).toBe(true);
    const calls: string[] = [];
    nock('https://api.mch.weixin.qq.com').get('/v3/certificates').reply(() => { calls.push('late'); return [500, '']; });
    await new Promise((r) => setTimeout(r, 150));
    expect(calls).toEqual([]);
  });

  it('keeps the held keys and logs a warning when the list cannot be opened or is not signed by a key it may trust', async () => {
    const lines: Record<string, any>[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (s: string) => { lines.push(JSON.parse(s)); } } });
    const keys = new WechatpayKeySet([[OLD_SERIAL, platform.publicKey]]);
    const client = new WechatpayClient(oldOnly(), { logger }, keys);
    const refresh = new PlatformCertificateRefresh((signal) => client.downloadCertificates(signal), keys, logger, 60_000);

    const wrongKey = list([{ serial: CERT_SERIAL, pem: certPem, key: randomBytes(16).toString('hex') }]);
    nock('https://api.mch.weixin.qq.com').get('/v3/certificates').reply(200, wrongKey, answer(wrongKey, certKey, CERT_SERIAL));
    await refresh.refresh();
    const unsignedByAnyKey = list([{ serial: CERT_SERIAL, pem: certPem }]);
    nock('https://api.mch.weixin.qq.com').get('/v3/certificates').reply(200, unsignedByAnyKey, answer(unsignedByAnyKey, merchant.privateKey, CERT_SERIAL));
    await refresh.refresh();
    await refresh.close();

    expect(keys.serials).toEqual([OLD_SERIAL]);
    expect(lines.filter((l) => l.level === 40).map((l) => l.err.message)).toEqual([
      expect.stringMatching(/platform certificate 5157F09EFDC096DE15EBE81A47057A7232F1B8E1: could not be decrypted with the APIv3 key/),
      expect.stringMatching(/the platform certificate list is refused: Wechatpay-Signature does not match/),
    ]);
    expect(JSON.stringify(lines)).not.toContain(API_V3_KEY);
  });

  it('refuses a certificate whose own serial is not the serial_no it is listed under', () => {
    expect(() => openCertificateList(list([{ serial: OLD_SERIAL, pem: certPem }]), API_V3_KEY)).toThrow(/the certificate's own serial is 5157F09EFDC096DE15EBE81A47057A7232F1B8E1/);
  });
});

describe('wechatpay platformKeys in a config file', () => {
  const raw = (platformKeys: Record<string, string>) => ({
    connections: { wx: { connector: 'wechatpay', credentials: { mchId: '1900000109', serialNo: 'M1', privateKey: merchant.privatePem, apiV3Key: API_V3_KEY, platformKeys } } },
    pipelines: {},
  });
  it('reads each key through ${file:…} and names the failing key\'s path at start-up', () => {
    const cfg = testConfig(raw({ [CERT_SERIAL]: '${file:wechatpay/platform-cert.pem}', [PUBLIC_KEY_ID]: wxPublicKey.publicPem }));
    expect(WechatpayKeySet.fromCredentials(cfg.connections.get('wx')!.credentials).serials).toEqual([CERT_SERIAL, PUBLIC_KEY_ID]);
    let problems: string[] = [];
    try { testConfig(raw({ [CERT_SERIAL]: '${file:wechatpay/platform-cert.pem}', [PUBLIC_KEY_ID]: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n' })); } catch (err) { problems = (err as ConfigError).problems; }
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^connections\\.wx\\.credentials\\.platformKeys\\.${PUBLIC_KEY_ID}: not a PEM public key or certificate`))]);
  });
});
