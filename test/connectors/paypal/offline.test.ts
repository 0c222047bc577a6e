/**
 * PayPal offline webhook verification (`webhookVerification: offline`): the certificate from
 * PAYPAL-CERT-URL, fetched only from PayPal's hosts (nock stands in for them) and checked up
 * to a test CA; the signature over id|time|webhookId|crc32(raw body). PayPal's
 * verify-webhook-signature is never asked (nock refuses any request not set up here).
 */
import nock from 'nock';
import { X509Certificate } from 'node:crypto';
import zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allowPaypalCertOriginForTests, certUrlProblem, signerChainProblem } from '../../../src/connectors/paypal/cert-store.js';
import { paypal } from '../../../src/connectors/paypal/index.js';
import { crc32 } from '../../../src/connectors/paypal/webhooks-offline.js';
import { pemCertificates } from '../../../src/connectors/x509.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';
import { PAYPAL_TEST_CA, paypalFixture, paypalSignedHeaders } from '../../helpers/paypal-certs.js';

const API = 'https://api-m.sandbox.paypal.com';
const CERT_HOST = 'https://api.sandbox.paypal.com';
const CERT_PATH = '/v1/notifications/certs/CERT-360caa42-fca2a594-ab66f33d';
const WEBHOOK_ID = '1JE4291016473214C';
const connector = (creds: Record<string, string> = {}) => paypal.create(testConnection({
  name: 'pp', connector: 'paypal', baseUrl: API, options: { webhookVerification: 'offline' },
  credentials: { clientId: 'AYSq3', clientSecret: 'EGnHD', webhookId: WEBHOOK_ID, webhookCaCertificates: PAYPAL_TEST_CA, ...creds },
}), { logger: quietLogger }).webhooks!;
// Re-serialising this body changes it (1.0, \u escapes, \/, spacing, key order): the CRC is over the bytes as sent.
const BODY = '{\n  "resource": {"id": "42311647XV020574X", "status": "COMPLETED", "amount": {"value": "20.00", "currency_code": "USD"}, "invoice_id": "1001"},\n'
  + '  "id": "WH-58D329510W468432D-8HN650336L201105X", "event_version": 1.0, "create_time": "2026-12-01T10:00:05.000Z",\n'
  + '  "event_type": "PAYMENT.CAPTURE.COMPLETED", "summary": "Paiement re\\u00e7u", "resource_type": "capture",\n'
  + '  "links": [{"href": "https:\\/\\/api.sandbox.paypal.com\\/v1\\/notifications\\/webhooks-events\\/WH-58D329510W468432D", "rel": "self"}]\n}';
const delivery = (body: string, headers: Record<string, string>) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/pp', headers, rawBody: Buffer.from(body) });
const signed = (over: { certUrl?: string; webhookId?: string; body?: string } = {}) => paypalSignedHeaders(over.body ?? BODY, { webhookId: over.webhookId ?? WEBHOOK_ID, certUrl: over.certUrl ?? `${CERT_HOST}${CERT_PATH}` });

