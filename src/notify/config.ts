import { SENSITIVE_PATHS } from '../core/crypto.js';
import { recipientFromPem } from '../core/jwe.js';
import { compileTemplate, TemplateSyntaxError } from './templates.js';
import { DEFAULT_DIGEST, DEFAULT_TEMPLATES } from './mail-defaults.js';
import type { EmailSink, EncryptFor, MailTemplates, NotifySink } from './types.js';

/** Order fields `encryptFor` may carry: the personal ones (x-sensitive in the canonical order schema). */
export const SEALABLE_FIELDS = SENSITIVE_PATHS.order.map((p) => p.join('.'));

export const encryptForSchema = {
  type: 'object', additionalProperties: false, required: ['publicKey', 'fields'],
  description: 'Personal fields of the event\u2019s order, sealed for one recipient: the body gains `personal`, a JWE compact (RSA-OAEP-256 or ECDH-ES+A256KW, A256GCM) of those fields as JSON',
  properties: {
    publicKey: { type: 'string', minLength: 1, description: 'The recipient\u2019s PEM public key: RSA (2048 bits or more), EC P-256/P-384/P-521 or X25519', examples: ['${file:keys/erp-public.pem}'] },
    keyId: { type: 'string', pattern: '^[\\x21-\\x7e]{1,128}$', description: 'The JWE `kid`; default the key\u2019s RFC 7638 thumbprint' },
    fields: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: SEALABLE_FIELDS }, description: 'Order fields to seal', examples: [['customer.email', 'shippingAddress']] },
  },
} as const;

const mailTemplateSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    subject: { type: 'string', maxLength: 1000, description: 'Subject line template' },
    text: { type: 'string', maxLength: 100_000, description: 'Plain-text part template (use ${file:…} for long ones)' },
    html: { type: 'string', maxLength: 100_000, description: 'HTML part template; values are HTML-escaped' },
  },
} as const;

const EVENT_KEY = '^(\\*|(order|payment)\\.(\\*|[a-z_]+))$';

export const emailSinkSchema = {
  type: 'object', additionalProperties: false, required: ['type', 'smtp', 'from', 'events'],
  properties: {
    type: { const: 'email' },
    smtp: {
      type: 'object', additionalProperties: false, required: ['host'],
      properties: {
        host: { type: 'string', minLength: 1, examples: ['smtp.example.com'] },
        port: { type: 'integer', minimum: 1, maximum: 65535, description: 'Default 587 (starttls), 465 (implicit), 25 (none)' },
        tls: { enum: ['starttls', 'implicit', 'none'], default: 'starttls', description: 'starttls: the upgrade is required before anything else is sent; implicit: TLS from the first byte (port 465); none: plaintext, for a relay on this host or network' },
        user: { type: 'string', description: 'Login (use ${VARIABLE} or ${file:…})' },
        password: { type: 'string', description: 'Password (use ${VARIABLE} or ${file:…})' },
        allowPlaintextAuth: { type: 'boolean', default: false, description: 'Lets tls: none send user and password unencrypted (a local relay only)' },
        ca: { type: 'string', description: 'PEM of the CA of the server\u2019s certificate, when it is not a public one', examples: ['${file:certs/relay-ca.pem}'] },
        servername: { type: 'string', description: 'Name the server\u2019s certificate must carry, when host is an address' },
        timeoutMs: { type: 'integer', minimum: 1000, default: 30000 },
      },
    },
    from: { type: 'string', minLength: 3, examples: ['Shop orders <orders@example.com>'] },
    to: { type: 'array', items: { type: 'string', format: 'email' }, default: [], description: 'Fixed recipients', examples: [['ops@example.com']] },
    toCustomer: { type: 'boolean', default: false, description: 'Also mail the customer\u2019s own address on the order (not with digest)' },
    events: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: EVENT_KEY }, description: 'Events mailed, by routing key', examples: [['order.paid', 'payment.failed', 'order.refunded', 'order.cancelled']] },
    locale: { type: 'string', default: 'en-US', description: 'Locale of amounts (BCP 47)', examples: ['de-DE'] },
    templates: { type: 'object', propertyNames: { pattern: `${EVENT_KEY}|^default$` }, additionalProperties: mailTemplateSchema, description: 'Per event (routing key, order.*, payment.*, default): subject, text, html; what is not given comes from the built-in template' },
    digest: {
      type: 'object', additionalProperties: false, required: ['everyMinutes'],
      description: 'One mail per window with every event of it, instead of one mail per event',
      properties: {
        everyMinutes: { type: 'integer', minimum: 1, maximum: 1440, examples: [15] },
        maxEvents: { type: 'integer', minimum: 1, maximum: 10000, default: 500, description: 'Events listed in one digest; the rest are counted' },
        ...mailTemplateSchema.properties,
      },
    },
    attempts: { type: 'integer', minimum: 1, default: 6 },
    backoffMs: { type: 'integer', minimum: 1, default: 1000 },
  },
} as const;

