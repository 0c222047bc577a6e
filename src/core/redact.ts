import { SENSITIVE_PATHS, sealJson, type Keyring } from './crypto.js';
import type { Entity } from './canonical/schemas.js';
import { errorToJson, type ErrorJson } from './errors.js';

/**
 * The one scrubber for text that leaves the hub's sealed storage: dead-letter reasons,
 * job failure reasons (BullMQ keeps `message` and `stack` in Redis), log lines, CLI
 * output and admin answers. It removes
 *
 * - the record's own personal values (collected by `personalValues`: the canonical
 *   model's x-sensitive fields and the connectors' declared `personalFields`), wherever
 *   they occur, also JSON-escaped, case-insensitively, and
 * - anything email-shaped or phone-shaped, whoever it belongs to (a batch error of a
 *   target may name another record).
 *
 * Everything here scans the text once per needle, left to right, with no regex: the
 * text comes from outside (remote error bodies, source records).
 */

export const REDACTED = '[redacted]';
export const EMAIL_MARK = '[email]';
export const PHONE_MARK = '[phone]';

/** Values shorter than this are not searched for (a one-letter initial would mask every word). */
const MIN_VALUE_LENGTH = 2;
const MIN_NUMBER_LENGTH = 5;

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlnum = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 127;
/** Characters of an email's local part (RFC 5322 atext without the rarest ones) and of its domain. */
const isLocal = (c: number) => isAlnum(c) || c === 46 /* . */ || c === 95 /* _ */ || c === 37 /* % */ || c === 43 /* + */ || c === 45 /* - */ || c === 39 /* ' */;
const isDomain = (c: number) => isAlnum(c) || c === 46 || c === 45;

type Span = [start: number, end: number, mark: string];

/**
 * `local@domain.tld` spans. Each `@` extends left and right over its own characters only,
 * which stop at the next `@`, so every character is read at most twice.
 */
export function emailSpans(text: string): Span[] {
  const out: Span[] = [];
  let floor = 0;
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > floor && isLocal(text.charCodeAt(start - 1))) start--;
    let end = at + 1;
    let dot = -1;
    while (end < text.length && isDomain(text.charCodeAt(end))) {
      if (text.charCodeAt(end) === 46) dot = end;
      end++;
    }
    // The domain's last label may not end in a dot (a sentence's full stop).
    while (end > at + 1 && text.charCodeAt(end - 1) === 46) end--;
    if (start < at && dot > at + 1 && dot < end - 1) {
      out.push([start, end, EMAIL_MARK]);
      floor = end;
    }
  }
  return out;
}

const PHONE_SEPARATORS = new Set([32 /* space */, 45 /* - */, 46 /* . */, 40 /* ( */, 41 /* ) */, 47 /* / */]);

/**
 * Phone-shaped spans: `+` and 7 to 15 digits (E.164), or 7 to 15 digits in at least three
 * groups split by spaces, dashes, dots, slashes or parentheses (`(555) 010-9999`). A bare
 * run of digits is an id or an amount, not a phone; dates (`2024-06-01`) and decimals are
 * not phones either. One pass: a candidate ends where its characters end, and scanning
 * goes on from there.
 */
export function phoneSpans(text: string): Span[] {
  const out: Span[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const startsHere = (isDigit(c) || c === 43 /* + */ || c === 40 /* ( */) && (i === 0 || !isAlnum(text.charCodeAt(i - 1)));
    if (!startsHere) {
      i++;
      continue;
    }
    const start = i;
    const plus = c === 43;
    if (plus) i++;
    const groups: number[] = [];
    let digits = 0;
    let end = i;
    let separators = '';
    for (;;) {
      let j = i;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      if (j === i) {
        // Separators that led to no digits: "(" only opens a group.
        if (i < n && text.charCodeAt(i) === 40 && i + 1 < n && isDigit(text.charCodeAt(i + 1))) {
          i++;
          continue;
        }
        break;
      }
      groups.push(j - i);
      digits += j - i;
      end = j;
      // At most two separator characters between groups (") " in "(555) 010").
      let k = j;
      while (k < n && k - j < 2 && PHONE_SEPARATORS.has(text.charCodeAt(k))) k++;
      if (k === j || k >= n || !(isDigit(text.charCodeAt(k)) || text.charCodeAt(k) === 40)) break;
      separators += text.slice(j, k);
      i = k;
    }
    i = Math.max(end, start + 1);
    if (end < n && isAlnum(text.charCodeAt(end))) continue;
    if (digits < 7 || digits > 15) continue;
    if (!plus) {
      if (groups.length < 3) continue;
      const dateLike = !separators.includes(' ') && ((groups[0] === 4 && groups[1] === 2 && groups[2] === 2) || (groups[0] === 2 && groups[1] === 2 && groups[2] === 4));
      if (dateLike) continue;
    }
    // A "(" that opened the candidate is part of it; a trailing one is not.
    out.push([start, end, PHONE_MARK]);
  }
  return out;
}

