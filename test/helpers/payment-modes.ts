import { createPrivateKey, sign, verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { expect } from 'vitest';
import { allowPaypalCertOriginForTests } from '../../src/connectors/paypal/cert-store.js';
import { crc32 } from '../../src/connectors/paypal/webhooks-offline.js';
import { pemCertificates } from '../../src/connectors/x509.js';
import { alipayCertMaterial } from './alipay-certs.js';
import { rsaKeys, signedAlipayNotify } from './payment-signing.js';
import { PAYPAL_TEST_CA, paypalFixture, paypalSignedHeaders } from './paypal-certs.js';

/**
 * The provider modes the payments integration test runs once each: how the connection is
 * configured, and deliveries signed as the provider signs them in that mode.
 */
export interface Delivery { body: string; headers: Record<string, string> }
export interface RunningProvider {
  connection: Record<string, unknown>;
  success(orderNumber: string): Delivery;
  refund(orderNumber: string): Delivery;
  forged(orderNumber: string): Delivery;
  expectDone(): void;
  stop(): Promise<void>;
}
/** `accepted`: the provider's expected answer to a stored delivery (status, and body where the provider reads it). */
export interface PaymentMode { name: string; currency: string; accepted: { status: number; body?: string }; start(): Promise<RunningProvider> }

const APP_ID = '2021000000000001';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function alipayMode(name: string, connection: (keys: { appPrivatePem: string }) => Record<string, string>, alipayPrivate: () => ReturnType<typeof createPrivateKey>, appPrivate: () => ReturnType<typeof createPrivateKey>): PaymentMode {
  return {
    name, currency: 'CNY', accepted: { status: 200, body: 'success' },
    async start() {
      const signer = alipayPrivate();
      const notify = (orderNumber: string, extra: Record<string, string>, key = signer): Delivery => ({
        headers: FORM,
        body: signedAlipayNotify({ notify_time: '2026-12-01 18:00:05', notify_id: `n-${orderNumber}-${extra.trade_status}`, app_id: APP_ID, trade_no: `T${orderNumber}`, out_trade_no: orderNumber, total_amount: '20.00', gmt_payment: '2026-12-01 18:00:04', ...extra } as Record<string, string>, key),
      });
      return {
        connection: { connector: 'alipay', credentials: { appId: APP_ID, ...connection({ appPrivatePem: '' }) } },
        success: (n) => notify(n, { trade_status: 'TRADE_SUCCESS' }),
        refund: (n) => notify(n, { trade_status: 'TRADE_CLOSED', refund_fee: '20.00', gmt_refund: '2026-12-02 09:00:00' }),
        forged: (n) => notify(n, { trade_status: 'TRADE_SUCCESS' }, appPrivate()),
        expectDone: () => {},
        stop: async () => {},
      };
    },
  };
}

const publicKeyMode = (() => {
  const app = rsaKeys();
  const ali = rsaKeys();
  return alipayMode('alipay public-key mode', () => ({ privateKey: app.privatePem, alipayPublicKey: ali.publicPem }), () => ali.privateKey, () => app.privateKey);
})();
const certificateMode = (() => {
  const m = alipayCertMaterial();
  return alipayMode('alipay certificate mode', () => ({ privateKey: m.appPrivatePem, appCertificate: m.appCertificate, alipayCertificate: m.alipayCertificate, alipayRootCertificate: m.alipayRootCertificate }), () => m.alipayPrivateKey, () => createPrivateKey(m.appPrivatePem));
})();

const PAYPAL_API = 'https://api-m.paypal.com';
const WEBHOOK_ID = '1JE4291016473214C';
const CERT_PATH = '/v1/notifications/certs/CERT-360caa42-fca2a594-ab66f33d';

function paypalEvent(type: string, orderNumber: string): string {
  const capture = `3C${orderNumber}0000XV020574X`;
  const resource = type === 'PAYMENT.CAPTURE.REFUNDED'
    ? { id: `1Y${orderNumber}95YT783435V`, status: 'COMPLETED', amount: { currency_code: 'USD', value: '20.00' }, invoice_id: orderNumber, update_time: '2026-12-02T10:00:00Z', links: [{ rel: 'up', href: `${PAYPAL_API}/v2/payments/captures/${capture}`, method: 'GET' }] }
    : { id: capture, status: 'COMPLETED', amount: { currency_code: 'USD', value: '20.00' }, final_capture: true, invoice_id: orderNumber, create_time: '2026-12-01T10:00:00Z', update_time: '2026-12-01T10:00:04Z' };
  // Spaced and with a 1.0 the way PayPal writes it, so a re-serialised body would not verify.
  return `{"id": "WH-${type.length}${orderNumber}-8HN650336L201105X", "event_version": 1.0, "create_time": "2026-12-01T10:00:05.000Z", "resource_type": "${type === 'PAYMENT.CAPTURE.REFUNDED' ? 'refund' : 'capture'}", "event_type": "${type}", "summary": "Payment event", "resource": ${JSON.stringify(resource)}}`;
}

function paypalMode(name: string, verification: 'api' | 'offline'): PaymentMode {
  return {
    name, currency: 'USD', accepted: { status: 200 },
    async start() {
      const signerPublic = pemCertificates(paypalFixture('cert-chain.pem'))[0].publicKey;
      let certUrl = `https://api.paypal.com${CERT_PATH}`;
      let certFetches = 0;
      let undo = () => {};
      let server: ReturnType<typeof createServer> | undefined;
      const verifyCalls: string[] = [];
      if (verification === 'offline') {
        server = createServer((req, res) => {
          certFetches++;
          if (req.url !== CERT_PATH) return void res.writeHead(404).end();
          res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(paypalFixture('cert-chain.pem'));
        });
        await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
        const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        undo = allowPaypalCertOriginForTests(origin);
        certUrl = `${origin}${CERT_PATH}`;
      } else {
        // PayPal's verify-webhook-signature, verifying as PayPal does: over the event bytes it receives.
        nock(PAYPAL_API).persist().post('/v1/oauth2/token').reply(200, { access_token: 'A21AAF', token_type: 'Bearer', expires_in: 32400 });
        nock(PAYPAL_API).persist().post('/v1/notifications/verify-webhook-signature').reply(function () {
          // The request's bytes (nock hands the reply a parsed copy, which would lose `1.0`).
          const text = Buffer.concat((this.req as any).requestBodyBuffers).toString('utf8');
          const event = text.slice(text.indexOf('"webhook_event":') + '"webhook_event":'.length, -1);
          const f = JSON.parse(text);
          verifyCalls.push(f.transmission_id);
          const ok = verify('sha256', Buffer.from(`${f.transmission_id}|${f.transmission_time}|${f.webhook_id}|${crc32(Buffer.from(event, 'utf8'))}`), signerPublic, Buffer.from(f.transmission_sig, 'base64'));
          return [200, { verification_status: ok ? 'SUCCESS' : 'FAILURE' }];
        });
      }
      let n = 0;
      const deliver = (type: string, orderNumber: string): Delivery => {
        const body = paypalEvent(type, orderNumber);
        return { body, headers: paypalSignedHeaders(body, { webhookId: WEBHOOK_ID, certUrl, transmissionId: `tx-${++n}` }) };
      };
      const rogue = rsaKeys().privateKey;
      return {
        connection: {
          connector: 'paypal', baseUrl: PAYPAL_API, webhookVerification: verification,
          credentials: { clientId: 'AYSq3', clientSecret: 'EGnHD', webhookId: WEBHOOK_ID, ...(verification === 'offline' ? { webhookCaCertificates: PAYPAL_TEST_CA } : {}) },
        },
        success: (o) => deliver('PAYMENT.CAPTURE.COMPLETED', o),
        refund: (o) => deliver('PAYMENT.CAPTURE.REFUNDED', o),
        forged: (o) => {
          const d = deliver('PAYMENT.CAPTURE.COMPLETED', o);
          const t = d.headers;
          const signed = `${t['paypal-transmission-id']}|${t['paypal-transmission-time']}|${WEBHOOK_ID}|${crc32(Buffer.from(d.body))}`;
          return { body: d.body, headers: { ...t, 'paypal-transmission-sig': sign('sha256', Buffer.from(signed), rogue).toString('base64') } };
        },
        expectDone: () => {
          // Offline: one certificate download for all deliveries; API: PayPal asked once per delivery (5).
          if (verification === 'offline') expect([certFetches, verifyCalls.length]).toEqual([1, 0]);
          else expect(verifyCalls.length).toBe(5);
        },
        stop: async () => {
          undo();
          await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
        },
      };
    },
  };
}

export const paymentModes: PaymentMode[] = [publicKeyMode, certificateMode, paypalMode('paypal verified by PayPal (api)', 'api'), paypalMode('paypal offline verification', 'offline')];
