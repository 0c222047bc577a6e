import { createHash, type X509Certificate } from 'node:crypto';

/**
 * Alipay's certificate serial numbers (公钥证书 mode), as its open platform defines them
 * (opendocs.alipay.com "证书签名" FAQ; the Java SDK's AlipaySignature.getCertSN and
 * AntCertificationUtil.getRootCertSN, which Alipay's own gateway follows):
 *
 *   SN      = md5_hex( issuer.getName() + decimal(serialNumber) )
 *   root SN = the SNs of the bundle's certificates signed with an RSA algorithm
 *             (signature OID under 1.2.840.113549.1.1), joined with `_`, in file order.
 *
 * `getName()` is Java's X500Principal RFC 2253 form: RDNs last to first, `CN`, `C`, `L`,
 * `ST`, `O`, `OU`, `STREET`, `DC`, `UID` by keyword and any other attribute as its dotted
 * OID with `#` and the hex of its DER value, `,` between RDNs and no spaces, special
 * characters escaped with `\`. The DN is read from the certificate's DER here, because
 * the order and the spelling decide the hash.
 */

const KEYWORDS: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID',
};
/** Directory string tags Java renders as text: Printable, T61, IA5, General, BMP, UTF8. */
const STRING_TAGS = new Set([0x13, 0x14, 0x16, 0x1b, 0x1e, 0x0c]);
const RSA_SIGNATURE_PREFIX = '1.2.840.113549.1.1.';

/** `at` is where the element's tag is, `start`..`end` its content. */
interface Tlv { tag: number; at: number; start: number; end: number; next: number }

/** One DER element at `at` (definite lengths only, as DER requires). */
function tlv(der: Buffer, at: number, limit = der.length): Tlv {
  if (at + 2 > limit) throw new Error('truncated DER');
  const tag = der[at];
  let len = der[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4 || start + n > limit) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new Error('truncated DER');
  return { tag, at, start, end, next: end };
}

function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; at = out[out.length - 1].next) out.push(tlv(der, at, parent.end));
  return out;
}

function oidOf(der: Buffer, t: Tlv): string {
  if (t.tag !== 0x06 || t.end <= t.start) throw new Error('expected an OBJECT IDENTIFIER');
  const first = der[t.start];
  const parts = [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40];
  let v = 0n;
  for (let i = t.start + 1; i < t.end; i++) {
    v = (v << 7n) | BigInt(der[i] & 0x7f);
    if (!(der[i] & 0x80)) {
      parts.push(Number(v));
      v = 0n;
    }
  }
  return parts.join('.');
}

/** Java's BigInteger of the DER INTEGER: two's complement, so a leading 1 bit is negative. */
function integerOf(der: Buffer, t: Tlv): bigint {
  if (t.tag !== 0x02 || t.end <= t.start) throw new Error('expected an INTEGER');
  let v = 0n;
  for (let i = t.start; i < t.end; i++) v = (v << 8n) | BigInt(der[i]);
  if (der[t.start] & 0x80) v -= 1n << BigInt(8 * (t.end - t.start));
  return v;
}

function stringOf(der: Buffer, t: Tlv): string {
  const bytes = der.subarray(t.start, t.end);
  if (t.tag === 0x1e) {
    if (bytes.length % 2) throw new Error('odd-length BMPString');
    return Buffer.from(bytes).swap16().toString('utf16le');
  }
  if (t.tag === 0x14) return bytes.toString('latin1');
  return bytes.toString('utf8');
}

/** RFC 2253 escaping as Java's AVA.toRFC2253String does it. */
function escapeValue(value: string): string {
  const escapees = ',=+<>#;"\\';
  let s = '';
  for (const c of value) s += c === '\u0000' ? '\\00' : escapees.includes(c) ? `\\${c}` : c;
  let lead = 0;
  while (lead < s.length && (s[lead] === ' ' || s[lead] === '\r')) lead++;
  let trail = s.length - 1;
  while (trail >= 0 && (s[trail] === ' ' || s[trail] === '\r')) trail--;
  let out = '';
  for (let i = 0; i < s.length; i++) out += (i < lead || i > trail ? '\\' : '') + s[i];
  return out;
}

export interface CertificateFacts { issuerName: string; serial: bigint; signatureOid: string }

/** The issuer DN in Java's `getName()` form, the serial and the signature algorithm, from the DER. */
export function certificateFacts(der: Buffer): CertificateFacts {
  const cert = tlv(der, 0);
  const [tbs, sigAlg] = children(der, cert);
  const fields = children(der, tbs);
  let i = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  const serial = integerOf(der, fields[i++]);
  i++; // signature AlgorithmIdentifier (repeated outside)
  const issuer = fields[i];
  if (!issuer || issuer.tag !== 0x30) throw new Error('expected the issuer Name');
  const rdns = children(der, issuer).map((set) => children(der, set).map((atv) => {
    const [type, value] = children(der, atv);
    const oid = oidOf(der, type);
    const keyword = KEYWORDS[oid];
    if (!keyword || !STRING_TAGS.has(value.tag)) return `${keyword ?? oid}=#${der.subarray(value.at, value.end).toString('hex')}`;
    return `${keyword}=${escapeValue(stringOf(der, value))}`;
  }).join('+'));
  return { issuerName: rdns.reverse().join(','), serial, signatureOid: oidOf(der, children(der, sigAlg)[0]) };
}

/** `app_cert_sn` / `alipay_cert_sn`: of one certificate (the first of a file). */
export function alipayCertSn(cert: X509Certificate): string {
  const { issuerName, serial } = certificateFacts(cert.raw);
  return createHash('md5').update(issuerName + serial.toString(10), 'utf8').digest('hex');
}

/** `alipay_root_cert_sn`: the RSA-signed certificates of the root bundle, joined with `_`. */
export function alipayRootCertSn(bundle: X509Certificate[]): string {
  const sns = bundle.filter((c) => certificateFacts(c.raw).signatureOid.startsWith(RSA_SIGNATURE_PREFIX)).map(alipayCertSn);
  if (!sns.length) throw new Error('the root bundle has no certificate signed with an RSA algorithm');
  return sns.join('_');
}
