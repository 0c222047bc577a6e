import { createDecipheriv, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { decodeBase64Strict } from '../../core/base64.js';

/** The message WeChat Pay signs, for notifications and API answers: `timestamp\nnonce\nbody\n`. */
export function wechatMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export function wechatVerify(message: string, signature: string, platformKey: KeyObject): boolean {
  try {
    const sig = decodeBase64Strict(signature);
    return sig !== undefined && verify('sha256', Buffer.from(message, 'utf8'), platformKey, sig);
  } catch {
    return false;
  }
}

/**
 * `resource` of a notification: AES-256-GCM with the APIv3 key, the resource's nonce as IV
 * and associated_data as AAD; the 16-byte tag is at the end of the base64 ciphertext.
 */
export function decryptResource(resource: { ciphertext: string; nonce: string; associated_data?: string }, apiV3Key: string): string {
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length < 17) throw new Error('ciphertext is too short');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(resource.nonce, 'utf8'));
  decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
}

/**
 * `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…`,
 * the signature being RSA-SHA256 (base64) of `METHOD\nURL\ntimestamp\nnonce\nbody\n` with the merchant key.
 */
export function wechatAuthorization(opts: { mchId: string; serialNo: string; privateKey: KeyObject; method: string; url: string; body: string; now?: number; nonce?: string }): string {
  const timestamp = String(Math.floor((opts.now ?? Date.now()) / 1000));
  const nonce = opts.nonce ?? randomBytes(16).toString('hex');
  const message = `${opts.method}\n${opts.url}\n${timestamp}\n${nonce}\n${opts.body}\n`;
  const signature = sign('sha256', Buffer.from(message, 'utf8'), opts.privateKey).toString('base64');
  return `WECHATPAY2-SHA256-RSA2048 mchid="${opts.mchId}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${opts.serialNo}"`;
}

export const privateKeyOf = (pem: string) => createPrivateKey(pem);
export const publicKeyOf = (pem: string) => createPublicKey(pem);
