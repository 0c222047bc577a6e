import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { RemoteRejectedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { parseWebhookJson } from '../shared.js';
import { decryptResource } from './crypto.js';
import type { WechatpayKeySet } from './keys.js';

export interface PlatformCertificate {
  serial: string;
  publicKey: KeyObject;
  /** RFC 3339, as WeChat Pay gives it. */
  expireTime: string;
}

/** More than a merchant ever has at once (one in use, one announced): bounds the work per answer. */
const MAX_CERTIFICATES = 10;

/**
 * The answer of `GET /v3/certificates` (下载平台证书): `data[]` of `{serial_no, effective_time,
 * expire_time, encrypt_certificate: {algorithm: "AEAD_AES_256_GCM", nonce, associated_data,
 * ciphertext}}`; each certificate is the PEM that AES-256-GCM with the APIv3 key opens (the same
 * scheme as notification resources). A certificate whose own serial is not `serial_no` is refused.
 */
export function openCertificateList(body: string, apiV3Key: string): PlatformCertificate[] {
  let list: { data?: unknown };
  try {
    list = parseWebhookJson<{ data?: unknown }>(body, 'platform certificate list');
  } catch (err) {
    throw new RemoteRejectedError(`the platform certificate list is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(list?.data) || list.data.length > MAX_CERTIFICATES) {
    throw new RemoteRejectedError(`the platform certificate list has no data[] of at most ${MAX_CERTIFICATES} certificates`);
  }
  return list.data.map((item: any, i: number) => {
    const sealed = item?.encrypt_certificate;
    if (typeof item?.serial_no !== 'string' || typeof item?.expire_time !== 'string' || sealed?.algorithm !== 'AEAD_AES_256_GCM'
      || typeof sealed.ciphertext !== 'string' || typeof sealed.nonce !== 'string') {
      throw new RemoteRejectedError(`platform certificate ${i}: needs serial_no, expire_time and an AEAD_AES_256_GCM encrypt_certificate`);
    }
    let pem: string;
    try {
      pem = decryptResource(sealed, apiV3Key);
    } catch (err) {
      throw new RemoteRejectedError(`platform certificate ${item.serial_no}: could not be decrypted with the APIv3 key (${(err as Error).message})`);
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch (err) {
      throw new RemoteRejectedError(`platform certificate ${item.serial_no}: not a certificate (${(err as Error).message})`);
    }
    if (cert.serialNumber.toUpperCase() !== item.serial_no.toUpperCase()) {
      throw new RemoteRejectedError(`platform certificate ${item.serial_no}: the certificate's own serial is ${cert.serialNumber}`);
    }
    return { serial: item.serial_no, publicKey: createPublicKey(pem), expireTime: item.expire_time };
  });
}

/**
 * Keeps the platform certificates current for merchants still on them: downloads the list
 * at start and every `intervalMs` (WeChat Pay lists a new certificate 24 hours before it
 * signs with it and asks for a download at least every 12 hours) and adds the serials it
 * does not hold (a configured key is never replaced). A failed download is logged and leaves the held keys as they are.
 */
export class PlatformCertificateRefresh {
  private timer?: NodeJS.Timeout;
  private readonly abort = new AbortController();
  private running?: Promise<void>;

  constructor(
    private readonly download: (signal: AbortSignal) => Promise<PlatformCertificate[]>,
    private readonly keys: WechatpayKeySet,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => { void this.refresh(); }, this.intervalMs);
    // A one-shot command that creates the client does not wait for the next download.
    this.timer.unref();
  }

  /** One download; resolves when it is done (concurrent calls share it). Never rejects. */
  refresh(): Promise<void> {
    this.running ??= this.downloadOnce().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async downloadOnce(): Promise<void> {
    if (this.abort.signal.aborted) return;
    try {
      const certificates = await this.download(this.abort.signal);
      const added = certificates.filter((c) => !this.keys.has(c.serial));
      for (const c of added) this.keys.add(c.serial, c.publicKey);
      if (added.length) this.logger.info({ serials: added.map((c) => c.serial), expire: added.map((c) => c.expireTime) }, 'WeChat Pay platform certificates added');
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.logger.warn({ err }, 'WeChat Pay platform certificate download failed; the held keys stay as they are');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    await this.running;
  }
}