/** Where the (lower-cased) needles occur in `lower`, whole words only at their alphanumeric edges. */
function valueSpans(lower: string, needles: Iterable<string>): Span[] {
  const out: Span[] = [];
  for (const needle of needles) {
    const first = needle.charCodeAt(0);
    const last = needle.charCodeAt(needle.length - 1);
    for (let at = lower.indexOf(needle); at !== -1; at = lower.indexOf(needle, at + 1)) {
      const end = at + needle.length;
      if (isAlnum(first) && at > 0 && isAlnum(lower.charCodeAt(at - 1))) continue;
      if (isAlnum(last) && end < lower.length && isAlnum(lower.charCodeAt(end))) continue;
      out.push([at, end, REDACTED]);
    }
  }
  return out;
}

/** Replaces the spans (merged where they overlap; the first span's mark names a merged one). */
function replaceSpans(text: string, spans: Span[]): string {
  if (!spans.length) return text;
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let at = 0;
  let open: Span | undefined;
  for (const s of spans) {
    if (open && s[0] < open[1]) {
      open[1] = Math.max(open[1], s[1]);
      continue;
    }
    if (open) {
      out += text.slice(at, open[0]) + open[2];
      at = open[1];
    }
    open = [...s];
  }
  if (open) out += text.slice(at, open[0]) + open[2];
  return out + text.slice(open ? open[1] : at);
}

/**
 * A set of personal values to scrub, normalised once. Values are kept lower-cased with
 * their JSON-escaped form (how they appear inside a quoted error body).
 */
export class PersonalValues {
  private readonly needles = new Set<string>();

  constructor(values: Iterable<unknown> = []) {
    for (const v of values) this.add(v);
  }

  get size(): number {
    return this.needles.size;
  }

  add(value: unknown): this {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') return this;
    const text = String(value).trim();
    // A short number under a personal field (an id in Odoo's [id, "name"] pairs) would mask every such count.
    if (text.length < (typeof value === 'string' ? MIN_VALUE_LENGTH : MIN_NUMBER_LENGTH)) return this;
    const lower = text.toLowerCase();
    this.needles.add(lower);
    const escaped = JSON.stringify(lower).slice(1, -1);
    if (escaped !== lower) this.needles.add(escaped);
    // As JSON writers that escape every non-ASCII character put it (`Zo\u00eb`).
    let ascii = '';
    for (const ch of escaped) ascii += ch.charCodeAt(0) > 127 ? ch.split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('') : ch;
    if (ascii !== escaped) this.needles.add(ascii);
    return this;
  }

  /** Every primitive at or under `value`, but ids (an address's `id`, `customer_id`): those name records, not people. */
  addDeep(value: unknown): this {
    if (Array.isArray(value)) for (const v of value) this.addDeep(v);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) (isIdKey(k) ? undefined : this.addDeep(v));
    else this.add(value);
    return this;
  }

  /** The values of a canonical record's x-sensitive fields. */
  addCanonical(entity: Entity, record: unknown): this {
    for (const path of SENSITIVE_PATHS[entity]) this.addDeep(valuesAt(record, path));
    return this;
  }

  /**
   * The values under `paths` of a record in an API's shape: dot-separated steps, an array
   * on the way is entered element by element (`line_items.email`), `*` takes every key.
   */
  addPaths(record: unknown, paths: readonly string[]): this {
    for (const p of paths) this.addDeep(valuesAt(record, p.split('.')));
    return this;
  }

  /** Values under personal-looking field names (isPersonalKey), at any depth: records in shapes no connector declared. */
  addPersonalKeys(record: unknown): this {
    if (Array.isArray(record)) for (const x of record) this.addPersonalKeys(x);
    else if (record && typeof record === 'object') for (const [k, x] of Object.entries(record)) (isPersonalKey(k) ? this.addDeep(x) : this.addPersonalKeys(x));
    return this;
  }

  /** The email addresses among the values: erasure finds a dead letter by them when no canonical record was made. */
  emails(): string[] {
    return [...this.needles].filter((n) => EMAIL_VALUE.test(n));
  }

  merge(other: PersonalValues): this {
    for (const n of other.needles) this.needles.add(n);
    return this;
  }

  has(value: unknown): boolean {
    return (typeof value === 'string' || typeof value === 'number') && this.needles.has(String(value).trim().toLowerCase());
  }

  /** @internal */
  spans(lower: string): Span[] {
    return valueSpans(lower, this.needles);
  }
}

