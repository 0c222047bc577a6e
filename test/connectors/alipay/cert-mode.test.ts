/**
 * Alipay public-key certificate mode (公钥证书) against the official Node SDK (alipay-sdk,
 * a devDependency): the SNs it computes for the same certificates, the parameters it puts
 * on a request, and its notification check, with self-made certificates (test/fixtures/alipay).
 */
import { AlipaySdk } from 'alipay-sdk';
import nock from 'nock';
import { createPrivateKey, verify } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/load.js';
import { alipay } from '../../../src/connectors/alipay/index.js';
import { alipayCertSn, alipayRootCertSn, certificateFacts } from '../../../src/connectors/alipay/cert-sn.js';
import { pemCertificates } from '../../../src/connectors/x509.js';
import { alipayContent } from '../../../src/connectors/alipay/sign.js';
import { generateKeySpec } from '../../../src/core/crypto.js';
import { ConfigError } from '../../../src/core/errors.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';
import { ALIPAY_FIXTURES, alipayCertMaterial, alipayFixture, signedGatewayAnswer } from '../../helpers/alipay-certs.js';
import { signedAlipayNotify } from '../../helpers/payment-signing.js';

const m = alipayCertMaterial();
const APP_ID = '2021000000000001';
const GATEWAY = 'https://openapi.alipay.com/gateway.do';
const sdk = new AlipaySdk({
  appId: APP_ID, privateKey: m.appPrivatePem, keyType: 'PKCS8',
  appCertContent: m.appCertificate, alipayPublicCertContent: m.alipayCertificate, alipayRootCertContent: m.alipayRootCertificate,
});
const credentials = { appId: APP_ID, privateKey: m.appPrivatePem, appCertificate: m.appCertificate, alipayCertificate: m.alipayCertificate, alipayRootCertificate: m.alipayRootCertificate };
const connector = (extra: Record<string, string> = {}) => alipay.create(testConnection({ name: 'ali', connector: 'alipay', baseUrl: GATEWAY, credentials: { ...credentials, ...extra } }), { logger: quietLogger });
const notify = (extra: Record<string, string> = {}) => ({
  notify_time: '2026-12-01 18:00:05', notify_id: '2026120100222180005000000001', app_id: APP_ID, trade_no: '2026120122001400000000000001',
  out_trade_no: '1001', trade_status: 'TRADE_SUCCESS', total_amount: '20.00', receipt_amount: '20.00', gmt_payment: '2026-12-01 18:00:04', subject: '订单 1001', ...extra,
});
const formRequest = (body: string) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/ali', headers: { 'content-type': 'application/x-www-form-urlencoded' }, rawBody: Buffer.from(body) });

describe('alipay certificate SNs', () => {
  it('equal the official SDK\'s for the app certificate, the Alipay certificate and the root bundle', () => {
    expect(sdk.config.appCertSn).toMatch(/^[0-9a-f]{32}$/);
    expect(alipayCertSn(pemCertificates(m.appCertificate)[0])).toBe(sdk.config.appCertSn);
    expect(alipayCertSn(pemCertificates(m.alipayCertificate)[0])).toBe(sdk.config.alipayCertSn);
    expect(alipayRootCertSn(pemCertificates(m.alipayRootCertificate))).toBe(sdk.config.alipayRootCertSn);
  });

  it('take only the RSA-signed roots (sha256WithRSA, sha1WithRSA), skipping the EC one, in file order', () => {
    const roots = pemCertificates(m.alipayRootCertificate);
    expect(roots.map((c) => certificateFacts(c.raw).signatureOid)).toEqual(['1.2.840.113549.1.1.11', '1.2.840.10045.4.3.2', '1.2.840.113549.1.1.5']);
    expect(alipayRootCertSn(roots).split('_')).toEqual([alipayCertSn(roots[0]), alipayCertSn(roots[2])]);
    expect(() => alipayRootCertSn([roots[1]])).toThrow(/no certificate signed with an RSA algorithm/);
  });

  it('hash the issuer DN as Java\'s X500Principal.getName() writes it: last RDN first, RFC 2253 escapes, OIDs without a keyword as #hex', () => {
    // Issuer written by openssl as /C=CN/O=SyncHub Test, Ltd./OU=+Special <CA>/emailAddress=ca@example.com/CN=#Odd Test CA␠
    const facts = certificateFacts(pemCertificates(alipayFixture('odd-issuer.crt'))[0].raw);
    expect(facts.issuerName).toBe('CN=\\#Odd Test CA\\ ,1.2.840.113549.1.9.1=#160e6361406578616d706c652e636f6d,OU=\\+Special \\<CA\\>,O=SyncHub Test\\, Ltd.,C=CN');
    expect(facts.serial).toBe(0x99n);
    // Serials longer than 64 bits stay exact in decimal.
    expect(certificateFacts(pemCertificates(m.appCertificate)[0].raw).serial.toString(10)).toBe(BigInt('0x0a201908220031384201').toString(10));
  });
});

