import type { KeyObject } from 'node:crypto';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError, type SynchubError } from '../../core/errors.js';
import type { WebhookDelivery, WebhookHandler, WebhookRequest } from '../types.js';
import { alipayContent, rsa2Verify } from './sign.js';

/**
 * Alipay asynchronous notifications: a form-encoded POST signed RSA2 over the sorted
 * parameters. The answer is the plain text `success` once the event is stored; anything
 * else makes Alipay send it again (up to 8 times over 25 hours). In certificate mode the
 * key is the one in the Alipay public-key certificate (AlipayKeys.notificationKeys).
 */
export function alipayWebhooks(appId: string, alipayKeys: () => KeyObject[]): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      const params = Object.fromEntries(new URLSearchParams(req.rawBody.toString('utf8')));
      if (!params.sign) throw new WebhookSignatureError('the notification has no sign');
      if ((params.sign_type ?? 'RSA2') !== 'RSA2') throw new WebhookSignatureError(`sign_type ${params.sign_type} is not accepted (RSA2 only)`);
      const content = alipayContent(params);
      if (!alipayKeys().some((key) => rsa2Verify(content, params.sign, key))) throw new WebhookSignatureError('the RSA2 signature does not match the parameters');
      if (!params.app_id || !safeEqual(params.app_id, appId)) throw new WebhookSignatureError('the notification is for another app_id');
      if (!params.notify_id || !params.out_trade_no || !params.trade_status) throw new WebhookMalformedError('notify_id, out_trade_no and trade_status are required');
      return { events: [{ id: params.notify_id, topic: `${params.notify_type ?? 'trade_status_sync'}.${params.trade_status}`, entity: 'payment', record: params }] };
    },
    acknowledge: () => ({ status: 200, body: 'success', contentType: 'text/plain; charset=utf-8' }),
    reject: (status: number, _err: SynchubError) => ({ status, body: 'fail', contentType: 'text/plain; charset=utf-8' }),
  };
}
