import type { Keyring } from '../core/crypto.js';

/**
 * A fingerprint is `<version ms>:<HMAC of the payload a connection got>`.
 * Keyed, so it reveals nothing about the personal data in the payload.
 */
export function payloadMac(keyring: Keyring, payload: unknown): string {
  return keyring.mac(stableStringify(payload));
}

export function fingerprint(version: number, mac: string): string {
  return `${version}:${mac}`;
}

export function parseFingerprint(fp: string): { version: number; mac: string } {
  const i = fp.indexOf(':');
  return { version: Number(fp.slice(0, i)), mac: fp.slice(i + 1) };
}

export function fingerprintMatches(fp: string, mac: string): boolean {
  return parseFingerprint(fp).mac === mac;
}

/** JSON with sorted keys, so the same content always gives the same MAC (stored fingerprints depend on this exact text). */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + stableStringify(value[i]);
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) out += `${i ? ',' : ''}${JSON.stringify(keys[i])}:${stableStringify((value as Record<string, unknown>)[keys[i]])}`;
  return `${out}}`;
}
