/**
 * Strict base64 (RFC 4648 §4, the standard alphabet): the bytes, or undefined unless
 * re-encoding them gives the input back (padding may be left out). Node's own decoder
 * skips characters outside the alphabet and stops at the first `=`, so `sig=garbage`
 * would decode as `sig=`; a signature header must be exactly one encoding of its bytes.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!text) return undefined;
  const bytes = Buffer.from(text, 'base64');
  const canonical = bytes.toString('base64');
  if (canonical === text || (text.length % 4 !== 0 && canonical.replace(/=+$/, '') === text)) return bytes;
  return undefined;
}
