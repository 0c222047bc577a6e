import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, randomFillSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { DecryptError } from './errors.js';
import { canonicalSchemas, type Entity } from './canonical/schemas.js';

/**
 * AES-256-GCM for personal data before it reaches Redis.
 * Ciphertext format: `enc:v1:<kid>:<iv b64>:<ciphertext+tag b64>`. The associated
 * data is the field path, so a value cannot be moved to another field unnoticed.
 */
const PREFIX = 'enc:v1:';
/**
 * Binary form: `SHB1`, the key id's length (one byte), the key id, the IV, the ciphertext
 * and its tag. Same cipher and associated data as `enc:v1`, without base64.
 */
const BINARY_MAGIC = Buffer.from('SHB1', 'latin1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Keyring {
  /** Key id used for new ciphertext (the first key of `encryption.keys`). */
  readonly activeKid: string;
  /** A Buffer plaintext is sealed as its bytes (UTF-8 text, e.g. JSON as received). */
  encrypt(plaintext: string | Buffer, aad: string): string;
  decrypt(ciphertext: string, aad: string): string;
  /**
   * The same AES-256-GCM as bytes (see BINARY_MAGIC), for large documents kept in Redis: no
   * base64, no text copies. A plaintext given in parts is sealed as their concatenation.
   * `prefix` (not sealed) goes in front of the sealed bytes in the one buffer returned, for a
   * document that keeps a plain header beside its ciphertext (a coalesce entry): not copied twice.
   */
  encryptBytes(plaintext: string | Buffer | readonly (string | Buffer)[], aad: string, prefix?: Buffer): Buffer;
  /** The plaintext's bytes, not decoded. */
  decryptBytes(ciphertext: Buffer, aad: string): Buffer;
  /** Keyed HMAC for look-ups by a personal value (blind index). Stable across rotation of the encrypting key. */
  blindIndex(value: string): string;
  /** Keyed HMAC of arbitrary content (fingerprints). */
  mac(content: string): string;
}

/**
 * Fresh random IVs, drawn from the CSPRNG 4,096 at a time: one call per IV cost more than
 * the encryption itself under load. Each IV is still used once and is 96 random bits.
 */
const ivPool = Buffer.allocUnsafe(IV_BYTES * 4096);
let ivOffset = ivPool.length;

function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    randomFillSync(ivPool);
    ivOffset = 0;
  }
  const iv = Buffer.from(ivPool.subarray(ivOffset, ivOffset + IV_BYTES));
  ivOffset += IV_BYTES;
  return iv;
}

/** Why a key id cannot be used (the same rule for the config's keys and `synchub keys generate`), or undefined. */
export function keyIdProblem(kid: string): string | undefined {
  return /^[A-Za-z0-9_-]{1,32}$/.test(kid) ? undefined : `key id "${kid}" may use only letters, digits, _ and - (1 to 32 of them)`;
}

/** Parses `kid:base64key,kid2:base64key`. Every key decrypts; the first encrypts. */
export function parseKeys(spec: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const idx = part.indexOf(':');
    if (idx <= 0) throw new Error(`key "${part.slice(0, 8)}…" must look like kid:base64key`);
    const kid = part.slice(0, idx);
    const kidProblem = keyIdProblem(kid);
    if (kidProblem) throw new Error(kidProblem);
    const key = Buffer.from(part.slice(idx + 1), 'base64');
    if (key.length !== 32) throw new Error(`key ${kid} must be 32 bytes of base64 (got ${key.length} bytes)`);
    if (keys.has(kid)) throw new Error(`key id ${kid} appears twice`);
    keys.set(kid, key);
  }
  if (keys.size === 0) throw new Error('no encryption key given');
  return keys;
}

export function generateKeySpec(kid = `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`): string {
  const kidProblem = keyIdProblem(kid);
  if (kidProblem) throw new Error(kidProblem);
  return `${kid}:${randomBytes(32).toString('base64')}`;
}

/**
 * @param indexKid key whose derived HMAC key builds blind indexes and fingerprints.
 *   Default: the last key listed (the oldest, which rotation keeps longest).
 */
