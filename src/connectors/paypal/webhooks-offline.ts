import { verify } from 'node:crypto';
import { WebhookSignatureError } from '../../core/errors.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';
import type { PaypalCertificates } from './cert-store.js';
import { paypalDelivery, paypalEvent } from './webhooks.js';

/** The one algorithm PayPal names in PAYPAL-AUTH-ALGO (Java's name for RSASSA-PKCS1-v1_5 with SHA-256). */
const AUTH_ALGO = 'SHA256withRSA';

/**
 * Offline verification of PayPal webhooks (`webhookVerification: offline`), without asking
 * PayPal's verify-webhook-signature: the signed text is
 * `<PAYPAL-TRANSMISSION-ID>|<PAYPAL-TRANSMISSION-TIME>|<webhook id>|<CRC32 of the raw body, unsigned decimal>`,
 * its SHA256withRSA signature is PAYPAL-TRANSMISSION-SIG (base64), and the key is in the
 * certificate PAYPAL-CERT-URL names (PayPal's Java SDK, Event.validateReceivedEvent and
 * SSLUtil; its .NET SDK builds the same text). The CRC is taken over the bytes as they
 * arrived, so nothing is re-serialised.
 */
export function paypalOfflineWebhooks(certificates: PaypalCertificates, webhookId: string): WebhookHandler {
  return {
    async verify(req: WebhookRequest): Promise<WebhookDelivery> {
      const event = paypalEvent(req);
      const algo = req.headers['paypal-auth-algo'];
      if (algo !== AUTH_ALGO) throw new WebhookSignatureError(`PAYPAL-AUTH-ALGO ${String(algo).slice(0, 40)} is not supported (${AUTH_ALGO} only)`);
      const key = await certificates.signerKey(String(req.headers['paypal-cert-url']));
      const signed = `${req.headers['paypal-transmission-id']}|${req.headers['paypal-transmission-time']}|${webhookId}|${crc32(req.rawBody)}`;
      let ok = false;
      try {
        ok = verify('sha256', Buffer.from(signed, 'utf8'), key, Buffer.from(String(req.headers['paypal-transmission-sig']), 'base64'));
      } catch {
        ok = false;
      }
      if (!ok) throw new WebhookSignatureError('PAYPAL-TRANSMISSION-SIG does not match the transmission id, time, webhook id and body');
      return paypalDelivery(event);
    },
  };
}

let table: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as java.util.zip.CRC32) of the bytes, unsigned. */
export function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
