import type { KeyObject } from 'node:crypto';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError, type SynchubError } from '../../core/errors.js';
import { parseWebhookJson } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';
import { decryptResource, wechatMessage, wechatVerify } from './crypto.js';

/**
 * WeChat Pay APIv3 notifications: Wechatpay-Signature (RSA-SHA256, base64) over
 * `Wechatpay-Timestamp\nWechatpay-Nonce\nbody\n` with the platform key whose serial is
 * Wechatpay-Serial; more than 5 minutes away is refused; `resource` is decrypted with the
 * APIv3 key. Answers: 204 once stored; otherwise 4xx/5xx with {"code":"FAIL","message":…}.
 */
export function wechatpayWebhooks(platformSerial: string, platformKey: KeyObject, apiV3Key: string, toleranceS = 300): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      const ts = req.headers['wechatpay-timestamp'];
      const nonce = req.headers['wechatpay-nonce'];
      const signature = req.headers['wechatpay-signature'];
      const serial = req.headers['wechatpay-serial'];
      if (!ts || !nonce || !signature || !serial) throw new WebhookSignatureError('Wechatpay-Timestamp, -Nonce, -Signature and -Serial are required');
      if (!safeEqual(serial, platformSerial)) throw new WebhookSignatureError(`Wechatpay-Serial ${serial} is not the configured platform certificate`);
      const body = req.rawBody.toString('utf8');
      if (!wechatVerify(wechatMessage(ts, nonce, body), signature, platformKey)) throw new WebhookSignatureError('Wechatpay-Signature does not match');
      if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > toleranceS) throw new WebhookSignatureError('Wechatpay-Timestamp is more than 5 minutes away');
      let n: { id?: string; event_type?: string; create_time?: string; resource?: { ciphertext: string; nonce: string; associated_data?: string; original_type?: string } };
      n = parseWebhookJson(body);
      if (!n?.id || !n.event_type || !n.resource?.ciphertext || !n.resource.nonce) throw new WebhookMalformedError('notification needs id, event_type and resource');
      let plain: string;
      try {
        plain = decryptResource(n.resource, apiV3Key);
      } catch (err) {
        throw new WebhookMalformedError(`resource could not be decrypted with the APIv3 key: ${(err as Error).message}`);
      }
      const resource = parseWebhookJson<Record<string, unknown>>(plain, 'decrypted resource');
      // The mapping sees the decrypted transaction or refund, with the event type beside it.
      return { events: [{ id: n.id, topic: n.event_type, entity: 'payment', record: { event_type: n.event_type, create_time: n.create_time, ...resource }, occurredAt: n.create_time }] };
    },
    acknowledge: () => ({ status: 204 }),
    reject: (status: number, err: SynchubError) => ({ status, body: JSON.stringify({ code: 'FAIL', message: err.message }), contentType: 'application/json' }),
  };
}