describe('paypal offline verification', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('CRC-32 is java.util.zip.CRC32 over the bytes, as an unsigned decimal', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(3421780262);
    const bytes = Buffer.from(BODY, 'utf8');
    if (typeof (zlib as any).crc32 === 'function') expect(crc32(bytes)).toBe((zlib as any).crc32(bytes));
  });

  it('accepts a delivery signed over id|time|webhookId|crc32(raw body), fetching the certificate once per URL and never asking PayPal', async () => {
    const certs = nock(CERT_HOST).get(CERT_PATH).once().reply(200, paypalFixture('cert-chain.pem'), { 'content-type': 'application/x-pem-file' });
    const h = connector();
    for (const id of ['a1', 'a2']) {
      const d = await h.verify(delivery(BODY, { ...signed(), 'paypal-transmission-id': id, 'paypal-transmission-sig': paypalSignedHeaders(BODY, { webhookId: WEBHOOK_ID, certUrl: `${CERT_HOST}${CERT_PATH}`, transmissionId: id, time: '2026-12-01T10:00:06Z' })['paypal-transmission-sig'], 'paypal-transmission-time': '2026-12-01T10:00:06Z' }));
      expect(d.events).toEqual([expect.objectContaining({ id: 'WH-58D329510W468432D-8HN650336L201105X', entity: 'payment', topic: 'PAYMENT.CAPTURE.COMPLETED' })]);
    }
    expect(certs.isDone()).toBe(true);
  });

  it('refuses a changed body, another webhook id, a changed time and another algorithm (401)', async () => {
    nock(CERT_HOST).persist().get(CERT_PATH).reply(200, paypalFixture('cert-chain.pem'));
    const h = connector();
    const refused = async (body: string, headers: Record<string, string>) => {
      const err = await Promise.resolve(h.verify(delivery(body, headers))).then(() => null, (e: any) => e);
      expect(err?.code).toBe('webhook_signature');
      return err.message as string;
    };
    expect(await refused(BODY.replace('"20.00"', '"2000.00"'), signed())).toMatch(/does not match/);
    expect(await refused(BODY, signed({ webhookId: 'OTHERWEBHOOK' }))).toMatch(/does not match/);
    expect(await refused(BODY, { ...signed(), 'paypal-transmission-time': '2026-12-01T10:00:07Z' })).toMatch(/does not match/);
    expect(await refused(BODY, { ...signed(), 'paypal-auth-algo': 'SHA1withRSA' })).toMatch(/PAYPAL-AUTH-ALGO SHA1withRSA is not supported \(SHA256withRSA only\)/);
  });

  it('checks PAYPAL-CERT-URL before any request: https, PayPal\'s API hosts, /v1/notifications/certs/', async () => {
    for (const [url, why] of [
      ['http://api.sandbox.paypal.com/v1/notifications/certs/CERT-1', /is not https/],
      ['https://evil.example.com/v1/notifications/certs/CERT-1', /is not on one of PayPal's hosts/],
      ['https://api.paypal.com.evil.example.com/v1/notifications/certs/CERT-1', /is not on one of PayPal's hosts/],
      ['https://api.paypal.com@evil.example.com/v1/notifications/certs/CERT-1', /has credentials or a port|is not on one of PayPal's hosts/],
      ['https://api.paypal.com:8443/v1/notifications/certs/CERT-1', /has credentials or a port/],
      ['https://api.paypal.com/v1/oauth2/token', /is not under \/v1\/notifications\/certs\//],
      ['http://127.0.0.1:9/v1/notifications/certs/CERT-1', /is not https/],
      ['not a url', /is not a URL/],
    ] as const) {
      expect(certUrlProblem(url), url).toMatch(why);
      // nock has nothing set up: a request would fail as a network error (503), not as this 401.
      await expect(connector().verify(delivery(BODY, signed({ certUrl: url })))).rejects.toMatchObject({ code: 'webhook_signature', message: expect.stringMatching(why) });
    }
    expect(certUrlProblem(`https://api-m.paypal.com${CERT_PATH}`)).toBeNull();
  });

  it('follows no redirect, reads at most 64 KiB, and treats PayPal being down as retryable (503)', async () => {
    nock(CERT_HOST).get(CERT_PATH).reply(302, '', { location: 'https://evil.example.com/cert.pem' });
    await expect(connector().verify(delivery(BODY, signed()))).rejects.toMatchObject({ code: 'webhook_signature', message: expect.stringMatching(/answered 302 \(redirects are not followed\)/) });
    nock(CERT_HOST).get(`${CERT_PATH}-big`).reply(200, 'A'.repeat(100 * 1024));
    await expect(connector().verify(delivery(BODY, signed({ certUrl: `${CERT_HOST}${CERT_PATH}-big` })))).rejects.toMatchObject({ code: 'webhook_signature', message: expect.stringMatching(/more than 65536 bytes/) });
    nock(CERT_HOST).get(`${CERT_PATH}-down`).reply(503, 'unavailable');
    const err: any = await Promise.resolve(connector().verify(delivery(BODY, signed({ certUrl: `${CERT_HOST}${CERT_PATH}-down` })))).catch((e) => e);
    expect([err.code, err.retryable]).toEqual(['remote_unavailable', true]);
  });

  it('refuses a certificate whose CN is not PayPal\'s signer, or that does not chain to a trusted CA', async () => {
    nock(CERT_HOST).get(`${CERT_PATH}-cn`).reply(200, paypalFixture('wrong-cn-chain.pem'));
    await expect(connector().verify(delivery(BODY, signed({ certUrl: `${CERT_HOST}${CERT_PATH}-cn` })))).rejects.toThrow(/CN "messageverificationcerts.paypal.com.example.net" is not messageverificationcerts….paypal.com/);
    nock(CERT_HOST).get(`${CERT_PATH}-rogue`).reply(200, paypalFixture('untrusted-chain.pem'));
    await expect(connector().verify(delivery(BODY, signed({ certUrl: `${CERT_HOST}${CERT_PATH}-rogue` })))).rejects.toThrow(/no trusted issuer of .*SyncHub Test Webhook CA.*webhookCaCertificates/);
    // Without the test CA configured, only Node's Mozilla roots are trusted.
    nock(CERT_HOST).get(CERT_PATH).reply(200, paypalFixture('cert-chain.pem'));
    await expect(connector({ webhookCaCertificates: undefined as unknown as string }).verify(delivery(BODY, signed()))).rejects.toThrow(/not trusted: no trusted issuer/);
  });

  it('checks every certificate of the path for validity now', () => {
    const chain = pemCertificates(paypalFixture('cert-chain.pem'));
    const anchors = [new X509Certificate(PAYPAL_TEST_CA)];
    expect(signerChainProblem(chain, anchors, Date.now())).toBeNull();
    expect(signerChainProblem(chain, anchors, Date.now() + 200 * 365 * 24 * 3600_000)).toMatch(/messageverificationcerts.sandbox.paypal.com.* is not valid now/);
    expect(signerChainProblem(chain, anchors, Date.parse('2020-01-01T00:00:00Z'))).toMatch(/is not valid now/);
  });

  it('allows a local certificate URL only through the test-only switch, only under NODE_ENV=test', () => {
    const local = 'http://127.0.0.1:40123/v1/notifications/certs/CERT-1';
    expect(certUrlProblem(local)).toMatch(/is not https/);
    const undo = allowPaypalCertOriginForTests('http://127.0.0.1:40123');
    expect(certUrlProblem(local)).toBeNull();
    expect(certUrlProblem('http://127.0.0.1:40123/elsewhere')).toMatch(/is not https/);
    undo();
    expect(certUrlProblem(local)).toMatch(/is not https/);
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => allowPaypalCertOriginForTests('http://127.0.0.1:40123')).toThrow(/for tests only/);
    } finally {
      process.env.NODE_ENV = env;
    }
  });

  it('config: offline needs the webhook id; CA certificates must be PEM', () => {
    const check = (options: Record<string, unknown>, creds: Record<string, string>) => paypal.check!(testConnection({ name: 'pp', connector: 'paypal', options, credentials: { clientId: 'a', clientSecret: 'b', ...creds } }));
    expect(check({ webhookVerification: 'offline' }, {})).toEqual(['credentials.webhookId: offline verification signs with the webhook id: set it']);
    expect(check({ webhookVerification: 'offline' }, { webhookId: WEBHOOK_ID, webhookCaCertificates: 'nope' })).toEqual([expect.stringMatching(/^credentials.webhookCaCertificates: not PEM certificates/)]);
    expect(check({}, { webhookId: WEBHOOK_ID })).toEqual([]);
  });
});
