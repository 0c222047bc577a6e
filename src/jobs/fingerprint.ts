import type { Keyring } from '../core/crypto.js';

/**
 * A fingerprint is `<version ms>:<HMAC of the payload a connection got>`.
 * Keyed, so it reveals nothing about the personal data in the payload.
 */
export function payloadMac(keyring: Keyring, payload: unknown): string {
  return keyring.mac(stableStringify(payload));
}

export function fingerprint(version: number, mac: string): string {
  return `${version}:${mac}`;
}

export function parseFingerprint(fp: string): { version: number; mac: string } {
  const i = fp.indexOf(':');
  return { version: Number(fp.slice(0, i)), mac: fp.slice(i + 1) };
}

export function fingerprintMatches(fp: string, mac: string): boolean {
  return parseFingerprint(fp).mac === mac;
}

/**
 * JSON with sorted keys, so the same content always gives the same MAC (stored fingerprints
 * depend on this exact text). Plain data (what a mapping gives: see sortedKeys) is written by
 * JSON.stringify with the sorted list of every key in it, which writes each object's keys in
 * the list's order: the same text as written here key by key below, as one string instead of
 * hundreds of pieces (strings made per key and value, and joined) a payload.
 */
export function stableStringify(value: unknown): string {
  const keys = value !== null && typeof value === 'object' ? sortedKeys(value) : undefined;
  return keys ? JSON.stringify(value, keys) : stableStringifyEach(value);
}

const OBJECT_PROTOTYPE = Object.prototype;
const MAX_VISITED = 1_000_000;

/**
 * Every key of the objects in `value`, sorted as Object.keys(…).sort() sorts each object's own;
 * undefined when JSON.stringify with them could write other text than stableStringifyEach: an
 * object that is not a plain one (a Date's toJSON, a boxed string, a Map), a property that is
 * undefined or a function (JSON.stringify leaves it out, stableStringifyEach writes null), or
 * a key an object inherits (JSON.stringify's list reads `__proto__`, `toString` … through the
 * prototype of an object that does not have it). Objects have only enumerable own properties,
 * as JSON.parse and mappings (engine.ts compact) make them.
 */
function sortedKeys(value: object): string[] | undefined {
  const keys: string[] = [];
  const stack: unknown[] = [value];
  // A structure with a cycle (no mapping gives one) is left to stableStringifyEach, which throws.
  for (let visited = 0; stack.length; visited++) {
    if (visited > MAX_VISITED) return undefined;
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
      continue;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== OBJECT_PROTOTYPE && proto !== null) return undefined;
    for (const key in v) {
      if (!Object.prototype.hasOwnProperty.call(v, key)) return undefined;
      const item = (v as Record<string, unknown>)[key];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol' || typeof item === 'bigint') return undefined;
      if (key in OBJECT_PROTOTYPE) return undefined;
      if (keys.length < INSERTION_MAX) insertSorted(keys, key);
      else keys.push(key);
      if (item !== null && typeof item === 'object') stack.push(item);
    }
  }
  if (keys.length <= INSERTION_MAX) return keys;
  // Many keys: sorted at once, then each once (JSON.stringify would skip a repeat; a shorter list is quicker to read).
  keys.sort();
  let unique = 0;
  for (let i = 0; i < keys.length; i++) if (i === 0 || keys[i] !== keys[i - 1]) keys[unique++] = keys[i];
  keys.length = unique;
  return keys;
}

/** Up to this many keys, each is put in its place as it comes (Array.prototype.sort allocates its own work arrays). */
const INSERTION_MAX = 64;

/** Puts `key` in its place in sorted `keys` (the order of sort(): UTF-16 code units, as `<` compares strings), once. */
function insertSorted(keys: string[], key: string): void {
  let i = keys.length;
  while (i > 0 && keys[i - 1] > key) i--;
  if (i > 0 && keys[i - 1] === key) return;
  keys.push(key);
  for (let j = keys.length - 1; j > i; j--) keys[j] = keys[j - 1];
  keys[i] = key;
}

/** stableStringify written out key by key: every value, also those sortedKeys leaves to it. */
function stableStringifyEach(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + stableStringifyEach(value[i]);
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) out += `${i ? ',' : ''}${JSON.stringify(keys[i])}:${stableStringifyEach((value as Record<string, unknown>)[keys[i]])}`;
  return `${out}}`;
}
