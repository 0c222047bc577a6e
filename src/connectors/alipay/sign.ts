import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * Alipay's signed content: every parameter but `sign` and `sign_type` (and empty values),
 * sorted by key, joined as `k=v&k=v` with the values as they are (decoded, not re-encoded).
 */
export function alipayContent(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && params[k] !== '' && params[k] !== undefined)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

/** RSA2: SHA256withRSA, base64. */
export function rsa2Sign(content: string, privateKey: KeyObject): string {
  return sign('sha256', Buffer.from(content, 'utf8'), privateKey).toString('base64');
}

export function rsa2Verify(content: string, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify('sha256', Buffer.from(content, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** Alipay hands out keys as bare base64 as often as PEM: accept both. */
export function alipayKey(material: string, kind: 'private' | 'public'): KeyObject {
  const pem = material.includes('-----BEGIN')
    ? material
    : `-----BEGIN ${kind === 'private' ? 'PRIVATE KEY' : 'PUBLIC KEY'}-----\n${material.replace(/\s+/g, '').replace(/(.{64})/g, '$1\n')}\n-----END ${kind === 'private' ? 'PRIVATE KEY' : 'PUBLIC KEY'}-----\n`;
  return kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
}
