import axios from 'axios';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { RemoteUnavailableError, WebhookSignatureError } from '../../core/errors.js';
import { chainProblem, pemCertificates } from '../x509.js';

/**
 * The certificates PayPal signs webhooks with, fetched from `PAYPAL-CERT-URL` for offline
 * verification. PayPal names the URL in a header anyone can set, so before any request the
 * URL must be https on one of PayPal's API hosts under `/v1/notifications/certs/` (the form
 * PayPal's deliveries and its SDKs' samples use). The fetch follows no redirect, reads at most
 * MAX_CERT_BYTES within FETCH_TIMEOUT_MS, and the chain must lead to a trusted CA: the
 * Mozilla roots Node ships, or the CA certificates the connection names
 * (`webhookCaCertificates`, as PayPal's Java SDK trusts the DigiCert CA it bundles). Every
 * certificate on the path must be valid now, and the signer's CN must be
 * `messageverificationcerts…paypal.com`, as PayPal's Java SDK (SSLUtil.validateCertificateChain) checks.
 */
export const PAYPAL_CERT_HOSTS = new Set(['api.paypal.com', 'api-m.paypal.com', 'api.sandbox.paypal.com', 'api-m.sandbox.paypal.com']);
const CERT_PATH = '/v1/notifications/certs/';
const MAX_CERT_BYTES = 64 * 1024;
const FETCH_TIMEOUT_MS = 5_000;
const MAX_CACHED = 32;
const FAILURE_TTL_MS = 60_000;
const MAX_CHAIN = 5;

/** Origins (`http://127.0.0.1:port`) a test's local certificate server may use: set only by allowPaypalCertOriginForTests, never from config. */
const testOrigins = new Set<string>();

/** Lets tests serve certificates from a local server. Refused outside NODE_ENV=test. */
export function allowPaypalCertOriginForTests(origin: string): () => void {
  if (process.env.NODE_ENV !== 'test') throw new Error('allowPaypalCertOriginForTests is for tests only (NODE_ENV=test)');
  testOrigins.add(origin);
  return () => testOrigins.delete(origin);
}

/** Why `raw` may not be fetched, before anything is sent; null when it may. */
export function certUrlProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (testOrigins.has(url.origin) && url.pathname.startsWith(CERT_PATH)) return null;
  if (url.protocol !== 'https:') return 'is not https';
  if (url.username || url.password || url.port) return 'has credentials or a port';
  if (!PAYPAL_CERT_HOSTS.has(url.hostname)) return `is not on one of PayPal's hosts (${[...PAYPAL_CERT_HOSTS].join(', ')})`;
  if (!url.pathname.startsWith(CERT_PATH) || url.search || url.hash) return `is not under ${CERT_PATH}`;
  return null;
}

let mozillaRoots: X509Certificate[] | undefined;

export class PaypalCertificates {
  private readonly cache = new Map<string, Promise<X509Certificate[]>>();
  private readonly failed = new Map<string, { until: number; error: Error }>();
  private readonly anchors: X509Certificate[];

  /** `caPems`: the connection's extra trust anchors; the Mozilla roots are always trusted. */
  constructor(caPems: X509Certificate[] = []) {
    mozillaRoots ??= rootCertificates.map((pem) => new X509Certificate(pem));
    this.anchors = [...caPems, ...mozillaRoots];
  }

  /** The signer's public key for `certUrl`, its chain checked now. Throws 401 for a bad URL or chain, 503 when PayPal's host cannot be read. */
  async signerKey(certUrl: string): Promise<KeyObject> {
    const problem = certUrlProblem(certUrl);
    if (problem) throw new WebhookSignatureError(`PAYPAL-CERT-URL ${problem}`);
    const chain = await this.chain(certUrl);
    const chainError = signerChainProblem(chain, this.anchors, Date.now());
    if (chainError) throw new WebhookSignatureError(`the certificate from PAYPAL-CERT-URL is not trusted: ${chainError}`);
    return chain[0].publicKey;
  }

  /** One download per URL, shared by concurrent deliveries (so no one request's abort cancels it; the timeout bounds it). */
  private chain(url: string): Promise<X509Certificate[]> {
    const failure = this.failed.get(url);
    if (failure && failure.until > Date.now()) return Promise.reject(failure.error);
    let pending = this.cache.get(url);
    if (!pending) {
      pending = download(url);
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(url, pending);
      pending.catch((error: Error) => {
        this.cache.delete(url);
        this.failed.set(url, { until: Date.now() + FAILURE_TTL_MS, error });
        if (this.failed.size > MAX_CACHED) this.failed.delete(this.failed.keys().next().value!);
      });
    }
    return pending;
  }
}

async function download(url: string): Promise<X509Certificate[]> {
  let text: string;
  try {
    const res = await axios.get<string>(url, {
      responseType: 'text', transformResponse: (d) => d, maxRedirects: 0, timeout: FETCH_TIMEOUT_MS,
      maxContentLength: MAX_CERT_BYTES, validateStatus: () => true, headers: { accept: 'application/x-pem-file, text/plain, */*' },
    });
    if (res.status !== 200) {
      if (res.status >= 500 || res.status === 429) throw new RemoteUnavailableError(`PAYPAL-CERT-URL answered ${res.status}`, { status: res.status });
      throw new WebhookSignatureError(`PAYPAL-CERT-URL answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}`);
    }
    text = String(res.data);
  } catch (err) {
    if (err instanceof RemoteUnavailableError || err instanceof WebhookSignatureError) throw err;
    const msg = (err as Error).message;
    if (/maxContentLength/.test(msg)) throw new WebhookSignatureError(`PAYPAL-CERT-URL sent more than ${MAX_CERT_BYTES} bytes`);
    throw new RemoteUnavailableError(`PAYPAL-CERT-URL could not be read: ${msg}`, { cause: err });
  }
  try {
    return pemCertificates(text, MAX_CHAIN);
  } catch (err) {
    throw new WebhookSignatureError(`PAYPAL-CERT-URL did not send a PEM certificate (${(err as Error).message})`);
  }
}

/** The CN of a certificate's subject (Node writes one attribute per line). */
function commonName(cert: X509Certificate): string {
  const line = cert.subject.split('\n').find((l) => l.startsWith('CN='));
  return line ? line.slice(3) : '';
}

/** Why `chain` (signer first, then the intermediates PayPal sent) is not trusted now; null when it is. */
export function signerChainProblem(chain: X509Certificate[], anchors: X509Certificate[], now: number): string | null {
  const cn = commonName(chain[0]);
  if (!(cn.startsWith('messageverificationcerts') && cn.endsWith('.paypal.com'))) return `its CN "${cn}" is not messageverificationcerts….paypal.com`;
  const problem = chainProblem(chain, anchors, now);
  return problem && problem.startsWith('no trusted issuer') ? `${problem} (a CA that is not among Node's roots goes in credentials.webhookCaCertificates)` : problem;
}