describe('alipay certificate mode on the gateway', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });
  const tradeQuery = { code: '10000', msg: 'Success', trade_no: '2026120122001400000000000002', out_trade_no: '1002', trade_status: 'TRADE_SUCCESS', total_amount: '20.00', send_pay_date: '2026-12-01 18:01:00' };

  it('signs app_cert_sn and alipay_root_cert_sn into every request, as the SDK does, and believes an answer signed under the configured certificate', async () => {
    let sent: Record<string, string> = {};
    nock('https://openapi.alipay.com').post('/gateway.do', (b) => { sent = Object.fromEntries(new URLSearchParams(b)); return true; })
      .reply(200, signedGatewayAnswer('alipay.trade.query', tradeQuery, m.alipayPrivateKey, sdk.config.alipayCertSn), { 'content-type': 'text/html;charset=utf-8' });
    const page = await connector().pull('payment', { cursor: null, pageSize: 50, pendingOrders: async () => ['1002'] });
    expect(page.records).toEqual([expect.objectContaining({ out_trade_no: '1002', trade_status: 'TRADE_SUCCESS', total_amount: '20.00' })]);
    const sdkParams = Object.fromEntries(new URLSearchParams(sdk.sdkExecute('alipay.trade.query', { bizContent: { out_trade_no: '1002' } })));
    expect(sent).toMatchObject({ app_cert_sn: sdkParams.app_cert_sn, alipay_root_cert_sn: sdkParams.alipay_root_cert_sn, method: 'alipay.trade.query', sign_type: 'RSA2' });
    // The two SNs are part of the signed content, checked with the application certificate's key.
    expect(alipayContent(sent)).toContain(`alipay_root_cert_sn=${sdkParams.alipay_root_cert_sn}&app_cert_sn=${sdkParams.app_cert_sn}&app_id=`);
    expect(verify('sha256', Buffer.from(alipayContent(sent)), pemCertificates(m.appCertificate)[0].publicKey, Buffer.from(sent.sign, 'base64'))).toBe(true);
  });

  it('follows a reissued Alipay certificate: downloads the SN the answer names once, checks it against the root bundle, then believes the answer', async () => {
    const reissued = alipayFixture('alipayCertPublicKey_RSA2.reissued.crt');
    const newSn = alipayCertSn(pemCertificates(reissued)[0]);
    expect(newSn).not.toBe(sdk.config.alipayCertSn);
    const methods: string[] = [];
    nock('https://openapi.alipay.com').persist().post('/gateway.do', (b) => { methods.push(new URLSearchParams(b).get('method')!); return true; })
      .reply((_uri, body) => {
        const p = new URLSearchParams(body as string);
        if (p.get('method') === 'alipay.open.app.alipaycert.download') {
          expect(JSON.parse(p.get('biz_content')!)).toEqual({ alipay_cert_sn: newSn });
          return [200, signedGatewayAnswer('alipay.open.app.alipaycert.download', { code: '10000', msg: 'Success', alipay_cert_content: Buffer.from(reissued).toString('base64') }, m.alipayPrivateKey, newSn)];
        }
        return [200, signedGatewayAnswer('alipay.trade.query', tradeQuery, m.alipayPrivateKey, newSn)];
      });
    const c = connector();
    for (let i = 0; i < 2; i++) {
      const page = await c.pull('payment', { cursor: null, pageSize: 50, pendingOrders: async () => ['1002'] });
      expect(page.records).toEqual([expect.objectContaining({ out_trade_no: '1002' })]);
    }
    expect(methods).toEqual(['alipay.trade.query', 'alipay.open.app.alipaycert.download', 'alipay.trade.query']);
  });

  it('refuses an answer under an unknown SN whose certificate does not chain to the root bundle, naming both SNs', async () => {
    const untrusted = alipayFixture('alipayCertPublicKey_RSA2.untrusted.crt');
    const sn = alipayCertSn(pemCertificates(untrusted)[0]);
    nock('https://openapi.alipay.com').persist().post('/gateway.do').reply((_uri, body) => {
      const p = new URLSearchParams(body as string);
      return p.get('method') === 'alipay.open.app.alipaycert.download'
        ? [200, signedGatewayAnswer('alipay.open.app.alipaycert.download', { code: '10000', msg: 'Success', alipay_cert_content: Buffer.from(untrusted).toString('base64') }, m.alipayPrivateKey, sn)]
        : [200, signedGatewayAnswer('alipay.trade.query', tradeQuery, m.alipayPrivateKey, sn)];
    });
    const err = await connector().pull('payment', { cursor: null, pageSize: 50, pendingOrders: async () => ['1002'] }).catch((e: Error) => e);
    expect((err as Error).message).toContain(`alipay_cert_sn ${sn}, the configured credentials.alipayCertificate is ${sdk.config.alipayCertSn}`);
    expect((err as Error).message).toMatch(/not trusted: no trusted issuer of "C=CN, O=SyncHub Test, OU=Certification Authority, CN=SyncHub Test Class 2 R1"/);

    nock.cleanAll();
    nock('https://openapi.alipay.com').persist().post('/gateway.do').reply((_uri, body) => new URLSearchParams(body as string).get('method') === 'alipay.open.app.alipaycert.download'
      ? [200, signedGatewayAnswer('alipay.open.app.alipaycert.download', { code: '40004', msg: 'Business Failed', sub_code: 'CERT_NOT_EXIST', sub_msg: '证书不存在' }, m.alipayPrivateKey)]
      : [200, signedGatewayAnswer('alipay.trade.query', tradeQuery, m.alipayPrivateKey, 'ffffffffffffffffffffffffffffffff')]);
    await expect(connector().pull('payment', { cursor: null, pageSize: 50, pendingOrders: async () => ['1002'] })).rejects.toThrow(/could not be downloaded \(alipay.open.app.alipaycert.download 40004 CERT_NOT_EXIST/);
  });
});

