import { X509Certificate } from 'node:crypto';

/**
 * X.509 helpers the payment connectors share (Alipay's certificate mode, PayPal's offline
 * webhook verification): reading PEM bundles and walking a chain to a trusted certificate.
 */

/** The PEM certificates of a text, in order, at most `max` (a plain scan, no regex over the input). */
export function pemCertificates(text: string, max = 20): X509Certificate[] {
  const BEGIN = '-----BEGIN CERTIFICATE-----';
  const END = '-----END CERTIFICATE-----';
  const out: X509Certificate[] = [];
  for (let at = text.indexOf(BEGIN); at >= 0; at = text.indexOf(BEGIN, at)) {
    const end = text.indexOf(END, at);
    if (end < 0) throw new Error('a certificate has no END line');
    if (out.length === max) throw new Error(`more than ${max} certificates`);
    out.push(new X509Certificate(text.slice(at, end + END.length)));
    at = end + END.length;
  }
  if (!out.length) throw new Error('no PEM certificate (-----BEGIN CERTIFICATE-----) found');
  return out;
}

/** A subject or issuer as one line (Node writes one attribute per line). */
export const oneLine = (name: string) => name.replaceAll('\n', ', ');

/**
 * Why `chain` (leaf first, then the intermediates sent with it) does not lead to one of
 * `anchors`: each certificate on the path must be issued and signed by the next, or by an
 * anchor, and (unless `now` is null) be within its validity. Null when it does.
 */
export function chainProblem(chain: X509Certificate[], anchors: X509Certificate[], now: number | null, maxDepth = 5): string | null {
  let cert = chain[0];
  for (let depth = 0; depth < maxDepth; depth++) {
    if (now !== null && !(Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo))) return `"${oneLine(cert.subject)}" is not valid now (${cert.validFrom} – ${cert.validTo})`;
    if (anchors.some((a) => a.fingerprint256 === cert.fingerprint256 || issuedBy(cert, a))) return null;
    const next = chain.find((c) => c !== cert && issuedBy(cert, c));
    if (!next) return `no trusted issuer of "${oneLine(cert.subject)}"`;
    cert = next;
  }
  return `the chain is longer than ${maxDepth} certificates`;
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