function compileMail(raw: Record<string, string> | undefined, base: Record<'subject' | 'text' | 'html', string>, at: string, problems: string[]): MailTemplates | undefined {
  const out: Partial<MailTemplates> = {};
  for (const part of ['subject', 'text', 'html'] as const) {
    try {
      out[part] = compileTemplate(raw?.[part] ?? base[part]);
    } catch (err) {
      if (!(err instanceof TemplateSyntaxError)) throw err;
      problems.push(`${at}.${part}: ${err.message}`);
    }
  }
  return out.subject && out.text && out.html ? (out as MailTemplates) : undefined;
}

function parseEncryptFor(raw: Record<string, any> | undefined, at: string, problems: string[]): EncryptFor | undefined {
  if (!raw) return undefined;
  try {
    return { recipient: recipientFromPem(raw.publicKey, raw.keyId), fields: raw.fields };
  } catch (err) {
    problems.push(`${at}.publicKey: ${(err as Error).message}`);
    return undefined;
  }
}

function parseEmailSink(n: Record<string, any>, at: string, problems: string[]): EmailSink | undefined {
  const before = problems.length;
  const tls = n.smtp.tls ?? 'starttls';
  const hasAuth = n.smtp.user !== undefined || n.smtp.password !== undefined;
  if (hasAuth && (!n.smtp.user || !n.smtp.password)) problems.push(`${at}.smtp: user and password go together`);
  if (tls === 'none' && hasAuth && n.smtp.allowPlaintextAuth !== true) {
    problems.push(`${at}.smtp.tls: "none" would send the SMTP password unencrypted; use starttls or implicit, or set smtp.allowPlaintextAuth: true for a relay on this host or network`);
  }
  if (n.digest && n.toCustomer) problems.push(`${at}.toCustomer: a digest goes to the fixed addresses only`);
  if (!n.to?.length && !n.toCustomer) problems.push(`${at}.to: no recipient (list addresses, or set toCustomer)`);
  try {
    new Intl.NumberFormat(n.locale ?? 'en-US');
  } catch {
    problems.push(`${at}.locale: "${n.locale}" is not a BCP 47 locale such as en-US`);
  }
  const templates = new Map<string, MailTemplates>();
  const raw: Record<string, Record<string, string>> = n.templates ?? {};
  for (const key of new Set([...Object.keys(DEFAULT_TEMPLATES), ...Object.keys(raw)])) {
    const base = DEFAULT_TEMPLATES[key] ?? DEFAULT_TEMPLATES[`${key.split('.')[0]}.*`] ?? DEFAULT_TEMPLATES.default;
    const t = compileMail(raw[key], base, `${at}.templates.${key}`, problems);
    if (t) templates.set(key, t);
  }
  const digest = n.digest ? compileMail(n.digest, DEFAULT_DIGEST, `${at}.digest`, problems) : undefined;
  if (problems.length > before) return undefined;
  return {
    type: 'email',
    smtp: {
      host: n.smtp.host, tls, port: n.smtp.port ?? (tls === 'implicit' ? 465 : tls === 'none' ? 25 : 587),
      user: n.smtp.user, password: n.smtp.password, ca: n.smtp.ca, servername: n.smtp.servername, timeoutMs: n.smtp.timeoutMs ?? 30_000,
    },
    from: n.from, to: n.to ?? [], toCustomer: n.toCustomer === true, events: n.events, locale: n.locale ?? 'en-US', templates,
    ...(n.digest ? { digest: { everyMinutes: n.digest.everyMinutes, maxEvents: n.digest.maxEvents ?? 500, templates: digest! } } : {}),
    attempts: n.attempts ?? 6, backoffMs: n.backoffMs ?? 1000,
  };
}

/** A pipeline's `notify` list, checked against the schema already: defaults, templates compiled, keys read. */
export function parseNotifySinks(list: Record<string, any>[], at: string, problems: string[]): NotifySink[] {
  const sinks: NotifySink[] = [];
  list.forEach((n, i) => {
    const sat = `${at}[${i}]`;
    if (n.type === 'email') {
      const sink = parseEmailSink(n, sat, problems);
      if (sink) sinks.push(sink);
      return;
    }
    const { encryptFor, ...rest } = n;
    const sealed = parseEncryptFor(encryptFor, `${sat}.encryptFor`, problems);
    const defaults = n.type === 'webhook' ? { attempts: 6, backoffMs: 1000, timeoutMs: 10_000 } : { attempts: 6, backoffMs: 1000 };
    sinks.push({ ...defaults, ...rest, ...(sealed ? { encryptFor: sealed } : {}) } as NotifySink);
  });
  return sinks;
}