describe('alipay certificate mode notifications', () => {
  it('verifies with the key of the Alipay public-key certificate, as the SDK\'s checkNotifySignV2 does', async () => {
    const body = signedAlipayNotify(notify(), m.alipayPrivateKey);
    expect(sdk.checkNotifySignV2(Object.fromEntries(new URLSearchParams(body)))).toBe(true);
    const d = await connector().webhooks!.verify(formRequest(body));
    expect(d.events).toEqual([expect.objectContaining({ id: '2026120100222180005000000001', entity: 'payment' })]);
    // Signed with the application key instead: refused by both.
    const forged = signedAlipayNotify(notify(), createPrivateKey(m.appPrivatePem));
    expect(sdk.checkNotifySignV2(Object.fromEntries(new URLSearchParams(forged)))).toBe(false);
    expect(() => connector().webhooks!.verify(formRequest(forged))).toThrow(/does not match/);
  });
});

describe('alipay credentials in hub.yaml', () => {
  const file = (name: string) => `\${file:${path.join(ALIPAY_FIXTURES, name)}}`;
  const problems = (creds: Record<string, string>): string[] => {
    try {
      buildConfig({ encryption: { keys: generateKeySpec('k1') }, connections: { ali: { connector: 'alipay', credentials: { appId: APP_ID, privateKey: file('app.key'), ...creds } } }, pipelines: {} }, '/tmp/hub.yaml', { env: {} });
      return [];
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
  };
  const certs = { appCertificate: file('appCertPublicKey.crt'), alipayCertificate: file('alipayCertPublicKey_RSA2.crt'), alipayRootCertificate: file('alipayRootCert.crt') };

  it('takes certificate mode from ${file:…} PEMs, and public-key mode as before', () => {
    expect(problems(certs)).toEqual([]);
    expect(problems({ alipayPublicKey: pemCertificates(m.alipayCertificate)[0].publicKey.export({ type: 'spki', format: 'pem' }).toString() })).toEqual([]);
  });

  it('names the path of each wrong combination or certificate', () => {
    expect(problems({ appCertificate: certs.appCertificate })).toEqual(expect.arrayContaining([expect.stringMatching(/^connections\.ali\.credentials.*alipayCertificate/)]));
    expect(problems({ ...certs, alipayPublicKey: 'MIIB' })).toEqual([expect.stringMatching(/^connections\.ali\.credentials\.alipayPublicKey: set either alipayPublicKey \(public-key mode\) or appCertificate/)]);
    expect(problems({})).toEqual([expect.stringMatching(/^connections\.ali\.credentials: set alipayPublicKey \(public-key mode\) or appCertificate, alipayCertificate and alipayRootCertificate/)]);
    expect(problems({ ...certs, appCertificate: certs.alipayCertificate })).toEqual(['connections.ali.credentials.appCertificate: is not the certificate of credentials.privateKey (download the application certificate made from this key)']);
    expect(problems({ ...certs, alipayCertificate: file('alipayCertPublicKey_RSA2.untrusted.crt') })).toEqual([expect.stringMatching(/^connections\.ali\.credentials\.alipayCertificate: does not chain to credentials\.alipayRootCertificate/)]);
    expect(problems({ ...certs, alipayRootCertificate: 'not a certificate' })).toEqual([expect.stringMatching(/^connections\.ali\.credentials\.alipayRootCertificate: not a usable PEM certificate \(no PEM certificate/)]);
  });
});
