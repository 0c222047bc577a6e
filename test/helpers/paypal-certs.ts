import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from '../../src/connectors/paypal/webhooks-offline.js';

/** Self-made PayPal-style signing material (test/fixtures/paypal, see its README: none of it is PayPal's). */
const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/paypal');
export const paypalFixture = (name: string) => readFileSync(path.join(DIR, name), 'utf8');
export const PAYPAL_TEST_CA = paypalFixture('test-root-ca.pem');
const signerKey = createPrivateKey(paypalFixture('signer.key'));

/** The five PAYPAL-* headers of a delivery, signed as PayPal does: SHA256withRSA over `id|time|webhookId|crc32(body)`. */
export function paypalSignedHeaders(body: string, opts: { webhookId: string; certUrl: string; transmissionId?: string; time?: string }): Record<string, string> {
  const transmissionId = opts.transmissionId ?? '69cd13f0-d67a-11e5-baa3-778b53f4ae55';
  const time = opts.time ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const signed = `${transmissionId}|${time}|${opts.webhookId}|${crc32(Buffer.from(body, 'utf8'))}`;
  return {
    'content-type': 'application/json',
    'paypal-auth-algo': 'SHA256withRSA',
    'paypal-cert-url': opts.certUrl,
    'paypal-transmission-id': transmissionId,
    'paypal-transmission-sig': sign('sha256', Buffer.from(signed, 'utf8'), signerKey).toString('base64'),
    'paypal-transmission-time': time,
  };
}
