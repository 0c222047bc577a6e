import { SENSITIVE_PATHS } from '../core/crypto.js';
import type { Entity } from '../core/canonical/schemas.js';

/**
 * Masking for what admins see: enough to recognise a record (first letter, an
 * email's domain), not the personal data itself.
 */
export function maskValue(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'string') {
    if (!value) return value;
    const at = value.indexOf('@');
    if (at > 0) return `${value[0]}***${value.slice(at)}`;
    return `${value[0]}***`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return '***';
  if (Array.isArray(value)) return value.map(maskValue);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v)]));
  return '***';
}

/** Field names that carry personal data in the APIs' own shapes (raw source records). */
const PERSONAL_KEY = /(^|_|-)(e-?mail|email_address|phone|mobile|fax|first_?name|last_?name|given_?name|family_?name|full_?name|contact_?name|birth(day|date)?|address\d?|street|city|zip|postcode|postal_?code|province|note|browser_ip|customer_locale|payer)$|address|^billing|^shipping_address|^email|^phone|^firstname|^lastname/i;

/** Masks personal fields of a record in an API's shape, by field name, at any depth. */
export function maskRawRecord(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskRawRecord);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, PERSONAL_KEY.test(k) ? maskValue(v) : maskRawRecord(v)]));
  }
  return value;
}

/** Masks the fields the canonical schema marks x-sensitive. */
export function maskCanonical(entity: Entity, record: unknown): unknown {
  let out = record;
  for (const path of SENSITIVE_PATHS[entity]) out = maskAt(out, path);
  return out;
}

function maskAt(target: unknown, steps: string[]): unknown {
  if (target === null || typeof target !== 'object') return target;
  const [step, ...rest] = steps;
  if (step === '*') return Array.isArray(target) ? target.map((t) => (rest.length ? maskAt(t, rest) : maskValue(t))) : target;
  const obj = target as Record<string, unknown>;
  if (!(step in obj)) return target;
  return { ...obj, [step]: rest.length ? maskAt(obj[step], rest) : maskValue(obj[step]) };
}

/** Personal values of a raw record (under personal field names), for maskLeaks. */
export function personalValues(value: unknown, out: Set<string> = new Set(), personal = false): Set<string> {
  if (Array.isArray(value)) for (const v of value) personalValues(v, out, personal);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) personalValues(v, out, personal || PERSONAL_KEY.test(k));
  else if (personal && (typeof value === 'string' || typeof value === 'number') && String(value).trim().length >= 3) out.add(String(value).trim().toLowerCase());
  return out;
}

/**
 * Masks every string that carries one of `secrets` (case-insensitive), wherever an
 * expression put it: a mapping being tried on a real record cannot copy an email
 * into an innocent-looking field and show it in plaintext.
 */
export function maskLeaks(value: unknown, secrets: Set<string>): unknown {
  if (!secrets.size) return value;
  if (Array.isArray(value)) return value.map((v) => maskLeaks(v, secrets));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskLeaks(v, secrets)]));
  if (typeof value === 'string' || typeof value === 'number') {
    const s = String(value).toLowerCase();
    for (const secret of secrets) if (s.includes(secret)) return maskValue(String(value));
  }
  return value;
}