export function createKeyring(spec: string, indexKid?: string): Keyring {
  const keys = parseKeys(spec);
  const kids = [...keys.keys()];
  const activeKid = kids[0];
  const indexSource = keys.get(indexKid ?? kids[kids.length - 1]);
  if (!indexSource) throw new Error(`encryption.indexKeyId ${indexKid} is not among the keys`);
  const indexKey = Buffer.from(hkdfSync('sha256', indexSource, Buffer.alloc(0), 'synchub blind index v1', 32));
  // Key objects are imported once, not on every call.
  const keyObjects = new Map<string, KeyObject>([...keys].map(([kid, key]) => [kid, createSecretKey(key)]));
  const activeKey = keyObjects.get(activeKid)!;
  const activeKidBytes = Buffer.from(activeKid, 'latin1');
  /** What every bytes-form ciphertext of the active key starts with, before its IV. */
  const binaryHead = Buffer.concat([BINARY_MAGIC, Buffer.from([activeKidBytes.length]), activeKidBytes]);

  const decryptBytes = (data: Buffer, aad: string): Buffer => {
    if (data.length < BINARY_MAGIC.length || !data.subarray(0, BINARY_MAGIC.length).equals(BINARY_MAGIC)) throw new DecryptError(`${aad}: value is not synchub ciphertext`);
    let at = BINARY_MAGIC.length;
    const kidLength = data[at++] ?? 0;
    const kid = data.subarray(at, (at += kidLength)).toString('latin1');
    const key = keyObjects.get(kid);
    if (!key) throw new DecryptError(`${aad}: encrypted with key ${kid}, which is not in the keyring`);
    if (data.length < at + IV_BYTES + TAG_BYTES) throw new DecryptError(`${aad}: ciphertext is truncated`);
    const iv = data.subarray(at, (at += IV_BYTES));
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = decipher.update(data.subarray(at, data.length - TAG_BYTES));
      // GCM's final() checks the tag and returns nothing more: the plaintext is not copied again.
      const rest = decipher.final();
      return rest.length ? Buffer.concat([plain, rest]) : plain;
    } catch {
      throw new DecryptError(`${aad}: ciphertext failed authentication (tampered, or bound to another field)`);
    }
  };

  return {
    activeKid,
    encrypt(plaintext, aad) {
      const iv = nextIv();
      const cipher = createCipheriv('aes-256-gcm', activeKey, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const ct = Buffer.concat([typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return `${PREFIX}${activeKid}:${iv.toString('base64')}:${ct.toString('base64')}`;
    },
    decrypt(ciphertext, aad) {
      if (!ciphertext.startsWith(PREFIX)) throw new DecryptError(`${aad}: value is not synchub ciphertext`);
      const [kid, ivB64, ctB64] = ciphertext.slice(PREFIX.length).split(':');
      const key = keyObjects.get(kid);
      if (!key) throw new DecryptError(`${aad}: encrypted with key ${kid}, which is not in the keyring`);
      const iv = Buffer.from(ivB64 ?? '', 'base64');
      const data = Buffer.from(ctB64 ?? '', 'base64');
      if (iv.length !== IV_BYTES || data.length < TAG_BYTES) throw new DecryptError(`${aad}: ciphertext is truncated`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAAD(Buffer.from(aad, 'utf8'));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new DecryptError(`${aad}: ciphertext failed authentication (tampered, or bound to another field)`);
      }
    },
    encryptBytes(plaintext, aad, prefix) {
      const iv = nextIv();
      const cipher = createCipheriv('aes-256-gcm', activeKey, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const out: Buffer[] = prefix ? [prefix, binaryHead, iv] : [binaryHead, iv];
      if (typeof plaintext === 'string') out.push(cipher.update(plaintext, 'utf8'));
      else if (Buffer.isBuffer(plaintext)) out.push(cipher.update(plaintext));
      else for (const part of plaintext) out.push(typeof part === 'string' ? cipher.update(part, 'utf8') : cipher.update(part));
      out.push(cipher.final(), cipher.getAuthTag());
      return Buffer.concat(out);
    },
    decryptBytes,
    blindIndex(value) {
      return createHmac('sha256', indexKey).update('bi:').update(value.trim().toLowerCase()).digest('base64url');
    },
    mac(content) {
      return createHmac('sha256', indexKey).update('fp:').update(content).digest('base64url');
    },
  };
}

/**
 * The blind index of `value`, a field of `holder` (a canonical record or its customer), kept with
 * the object for as long as the object lives. Ingest asks for the same order's customer email five
 * times (order type, segment, order facts, timeline, erasure index), ~2 µs of HMAC each; it is now
 * computed once per record. Kept with the object itself (a WeakMap), so no email outlives the record
 * that holds it; a changed value or another keyring computes it again.
 */
const blindIndexes = new WeakMap<object, { keyring: Keyring; value: string; index: string }>();

export function blindIndexOf(keyring: Keyring, holder: object, value: string): string {
  const known = blindIndexes.get(holder);
  if (known && known.keyring === keyring && known.value === value) return known.index;
  const index = keyring.blindIndex(value);
  blindIndexes.set(holder, { keyring, value, index });
  return index;
}

export function isCiphertext(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

// ---- Field-level encryption driven by the canonical schemas' x-sensitive marks ----

type PathStep = string | '*';
interface SchemaNode { type?: unknown; properties?: Record<string, SchemaNode>; items?: SchemaNode; 'x-sensitive'?: boolean }

function collectSensitivePaths(node: SchemaNode, prefix: PathStep[], out: PathStep[][]): void {
  if (node['x-sensitive']) {
    out.push(prefix);
    return;
  }
  for (const [key, child] of Object.entries(node.properties ?? {})) collectSensitivePaths(child, [...prefix, key], out);
  if (node.items) collectSensitivePaths(node.items, [...prefix, '*'], out);
}

/** Paths of the sensitive fields of each entity, e.g. `customer.addresses.*`. */
export const SENSITIVE_PATHS: Record<Entity, PathStep[][]> = Object.fromEntries(
  Object.entries(canonicalSchemas).map(([entity, schema]) => {
    const out: PathStep[][] = [];
    collectSensitivePaths(schema as SchemaNode, [], out);
    return [entity, out];
  }),
) as Record<Entity, PathStep[][]>;

type Transform = (value: unknown, aad: string) => unknown;

/** An entity's sensitive paths as one tree, so a record is copied once along them, not once per path. */
interface PathTree { leaf?: true; children?: Map<PathStep, PathTree> }

function pathTree(paths: PathStep[][]): PathTree {
  const root: PathTree = {};
  for (const path of paths) {
    let node = root;
    for (const step of path) {
      node.children ??= new Map();
      let next = node.children.get(step);
      if (!next) node.children.set(step, (next = {}));
      node = next;
    }
    node.leaf = true;
  }
  return root;
}

const SENSITIVE_TREES = Object.fromEntries(Object.entries(SENSITIVE_PATHS).map(([entity, paths]) => [entity, pathTree(paths)])) as Record<Entity, PathTree>;

function walk(target: unknown, node: PathTree, at: string, fn: Transform): unknown {
  if (node.leaf) return target === undefined || target === null ? target : fn(target, at);
  if (target === null || typeof target !== 'object' || !node.children) return target;
  const all = node.children.get('*');
  if (all) return Array.isArray(target) ? target.map((item, i) => walk(item, all, `${at}.${i}`, fn)) : target;
  if (Array.isArray(target)) return target;
  const obj = target as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const [step, child] of node.children) {
    if (!(step in obj)) continue;
    copy ??= { ...obj };
    copy[step] = walk(obj[step], child, `${at}.${step}`, fn);
  }
  return copy ?? target;
}

function transformSensitive<T>(entity: Entity, record: T, fn: Transform): T {
  return walk(record, SENSITIVE_TREES[entity], entity, fn) as T;
}

/**
 * Field-level form of a canonical record: each sensitive field sealed in place, bound to its
 * path, the rest readable. Push jobs carried records in this form before their batches were
 * sealed whole (see pushRecordsAad); decryptRecord still opens what such jobs hold.
 */
export function encryptRecord<T>(keyring: Keyring, entity: Entity, record: T): T {
  return transformSensitive(entity, record, (value, aad) => (isCiphertext(value) ? value : keyring.encrypt(JSON.stringify(value), aad)));
}

export function decryptRecord<T>(keyring: Keyring, entity: Entity, record: T): T {
  return transformSensitive(entity, record, (value, aad) => (isCiphertext(value) ? JSON.parse(keyring.decrypt(value, aad)) : value));
}

/** Whole-document encryption for raw API payloads (stored webhook bodies, source records in dead letters). */
export function sealJson(keyring: Keyring, value: unknown, aad: string): string {
  return keyring.encrypt(JSON.stringify(value), aad);
}

export function openJson<T = unknown>(keyring: Keyring, sealed: string, aad: string): T {
  return JSON.parse(keyring.decrypt(sealed, aad)) as T;
}

/** sealJson as bytes, for large documents kept in Redis (pulled pages, order snapshots). */
export function sealJsonBytes(keyring: Keyring, value: unknown, aad: string): Buffer {
  return keyring.encryptBytes(JSON.stringify(value), aad);
}

/** The plaintext of bytes sealed with encryptBytes, or as `enc:v1` text before (read back from Redis as bytes). */
export function openBytes(keyring: Keyring, sealed: Buffer, aad: string): Buffer {
  if (sealed.subarray(0, PREFIX.length).toString('latin1') === PREFIX) return Buffer.from(keyring.decrypt(sealed.toString('utf8'), aad), 'utf8');
  return keyring.decryptBytes(sealed, aad);
}

/** Opens what sealJsonBytes made, and what sealJson made before (read back from Redis as bytes). */
export function openJsonBytes<T = unknown>(keyring: Keyring, sealed: Buffer, aad: string): T {
  return JSON.parse(openBytes(keyring, sealed, aad).toString('utf8')) as T;
}

/**
 * `enc:v1` text as the bytes form (BINARY_MAGIC), without opening it: the same key id, IV,
 * ciphertext and tag, so decryptBytes opens it under the same associated data. A sealed value
 * kept again elsewhere as bytes (a stored webhook event's record as its source page) is then
 * not decrypted and sealed again.
 */
export function ciphertextBytes(text: string, prefix?: Buffer): Buffer {
  if (!text.startsWith(PREFIX)) throw new DecryptError('value is not synchub ciphertext');
  const [kid = '', ivB64 = '', ctB64 = ''] = text.slice(PREFIX.length).split(':');
  // Decoded straight into the one buffer returned (behind `prefix`, if any): no part copied twice.
  const head = prefix?.length ?? 0;
  const kidLength = Buffer.byteLength(kid, 'latin1');
  const ivAt = head + BINARY_MAGIC.length + 1 + kidLength;
  const out = Buffer.allocUnsafe(ivAt + Buffer.byteLength(ivB64, 'base64') + Buffer.byteLength(ctB64, 'base64'));
  prefix?.copy(out, 0);
  BINARY_MAGIC.copy(out, head);
  out[head + BINARY_MAGIC.length] = kidLength;
  out.write(kid, head + BINARY_MAGIC.length + 1, 'latin1');
  const ivLength = out.write(ivB64, ivAt, 'base64');
  const dataLength = out.write(ctB64, ivAt + ivLength, 'base64');
  if (!kid || kidLength > 255 || ivLength !== IV_BYTES || dataLength < TAG_BYTES) throw new DecryptError('ciphertext is truncated');
  return ivAt + ivLength + dataLength === out.length ? out : out.subarray(0, ivAt + ivLength + dataLength);
}

/** Timing-safe comparison of two strings (secrets, signatures, tokens). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    // Compare against itself so the time does not depend on where the strings differ.
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}
