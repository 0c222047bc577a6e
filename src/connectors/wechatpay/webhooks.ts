import { WebhookMalformedError, WebhookProbeError, WebhookSignatureError, type SynchubError } from '../../core/errors.js';
import { parseWebhookJson } from '../shared.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';
import { decryptResource } from './crypto.js';
import { checkWechatSignature, type WechatpayKeySet } from './keys.js';

/**
 * WeChat Pay APIv3 notifications: Wechatpay-Signature (RSA-SHA256, base64) over
 * `Wechatpay-Timestamp\nWechatpay-Nonce\nbody\n` with the key whose serial is Wechatpay-Serial
 * (a platform certificate or the WeChat Pay public key; an unknown serial is refused 401);
 * a signature probe (`WECHATPAY/SIGNTEST/…`) is refused 401 as WeChat Pay expects and marked
 * as a probe; more than 5 minutes away is refused; `resource` is decrypted with the APIv3 key.
 * Answers: 204 once stored; otherwise 4xx/5xx with {"code":"FAIL","message":…}.
 */
export function wechatpayWebhooks(keys: WechatpayKeySet, apiV3Key: string, toleranceS = 300): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      const ts = req.headers['wechatpay-timestamp'];
      const body = req.rawBody.toString('utf8');
      const check = checkWechatSignature(keys, { timestamp: ts, nonce: req.headers['wechatpay-nonce'], signature: req.headers['wechatpay-signature'], serial: req.headers['wechatpay-serial'] }, body);
      if (!check.ok) throw check.reason === 'probe' ? new WebhookProbeError(check.message) : new WebhookSignatureError(check.message);
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
