import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { DecryptError } from './errors.js';

// Loaded when first used: processes that seal nothing with public keys do not pay for loading it.
let joseModule: Promise<typeof import('jose')> | undefined;
const jose = () => (joseModule ??= import('jose'));

/**
 * Public-key sealing as JWE compact serialisation (RFC 7516), through the `jose` library:
 * RSA keys seal with RSA-OAEP-256, EC (P-256/384/521) and X25519 keys with ECDH-ES+A256KW;
 * the content is always A256GCM. Each JWE names its key (`kid`), so whoever holds the
 * private key opens it with any standard JOSE library (jose, python-jose/jwcrypto,
 * nimbus-jose-jwt, …). Keys are read from PEM with Node's own parser.
 */
export type JweAlgorithm = 'RSA-OAEP-256' | 'ECDH-ES+A256KW';
export const JWE_ENC = 'A256GCM';
const ALGORITHMS: JweAlgorithm[] = ['RSA-OAEP-256', 'ECDH-ES+A256KW'];
const MIN_RSA_BITS = 2048;

export interface JweRecipient {
  kid: string;
  alg: JweAlgorithm;
  key: KeyObject;
}

/** The algorithm a key seals with, or why it cannot be used. */
function algorithmOf(key: KeyObject): JweAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new Error(`RSA key of ${bits} bits: at least ${MIN_RSA_BITS} are needed`);
    return 'RSA-OAEP-256';
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'secp384r1' || curve === 'secp521r1') return 'ECDH-ES+A256KW';
    throw new Error(`EC key on curve ${curve}: use P-256, P-384 or P-521`);
  }
  if (type === 'x25519') return 'ECDH-ES+A256KW';
  throw new Error(`${type ?? 'unknown'} key: use an RSA (2048 bits or more), EC P-256/P-384/P-521 or X25519 key`);
}

/** RFC 7638 thumbprint (SHA-256, base64url) of a public key: the default key id. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as Record<string, string>;
  // The required members in lexicographic order, as RFC 7638 section 3.2 lists them per key type.
  const members = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function readPem(pem: string, kind: 'public' | 'private'): KeyObject {
  const text = pem.trim();
  if (!text.startsWith('-----BEGIN ')) throw new Error(`not a PEM ${kind} key (expected "-----BEGIN ${kind === 'public' ? 'PUBLIC KEY' : 'PRIVATE KEY'}-----")`);
  try {
    return kind === 'public' ? createPublicKey({ key: text, format: 'pem' }) : createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    throw new Error(`not a readable PEM ${kind} key (${(err as Error).message.split('\n')[0]})`);
  }
}

/** A recipient from a PEM public key (SPKI, or a certificate's key). Throws a message fit for a config error. */
export function recipientFromPem(pem: string, kid?: string): JweRecipient {
  const key = readPem(pem, 'public');
  const alg = algorithmOf(key);
  return { kid: kid ?? jwkThumbprint(key), alg, key };
}

/**
 * Seals bytes or text for the recipient: compact JWE with `alg`, `enc` A256GCM, `kid` and, when
 * given, `cty` and a `ctx` naming what the content is (the protected header is authenticated,
 * so a JWE cannot be moved to another place unnoticed; see PrivateKeyring.open).
 */
export async function sealFor(r: JweRecipient, plaintext: string | Uint8Array, header: { cty?: string; ctx?: string } = {}): Promise<string> {
  const bytes = typeof plaintext === 'string' ? new TextEncoder().encode(plaintext) : plaintext;
  const { CompactEncrypt } = await jose();
  return new CompactEncrypt(bytes).setProtectedHeader({ alg: r.alg, enc: JWE_ENC, kid: r.kid, ...header }).encrypt(r.key);
}

/** Private keys by key id: every key opens what was sealed for it (rotation keeps the old ones). */
export interface PrivateKeyring {
  readonly kids: readonly string[];
  /** The plaintext of a compact JWE; `ctx`, when given, must be the one it was sealed with. */
  open(jwe: string, ctx?: string): Promise<Uint8Array>;
}

export function privateKeyring(keys: readonly { kid: string; pem: string }[]): PrivateKeyring {
  const byKid = new Map<string, KeyObject>();
  for (const { kid, pem } of keys) {
    if (byKid.has(kid)) throw new Error(`key id ${kid} appears twice`);
    const key = readPem(pem, 'private');
    algorithmOf(createPublicKey(key));
    byKid.set(kid, key);
  }
  return {
    kids: [...byKid.keys()],
    async open(jwe, ctx) {
      const { compactDecrypt, decodeProtectedHeader } = await jose();
      let header;
      try {
        header = decodeProtectedHeader(jwe);
      } catch {
        throw new DecryptError(`${ctx ?? 'jwe'}: value is not a compact JWE`);
      }
      const key = typeof header.kid === 'string' ? byKid.get(header.kid) : undefined;
      if (!key) throw new DecryptError(`${ctx ?? 'jwe'}: sealed for key ${String(header.kid)}, which this process does not hold`);
      if (ctx !== undefined && header.ctx !== ctx) throw new DecryptError(`${ctx}: sealed for another place (${String(header.ctx)})`);
      try {
        const { plaintext } = await compactDecrypt(jwe, key, { keyManagementAlgorithms: ALGORITHMS, contentEncryptionAlgorithms: [JWE_ENC] });
        return plaintext;
      } catch {
        throw new DecryptError(`${ctx ?? 'jwe'}: JWE failed to open (tampered, or sealed for another key)`);
      }
    },
  };
}

/** Public keys, newest first: the first seals (as the symmetric keyring's first key encrypts). */
export interface PublicKeyring {
  readonly active: JweRecipient;
  seal(plaintext: string | Uint8Array, ctx: string): Promise<string>;
}

export function publicKeyring(keys: readonly { kid: string; pem: string }[]): PublicKeyring {
  if (!keys.length) throw new Error('no public key given');
  const recipients = keys.map((k) => recipientFromPem(k.pem, k.kid));
  const active = recipients[0];
  return { active, seal: (plaintext, ctx) => sealFor(active, plaintext, { ctx }) };
}
