import { createHash } from 'node:crypto';
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { CanonicalOrder } from '../core/canonical/schemas.js';
import { RemoteRejectedError, RemoteUnavailableError } from '../core/errors.js';
import { PersonalValues, scrubText } from '../core/redact.js';
import { formatMoney } from './templates.js';
import { routingKey, type EmailSink, type MailTemplates, type OrderEvent } from './types.js';

/**
 * Mail through SMTP with nodemailer (https://nodemailer.com/smtp/): `secure` for implicit TLS,
 * `requireTLS` so a STARTTLS server that does not offer the upgrade is refused before the
 * login (nodemailer's default would go on in plaintext), `ignoreTLS` for a plaintext relay.
 * Certificates are checked (rejectUnauthorized stays on); `ca` adds a private CA.
 */
export interface OutgoingMail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  messageId: string;
  headers: Record<string, string>;
}

// Loaded when the first mail is sent: processes without an email sink do not pay for loading it.
let nodemailerModule: Promise<typeof import('nodemailer')> | undefined;

export class Mailer {
  private readonly transports = new Map<EmailSink, Transporter<SMTPTransport.SentMessageInfo>>();

  private async transport(sink: EmailSink): Promise<Transporter<SMTPTransport.SentMessageInfo>> {
    let t = this.transports.get(sink);
    if (!t) {
      const nodemailer = (await (nodemailerModule ??= import('nodemailer'))).default;
      // Another send may have made it while the module loaded.
      const made = this.transports.get(sink);
      if (made) return made;
      const s = sink.smtp;
      t = nodemailer.createTransport({
        host: s.host, port: s.port,
        secure: s.tls === 'implicit', requireTLS: s.tls === 'starttls', ignoreTLS: s.tls === 'none',
        ...(s.user ? { auth: { user: s.user, pass: s.password } } : {}),
        tls: { minVersion: 'TLSv1.2', ...(s.ca ? { ca: s.ca } : {}), ...(s.servername ? { servername: s.servername } : {}) },
        connectionTimeout: s.timeoutMs, greetingTimeout: s.timeoutMs, socketTimeout: s.timeoutMs,
        // Nothing of a message is read from files or URLs, and nodemailer logs nothing (its logs carry addresses).
        disableFileAccess: true, disableUrlAccess: true, logger: false, debug: false,
      });
      this.transports.set(sink, t);
    }
    return t;
  }

  /**
   * Sends one mail. Resolves once the server accepted it for at least one recipient, with its
   * answer; throws RemoteUnavailableError (4xx, network, timeout, TLS) or RemoteRejectedError
   * (5xx) whose message carries the server's answer without addresses or other personal values.
   */
  async send(sink: EmailSink, mail: OutgoingMail, personal: PersonalValues): Promise<{ response: string; accepted: number; rejected: number }> {
    for (const to of mail.to) personal.add(to);
    try {
      const info = await (await this.transport(sink)).sendMail({
        from: sink.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId: mail.messageId, headers: mail.headers,
      });
      return { response: scrubText(info.response ?? '', personal), accepted: info.accepted.length, rejected: info.rejected.length };
    } catch (err) {
      throw smtpError(sink, err, personal);
    }
  }

  close(): void {
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
  }
}

interface NodemailerError extends Error { code?: string; responseCode?: number; response?: string; command?: string }

/** The SMTP answer as a domain error: 5xx is final, the rest may work on a later attempt (RFC 5321 section 4.2.1). */
export function smtpError(sink: EmailSink, err: unknown, personal: PersonalValues): Error {
  const e = err as NodemailerError;
  const said = e.response ? `answered ${e.response}` : e.message;
  const message = scrubText(`smtp ${sink.smtp.host}:${sink.smtp.port}${e.command ? ` ${e.command.split(' ')[0]}` : ''} ${said}${e.code ? ` (${e.code})` : ''}`, personal);
  const details = { code: e.code, responseCode: e.responseCode };
  if (e.responseCode !== undefined && e.responseCode >= 500) return new RemoteRejectedError(message, { status: e.responseCode, details });
  return new RemoteUnavailableError(message, { status: e.responseCode, details });
}

/** Message-ID derived from the event (and the sink), so every attempt of one event carries the same one. */
export function eventMessageId(sink: EmailSink, pipeline: string, index: number, eventId: string): string {
  const hash = createHash('sha256').update(`${pipeline}\n${index}\n${eventId}`).digest('base64url').slice(0, 32);
  return `<synchub.${hash}@${mailDomain(sink.from)}>`;
}

export function mailDomain(from: string): string {
  const at = from.lastIndexOf('@');
  if (at < 0) return 'synchub.invalid';
  let end = at + 1;
  while (end < from.length && /[A-Za-z0-9.-]/.test(from[end])) end++;
  return from.slice(at + 1, end) || 'synchub.invalid';
}

const statusText = (status: string) => status.split('_').join(' ');

/** The fields a template sees for one event (see mail-defaults.ts). `order` is the order as the hub keeps it, for the customer's name and address. */
export function mailFields(sink: EmailSink, event: OrderEvent, order?: CanonicalOrder): Record<string, unknown> {
  const o = event.order;
  const p = event.payment;
  const status = o?.status ?? p!.status;
  return {
    eventId: event.id, pipeline: event.pipeline, at: event.at, kind: o ? 'order' : 'payment', event: routingKey(event),
    orderNumber: o?.orderNumber ?? p!.orderNumber, status, statusText: statusText(status), previousStatus: o?.previousStatus ?? p?.previousStatus,
    amount: formatMoney(o?.total ?? p!.amount, o?.currency ?? p!.currency, sink.locale),
    currency: o?.currency ?? p!.currency,
    order: o, payment: p,
    customer: order?.customer ? { firstName: order.customer.firstName, lastName: order.customer.lastName, email: order.customer.email } : undefined,
  };
}

/** The templates of an event: its routing key's, else its family's (order.*, payment.*), else the default. */
export function templatesFor(sink: EmailSink, event: OrderEvent): MailTemplates {
  const key = routingKey(event);
  return sink.templates.get(key) ?? sink.templates.get(`${key.split('.')[0]}.*`) ?? sink.templates.get('default')!;
}

/** Subject lines are one line: line breaks in values become spaces. */
export function oneLine(text: string): string {
  let out = '';
  for (const ch of text) out += ch === '\r' || ch === '\n' ? ' ' : ch;
  return out.trim();
}

export function renderMail(t: MailTemplates, fields: Record<string, unknown>, locale: string): Pick<OutgoingMail, 'subject' | 'text' | 'html'> {
  return {
    subject: oneLine(t.subject.render(fields, { mode: 'text', locale })),
    text: t.text.render(fields, { mode: 'text', locale }),
    html: t.html.render(fields, { mode: 'html', locale }),
  };
}

/** Personal values of an order, to scrub from what a server answers. */
export function personalOf(order?: CanonicalOrder): PersonalValues {
  const values = new PersonalValues();
  if (order) values.addDeep({ customer: order.customer, shippingAddress: order.shippingAddress, billingAddress: order.billingAddress });
  return values;
}