/** A needle that is an email address (escaped forms, with a backslash or a quote, are not). */
const EMAIL_VALUE = /^[^\s@"\\]+@[^\s@"\\]+\.[^\s@"\\]+$/;

/**
 * `new PersonalValues().addPaths(record, paths).emails()`, in the same order, without building
 * every value's needles (its escaped forms): the webhook route asks this of every event it
 * stores (who the stored body names, for erasure), where building them cost ~2% of the hub's CPU.
 */
export function emailsAt(record: unknown, paths: readonly string[]): string[] {
  const found = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) for (const v of value) visit(v);
    else if (value && typeof value === 'object') {
      // The id-key test (addDeep's) only where an address could be: most values are neither.
      for (const k of Object.keys(value)) {
        const v = (value as Record<string, unknown>)[k];
        if ((typeof v === 'string' ? v.includes('@') : v !== null && typeof v === 'object') && !isIdKey(k)) visit(v);
      }
    } else if (typeof value === 'string' && value.includes('@')) {
      // As add() keeps it; a number never holds an '@'.
      const lower = value.trim().toLowerCase();
      if (lower.length >= MIN_VALUE_LENGTH && EMAIL_VALUE.test(lower)) found.add(lower);
    }
  };
  for (const p of paths) visit(valuesAt(record, p.split('.')));
  return [...found];
}

function isIdKey(key: string): boolean {
  const words = keyWords(key);
  return words.length > 0 && words[words.length - 1] === 'id' && !isPersonalKey(key);
}

function valuesAt(target: unknown, steps: readonly string[], depth = 0): unknown[] {
  if (target === null || target === undefined) return [];
  if (Array.isArray(target)) return target.flatMap((t) => valuesAt(t, steps, depth));
  if (depth === steps.length) return [target];
  if (typeof target !== 'object') return [];
  const step = steps[depth];
  const obj = target as Record<string, unknown>;
  if (step === '*') return Object.values(obj).flatMap((v) => valuesAt(v, steps, depth + 1));
  return Object.hasOwn(obj, step) ? valuesAt(obj[step], steps, depth + 1) : [];
}

/** The text without the values and without anything email- or phone-shaped. */
export function scrubText(text: string, values?: PersonalValues): string {
  if (!text) return text;
  let spans = emailSpans(text).concat(phoneSpans(text));
  if (values?.size) spans = spans.concat(values.spans(text.toLowerCase()));
  return replaceSpans(text, spans);
}

/** scrubText on every string of a JSON-like value (keys kept), at any depth. */
export function scrubDeep(value: unknown, values?: PersonalValues): unknown {
  if (typeof value === 'string') return scrubText(value, values);
  if (typeof value === 'number') return values?.has(value) ? REDACTED : value;
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, values));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, values)]));
  return value;
}

const UNSCRUBBED = Symbol('synchub.unscrubbed');

/**
 * Rewrites a thrown error's message and stack in place, so what BullMQ keeps of it
 * (`failedReason`, `stacktrace`) and what the logs print carry no personal data. The
 * error keeps its class, code and retry semantics; its `details` and `cause` (which
 * BullMQ does not keep) are scrubbed too, since logs may print them.
 */
