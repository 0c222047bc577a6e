import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { Connection } from '../types.js';
import { wechatMessage, wechatVerify } from './crypto.js';

/**
 * WeChat Pay public key ids are `PUB_KEY_ID_` and the raw id (WeChat Pay, 微信支付公钥说明 /
 * wxp-pub-key-guide); platform certificates are named by their X.509 serial in hex.
 */
export const PUBLIC_KEY_ID_PREFIX = 'PUB_KEY_ID_';

/** Signatures WeChat Pay makes wrong on purpose, to see that the merchant checks (签名探测流量). */
export const SIGNATURE_PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';

/** Untrusted serials are quoted in errors and logs at most this long. */
const SERIAL_SHOWN_MAX = 64;

/**
 * The keys WeChat Pay signs answers and callbacks with, by the serial it names in
 * `Wechatpay-Serial`: platform certificates (by certificate serial) and the WeChat Pay public
 * key (by `PUB_KEY_ID_…`). While a merchant switches from certificates to the public key,
 * callbacks come signed by either at random for seven days, so both are held.
 */
export class WechatpayKeySet {
  private readonly keys = new Map<string, KeyObject>();

  constructor(entries: Iterable<[string, KeyObject]> = []) {
    for (const [serial, key] of entries) this.keys.set(serial, key);
  }

  /** From validated credentials: `platformKeys` and the older `platformSerial` / `platformPublicKey`. */
  static fromCredentials(credentials: Connection['credentials']): WechatpayKeySet {
    return new WechatpayKeySet(credentialKeys(credentials).map(({ serial, pem }) => [serial, createPublicKey(pem)]));
  }

  get(serial: string): KeyObject | undefined {
    return this.keys.get(serial);
  }

  has(serial: string): boolean {
    return this.keys.has(serial);
  }

  /** Adds (or replaces) a key; used when new platform certificates are downloaded. */
  add(serial: string, key: KeyObject): void {
    this.keys.set(serial, key);
  }

  entries(): [string, KeyObject][] {
    return [...this.keys.entries()];
  }

  get serials(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * The WeChat Pay public key id, when one is held. Sent as `Wechatpay-Serial` on API requests:
   * WeChat Pay signs its answer with the key the request names, and with the platform
   * certificate when the request names none (如何从平台证书切换成微信支付公钥).
   */
  get publicKeyId(): string | undefined {
    return this.serials.find((s) => s.startsWith(PUBLIC_KEY_ID_PREFIX));
  }
}

/** The configured keys, platformKeys first, as `{ serial, pem, path }`. */
function credentialKeys(c: Connection['credentials']): { serial: string; pem: string; path: string }[] {
  const out: { serial: string; pem: string; path: string }[] = [];
  const platformKeys = (c as Record<string, unknown>).platformKeys as Record<string, string> | undefined;
  for (const [serial, pem] of Object.entries(platformKeys ?? {})) out.push({ serial, pem, path: `credentials.platformKeys.${serial}` });
  if (c.platformSerial && c.platformPublicKey && !out.some((k) => k.serial === c.platformSerial)) {
    out.push({ serial: c.platformSerial, pem: c.platformPublicKey, path: 'credentials.platformPublicKey' });
  }
  return out;
}

/** Start-up checks of the verification keys; each problem starts with its path under the connection. */
export function verificationKeyProblems(c: Connection['credentials']): string[] {
  const problems: string[] = [];
  const platformKeys = (c as Record<string, unknown>).platformKeys;
  if (Boolean(c.platformSerial) !== Boolean(c.platformPublicKey)) {
    problems.push('credentials: platformSerial and platformPublicKey go together (or use platformKeys: { "<serial>": PEM })');
  } else if (!platformKeys && !c.platformSerial) {
    problems.push('credentials: needs platformKeys ({ "<serial>": PEM }, the WeChat Pay public key and/or platform certificates) or platformSerial with platformPublicKey');
  }
  const both = (platformKeys as Record<string, string> | undefined)?.[c.platformSerial ?? ''];
  if (both !== undefined && c.platformPublicKey && both.trim() !== c.platformPublicKey.trim()) {
    problems.push(`credentials.platformSerial: ${c.platformSerial} is also in platformKeys, with another key; keep one of them`);
  }
  for (const { serial, pem, path } of credentialKeys(c)) {
    if (pem.includes('PRIVATE KEY-----')) {
      problems.push(`${path}: is a private key; WeChat Pay's public key or platform certificate goes here`);
      continue;
    }
    try {
      createPublicKey(pem);
    } catch (err) {
      problems.push(`${path}: not a PEM public key or certificate (${(err as Error).message})`);
      continue;
    }
    // A platform certificate's file names its serial; a mistyped serial would refuse every callback.
    if (path.startsWith('credentials.platformKeys.') && pem.includes('-----BEGIN CERTIFICATE-----')) {
      const actual = new X509Certificate(pem).serialNumber;
      if (actual.toUpperCase() !== serial.toUpperCase()) problems.push(`${path}: the certificate's serial is ${actual}, not ${serial}`);
    }
  }
  const publicKeyIds = credentialKeys(c).filter((k) => k.serial.startsWith(PUBLIC_KEY_ID_PREFIX));
  if (publicKeyIds.length > 1) {
    problems.push(`credentials.platformKeys: more than one WeChat Pay public key (${publicKeyIds.map((k) => k.serial).join(', ')}); a merchant has one, and its id is sent as Wechatpay-Serial`);
  }
  return problems;
}

export type SignatureCheck =
  | { ok: true; serial: string }
  | { ok: false; reason: 'missing' | 'unknown_serial' | 'probe' | 'mismatch'; message: string };

/**
 * Checks a WeChat Pay signature (answer or callback): `Wechatpay-Signature` over
 * `Wechatpay-Timestamp\nWechatpay-Nonce\nbody\n` with the key named by `Wechatpay-Serial`.
 * A probe is told apart only once its serial is one of ours, so a stranger's forgery cannot
 * pass as WeChat Pay's probe in the log.
 */
export function checkWechatSignature(keys: WechatpayKeySet, h: { timestamp?: string; nonce?: string; signature?: string; serial?: string }, body: string): SignatureCheck {
  if (!h.timestamp || !h.nonce || !h.signature || !h.serial) {
    return { ok: false, reason: 'missing', message: 'Wechatpay-Timestamp, -Nonce, -Signature and -Serial are required' };
  }
  const key = keys.get(h.serial);
  if (!key) {
    const shown = JSON.stringify(h.serial.length > SERIAL_SHOWN_MAX ? `${h.serial.slice(0, SERIAL_SHOWN_MAX)}…` : h.serial).slice(1, -1);
    return { ok: false, reason: 'unknown_serial', message: `Wechatpay-Serial ${shown} is not one of this connection's keys (credentials.platformKeys)` };
  }
  if (h.signature.startsWith(SIGNATURE_PROBE_PREFIX)) {
    return { ok: false, reason: 'probe', message: `WeChat Pay signature probe (Wechatpay-Signature starts with ${SIGNATURE_PROBE_PREFIX}), refused as WeChat Pay expects` };
  }
  if (!wechatVerify(wechatMessage(h.timestamp, h.nonce, body), h.signature, key)) {
    return { ok: false, reason: 'mismatch', message: `Wechatpay-Signature does not match the key of Wechatpay-Serial ${h.serial}` };
  }
  return { ok: true, serial: h.serial };
}
