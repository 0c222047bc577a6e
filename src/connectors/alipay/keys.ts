import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { RemoteRejectedError } from '../../core/errors.js';
import { chainProblem, pemCertificates } from '../x509.js';
import { alipayCertSn, alipayRootCertSn } from './cert-sn.js';
import { alipayKey } from './sign.js';

/**
 * The keys of one Alipay connection, in either of the two modes Alipay offers
 * (opendocs.alipay.com/common/02kf5r, "开放平台证书升级指南"):
 * - public-key mode (普通公钥): `alipayPublicKey` verifies answers and notifications;
 * - certificate mode (公钥证书): `appCertificate`, `alipayCertificate` and
 *   `alipayRootCertificate`; every gateway request carries `app_cert_sn` and
 *   `alipay_root_cert_sn`, answers name the `alipay_cert_sn` they were signed under, and
 *   answers and notifications are verified with the key of the Alipay certificate.
 */
export const CERTIFICATE_FIELDS = ['appCertificate', 'alipayCertificate', 'alipayRootCertificate'] as const;
/** Downloaded Alipay certificates kept per connection (a rotation adds one). */
const MAX_ROTATED = 4;

interface CertificateMode {
  appCertSn: string;
  alipayRootCertSn: string;
  alipayCertSn: string;
  roots: X509Certificate[];
  /** alipay_cert_sn → key of a reissued certificate, downloaded and checked against the roots. */
  rotated: Map<string, KeyObject>;
}

export type AlipayCertDownload = (alipayCertSn: string) => Promise<string>;

export class AlipayKeys {
  private constructor(readonly privateKey: KeyObject, private readonly alipayPublicKey: KeyObject, private readonly cert?: CertificateMode) {}

  static fromCredentials(c: Record<string, string>): AlipayKeys {
    const privateKey = alipayKey(c.privateKey, 'private');
    if (!c.appCertificate) return new AlipayKeys(privateKey, alipayKey(c.alipayPublicKey, 'public'));
    const alipay = pemCertificates(c.alipayCertificate);
    const roots = pemCertificates(c.alipayRootCertificate);
    return new AlipayKeys(privateKey, alipay[0].publicKey, {
      appCertSn: alipayCertSn(pemCertificates(c.appCertificate)[0]),
      alipayRootCertSn: alipayRootCertSn(roots),
      alipayCertSn: alipayCertSn(alipay[0]),
      roots,
      rotated: new Map(),
    });
  }

  get mode(): 'public-key' | 'certificate' {
    return this.cert ? 'certificate' : 'public-key';
  }

  /** The parameters certificate mode adds to every gateway request (signed with the rest). */
  requestParams(): Record<string, string> {
    return this.cert ? { app_cert_sn: this.cert.appCertSn, alipay_root_cert_sn: this.cert.alipayRootCertSn } : {};
  }

  /** Keys a notification may be signed with: the configured one, then any verified reissue. */
  notificationKeys(): KeyObject[] {
    return [this.alipayPublicKey, ...(this.cert?.rotated.values() ?? [])];
  }

  /**
   * The key for an answer that names `alipay_cert_sn`. Alipay reissues its certificate
   * (expiry, another CA) under a new SN, keeping the key; per its "支付宝公钥证书无感知升级"
   * rule a client that sees an SN it does not hold downloads that certificate with
   * `alipay.open.app.alipaycert.download`, checks it against the Alipay root certificate and
   * then uses it. Anything short of that is a clear error naming both SNs.
   */
  async answerKey(answerCertSn: string | undefined, download: AlipayCertDownload, logger: Logger, connection: string): Promise<KeyObject> {
    if (!this.cert || !answerCertSn || answerCertSn === this.cert.alipayCertSn) return this.alipayPublicKey;
    const known = this.cert.rotated.get(answerCertSn);
    if (known) return known;
    const mismatch = `the answer is signed under alipay_cert_sn ${answerCertSn}, the configured credentials.alipayCertificate is ${this.cert.alipayCertSn}`;
    let chain: X509Certificate[];
    try {
      chain = pemCertificates(await download(answerCertSn));
    } catch (err) {
      throw new RemoteRejectedError(`${connection}: ${mismatch}, and the new certificate could not be downloaded (${(err as Error).message})`);
    }
    const problem = chainProblem(chain, this.cert.roots, Date.now()) ?? (alipayCertSn(chain[0]) !== answerCertSn ? `its SN is ${alipayCertSn(chain[0])}` : undefined);
    if (problem) throw new RemoteRejectedError(`${connection}: ${mismatch}, and the downloaded certificate is not trusted: ${problem}`);
    if (this.cert.rotated.size >= MAX_ROTATED) this.cert.rotated.delete(this.cert.rotated.keys().next().value!);
    this.cert.rotated.set(answerCertSn, chain[0].publicKey);
    logger.warn({ connection, alipayCertSn: answerCertSn, configured: this.cert.alipayCertSn }, 'alipay: Alipay reissued its public-key certificate; the new one was downloaded and verified against the root certificate. Put it in credentials.alipayCertificate (download it from the open platform).');
    return chain[0].publicKey;
  }
}

/** What a schema cannot say about the key material: it parses, belongs together, and chains. */
export function alipayCredentialProblems(c: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const certMode = CERTIFICATE_FIELDS.some((f) => c[f]);
  if (certMode && c.alipayPublicKey) problems.push('credentials.alipayPublicKey: set either alipayPublicKey (public-key mode) or appCertificate, alipayCertificate and alipayRootCertificate (certificate mode), not both');
  if (!certMode && !c.alipayPublicKey) problems.push('credentials: set alipayPublicKey (public-key mode) or appCertificate, alipayCertificate and alipayRootCertificate (certificate mode)');
  let privateKey: KeyObject | undefined;
  try {
    privateKey = alipayKey(c.privateKey ?? '', 'private');
  } catch (err) {
    problems.push(`credentials.privateKey: not a usable private key (${(err as Error).message})`);
  }
  if (!certMode) {
    if (c.alipayPublicKey) {
      try {
        alipayKey(c.alipayPublicKey, 'public');
      } catch (err) {
        problems.push(`credentials.alipayPublicKey: not a usable public key (${(err as Error).message})`);
      }
    }
    return problems;
  }
  const certs: Partial<Record<(typeof CERTIFICATE_FIELDS)[number], X509Certificate[]>> = {};
  for (const f of CERTIFICATE_FIELDS) {
    if (!c[f]) {
      problems.push(`credentials.${f}: required in certificate mode (with ${CERTIFICATE_FIELDS.filter((o) => o !== f).join(' and ')})`);
      continue;
    }
    try {
      certs[f] = pemCertificates(c[f]!);
      if (f === 'alipayRootCertificate') alipayRootCertSn(certs[f]!);
      else alipayCertSn(certs[f]![0]);
    } catch (err) {
      problems.push(`credentials.${f}: not a usable PEM certificate (${(err as Error).message})`);
      delete certs[f];
    }
  }
  if (privateKey && certs.appCertificate && !certs.appCertificate[0].checkPrivateKey(privateKey)) problems.push('credentials.appCertificate: is not the certificate of credentials.privateKey (download the application certificate made from this key)');
  if (certs.alipayCertificate && certs.alipayRootCertificate) {
    // Validity is not a start-up matter: a reissued certificate is picked up at run time (answerKey).
    const chained = chainProblem(certs.alipayCertificate, certs.alipayRootCertificate, null);
    if (chained) problems.push(`credentials.alipayCertificate: does not chain to credentials.alipayRootCertificate (${chained})`);
  }
  return problems;
}