export function scrubThrown<T>(err: T, values?: PersonalValues): T {
  if (!(err instanceof Error)) return err;
  const message = err.message;
  const scrubbed = scrubText(message, values);
  const e = err as Error & { details?: unknown; [UNSCRUBBED]?: ErrorJson };
  // What the remote system said, for the sealed copy a dead letter keeps (deadLetterError).
  if (!Object.hasOwn(e, UNSCRUBBED)) Object.defineProperty(e, UNSCRUBBED, { value: errorToJson(err), enumerable: false });
  if (scrubbed !== message) {
    e.message = scrubbed;
    if (typeof e.stack === 'string') e.stack = scrubText(e.stack.split(message).join(scrubbed), values);
  } else if (typeof e.stack === 'string') {
    e.stack = scrubText(e.stack, values);
  }
  if ('details' in e && e.details !== undefined) {
    try {
      Object.defineProperty(e, 'details', { value: scrubDeep(e.details, values), configurable: true, enumerable: true, writable: false });
    } catch {
      // A frozen error keeps its details; they are not stored anywhere.
    }
  }
  if (e.cause instanceof Error) scrubThrown(e.cause, values);
  return err;
}

/** Associated data of a dead letter's sealed error. */
export const DEAD_LETTER_ERROR_AAD = 'dlq:error';

/**
 * A dead letter's reason in two parts: `error`, scrubbed, kept readable (lists, the CLI,
 * filters by code), without the remote body; and `errorSealed`, the error as the remote
 * system gave it (message and body), sealed with the keyring like the record itself.
 */
export function deadLetterError(keyring: Keyring, err: unknown, values?: PersonalValues): { error: ErrorJson; errorSealed?: string } {
  const original = (err instanceof Error && (err as { [UNSCRUBBED]?: ErrorJson })[UNSCRUBBED]) || errorToJson(err);
  const json = errorToJson(err);
  const error: ErrorJson = { code: json.code, message: scrubText(json.message, values) };
  if (json.details !== undefined) error.details = scrubDeep(withoutBody(json.details), values);
  const plain = JSON.stringify(original);
  return plain === JSON.stringify(error) ? { error } : { error, errorSealed: sealJson(keyring, original, DEAD_LETTER_ERROR_AAD) };
}

/** A remote answer's body stays in the sealed copy only. */
function withoutBody(details: unknown): unknown {
  if (!details || typeof details !== 'object' || Array.isArray(details) || !('body' in details)) return details;
  const { body: _sealed, ...rest } = details as Record<string, unknown>;
  return rest;
}

// ---- Field names that carry personal data, for records in shapes no connector declared ----

/** Words of a field name (snake, kebab, camel case, digits apart): `MailingPostalCode` → mailing, postal, code. */
function keyWords(key: string): string[] {
  const words: string[] = [];
  let word = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const upper = c >= 65 && c <= 90;
    const letter = upper || (c >= 97 && c <= 122);
    const digit = isDigit(c);
    const prev = i > 0 ? key.charCodeAt(i - 1) : 0;
    const boundary = !letter || (upper && !(prev >= 65 && prev <= 90) && word !== '') || (digit !== isDigit(prev) && word !== '');
    if (boundary && word) {
      words.push(word);
      word = '';
    }
    if (letter) word += key[i].toLowerCase();
  }
  if (word) words.push(word);
  return words;
}

/** A field is personal when one of its words is one of these (telephone1 → telephone, MobilePhone → phone). */
const PERSONAL_WORDS = new Set([
  'email', 'emails', 'mail', 'phone', 'telephone', 'mobilephone', 'homephone', 'mobile', 'fax', 'name', 'firstname', 'lastname', 'fullname',
  'givenname', 'familyname', 'middlename', 'surname', 'username', 'contactname', 'displayname', 'nickname', 'street', 'address', 'addresses',
  'city', 'zip', 'zipcode', 'postcode', 'postal', 'postalcode', 'birth', 'birthday', 'birthdate', 'dob', 'taxvat', 'vat', 'ssn', 'logon', 'login',
  'ip', 'note', 'payer', 'billing', 'openid', 'province',
]);
/** ... or a word starts with one of these (emailaddress1, phonenumber, streetaddress). */
const PERSONAL_PREFIXES = ['email', 'phone', 'street', 'address', 'telephone'];

export function isPersonalKey(key: string): boolean {
  for (const w of keyWords(key)) {
    if (PERSONAL_WORDS.has(w)) return true;
    for (const p of PERSONAL_PREFIXES) if (w.startsWith(p)) return true;
  }
  return false;
}
