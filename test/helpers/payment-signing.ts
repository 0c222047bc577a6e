import { createCipheriv, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { alipayContent } from '../../src/connectors/alipay/sign.js';

/** Test keys, generated per run; nothing here is a real key. */
export function rsaKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey, privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** An Alipay notification body signed as Alipay does: RSA2 over the sorted parameters without sign/sign_type. */
export function signedAlipayNotify(params: Record<string, string>, alipayPrivate: ReturnType<typeof rsaKeys>['privateKey']): string {
  const all = { sign_type: 'RSA2', charset: 'utf-8', version: '1.0', notify_type: 'trade_status_sync', ...params };
  const signature = sign('sha256', Buffer.from(alipayContent(all), 'utf8'), alipayPrivate).toString('base64');
  return new URLSearchParams({ ...all, sign: signature }).toString();
}

/** A WeChat Pay APIv3 notification: resource encrypted with the APIv3 key, headers signed with the platform key. */
export function signedWechatNotify(opts: { id: string; eventType: string; resource: object; apiV3Key: string; platformPrivate: ReturnType<typeof rsaKeys>['privateKey']; serial: string; timestamp?: number }) {
  const nonce = randomBytes(6).toString('hex');
  const aad = 'transaction';
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(opts.apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(JSON.stringify(opts.resource), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  const body = JSON.stringify({
    id: opts.id, create_time: '2025-03-01T10:00:00+08:00', resource_type: 'encrypt-resource', event_type: opts.eventType, summary: '支付成功',
    resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: ct.toString('base64'), associated_data: aad, nonce },
  });
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const hnonce = randomBytes(16).toString('hex');
  const signature = sign('sha256', Buffer.from(`${ts}\n${hnonce}\n${body}\n`, 'utf8'), opts.platformPrivate).toString('base64');
  return { body, headers: { 'wechatpay-timestamp': ts, 'wechatpay-nonce': hnonce, 'wechatpay-signature': signature, 'wechatpay-serial': opts.serial, 'content-type': 'application/json' } };
}
