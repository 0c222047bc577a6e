import { createPublicKey } from 'node:crypto';
import { NotSupportedError } from '../core/errors.js';
import type { Keyring } from '../core/crypto.js';
import { jwkThumbprint, privateKeyring, publicKeyring, recipientFromPem, type PrivateKeyring, type PublicKeyring } from '../core/jwe.js';

/**
 * Webhook bodies sealed with public keys (`encryption.publicKeys`): an internet-facing
 * `synchub serve` holds only the public keys, seals each body for the workers and can store it
 * but never open it; `synchub worker` (and `start`) hold the private keys (`encryption.privateKeys`).
 */
export interface Sealing {
  /** Newest first: the first seals. */
  publicKeys?: PublicKeyring;
  /** Every key opens what was sealed for it (rotation keeps the old ones). */
  privateKeys?: PrivateKeyring;
  /** Whether `encryption.keys` (the symmetric keyring) was given. */
  hasKeys: boolean;
}

const keyListSchema = (kind: 'public' | 'private') => ({
  type: 'array', minItems: 1,
  items: {
    type: 'object', additionalProperties: false, required: ['kid', 'key'],
    properties: {
      kid: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'Key id (the JWE `kid`)' },
      key: { type: 'string', minLength: 1, description: `PEM ${kind} key: RSA (2048 bits or more), EC P-256/P-384/P-521 or X25519`, examples: [kind === 'public' ? '${file:keys/webhooks-2026.pub.pem}' : '${file:/run/secrets/webhooks-2026.pem}'] },
    },
  },
});

export const sealingSchema = {
  publicKeys: { ...keyListSchema('public'), description: 'Public keys webhook bodies are sealed with (JWE), newest first: the first seals. A serve process with these and without `keys` cannot open what it stores' },
  privateKeys: { ...keyListSchema('private'), description: 'Private keys of `publicKeys`, for workers: each opens what was sealed for its kid (keep old ones until their webhooks are ingested)' },
} as const;

/** Reads `encryption.publicKeys` and `privateKeys`; problems name their path. */
export function parseSealing(enc: Record<string, any>, problems: string[]): Sealing {
  const sealing: Sealing = { hasKeys: Boolean(enc.keys) };
  const pub: { kid: string; key: string }[] | undefined = enc.publicKeys;
  const priv: { kid: string; key: string }[] | undefined = enc.privateKeys;
  let ok = true;
  pub?.forEach((k, i) => {
    try {
      recipientFromPem(k.key, k.kid);
    } catch (err) {
      ok = false;
      problems.push(`encryption.publicKeys[${i}].key: ${(err as Error).message}`);
    }
  });
  if (pub && ok) sealing.publicKeys = publicKeyring(pub.map((k) => ({ kid: k.kid, pem: k.key })));
  if (priv) {
    try {
      sealing.privateKeys = privateKeyring(priv.map((k) => ({ kid: k.kid, pem: k.key })));
    } catch (err) {
      problems.push(`encryption.privateKeys: ${(err as Error).message}`);
    }
  }
  if (!pub && priv) problems.push('encryption.privateKeys: given without encryption.publicKeys');
  // A process holding both halves of a kid must hold a pair: what it seals, it can open.
  if (pub && sealing.privateKeys) {
    for (const [i, k] of pub.entries()) {
      const p = priv!.find((x) => x.kid === k.kid);
      if (!p) continue;
      try {
        if (jwkThumbprint(createPublicKey(p.key)) !== jwkThumbprint(createPublicKey(k.key))) problems.push(`encryption.publicKeys[${i}]: key ${k.kid} is not the public half of encryption.privateKeys' key ${k.kid}`);
      } catch {
        // Reported above.
      }
    }
  }
  if (!enc.keys && !pub) problems.push('encryption.keys: is required');
  return sealing;
}

/**
 * The keyring of a serve process given only public keys: anything that would open or seal data
 * with the symmetric keys is refused (the admin API and everything past the webhook store live
 * in processes that hold the keys).
 */
export function publicOnlyKeyring(): Keyring {
  const refuse = (): never => {
    throw new NotSupportedError('opening or sealing with encryption.keys in a process that holds only encryption.publicKeys');
  };
  return { activeKid: '', encrypt: refuse, decrypt: refuse, encryptBytes: refuse, decryptBytes: refuse, blindIndex: refuse, mac: refuse };
}

/** What a process of this kind needs of the keys it was given, as config problems. */
export function processKeyProblems(config: { sealing: Sealing; server: { adminToken?: string } }, kind: 'start' | 'serve' | 'worker'): string[] {
  const { sealing } = config;
  const problems: string[] = [];
  if (kind !== 'serve' && !sealing.hasKeys) problems.push(`encryption.keys: synchub ${kind} needs the keys (only an internet-facing serve process goes without them, with encryption.publicKeys)`);
  if (kind !== 'serve' && sealing.publicKeys && !sealing.privateKeys) problems.push(`encryption.privateKeys: synchub ${kind} opens webhooks sealed with encryption.publicKeys and needs their private keys`);
  if (kind === 'serve' && !sealing.hasKeys && config.server.adminToken) problems.push('server.adminToken: the admin API opens sealed data and needs encryption.keys; serve it from a process that holds them, not from the one that holds only public keys');
  return problems;
}
