import type { JweRecipient } from '../core/jwe.js';
import type { Template } from './templates.js';

/**
 * Order events: order status changes and payment results as the hub applied them.
 * They go to the bounded Redis stream behind GET /api/events and to each
 * pipeline's notification sinks. They carry no personal data.
 */
export interface OrderEvent {
  /** Stable id of the change (the same change applied twice has the same id): receivers dedupe on it. */
  id: string;
  /** order.approval: an order held for approval, escalated, approved or rejected (its `order.status` is that state). */
  type: 'order.status' | 'payment.result' | 'order.approval';
  pipeline: string;
  /** When the change happened at the source. */
  at: string;
  order?: { key: string; orderNumber: string; status: string; previousStatus?: string; currency: string; total: string };
  payment?: { externalId: string; provider: string; orderNumber: string; status: string; previousStatus?: string; amount: string; currency: string; failureCode?: string };
}

/** `order.<status>` for order changes, `payment.<status>` for payment results. */
export function routingKey(e: OrderEvent): string {
  return e.order ? `order.${e.order.status}` : `payment.${e.payment!.status}`;
}

/** Personal fields of the event's order, sealed for one recipient (JWE compact) and sent beside the event. */
export interface EncryptFor {
  recipient: JweRecipient;
  /** Canonical order paths, e.g. customer.email, shippingAddress. */
  fields: string[];
}

export interface WebhookSink {
  type: 'webhook';
  url: string;
  /** HMAC-SHA256 key of X-Synchub-Signature. */
  secret: string;
  /** Default 6. */
  attempts: number;
  /** First retry delay, doubled each attempt. Default 1000. */
  backoffMs: number;
  /** Default 10000. */
  timeoutMs: number;
  encryptFor?: EncryptFor;
}

export interface RabbitSink {
  type: 'rabbitmq';
  /** amqp:// URL with credentials. */
  url: string;
  /** Topic exchange, declared durable. */
  exchange: string;
  attempts: number;
  backoffMs: number;
  encryptFor?: EncryptFor;
}

export interface SmtpSettings {
  host: string;
  /** Default 587 (starttls), 465 (implicit), 25 (none). */
  port: number;
  /** starttls: upgrade required before anything else is sent; implicit: TLS from the first byte; none: plaintext (local relays only). */
  tls: 'starttls' | 'implicit' | 'none';
  user?: string;
  password?: string;
  /** PEM of the CA that signs the server's certificate, when it is not a public one. */
  ca?: string;
  /** Name the certificate must carry, when `host` is an address. */
  servername?: string;
  /** Default 30000: connection, greeting and each command's answer. */
  timeoutMs: number;
}

export interface MailTemplates { subject: Template; text: Template; html: Template }

export interface EmailSink {
  type: 'email';
  smtp: SmtpSettings;
  from: string;
  /** Fixed recipients (the operations team). */
  to: string[];
  /** Also to the customer's own address on the order (never in digests). Default false. */
  toCustomer: boolean;
  /** Routing keys of the events mailed (order.paid, payment.failed, order.*). */
  events: string[];
  /** BCP 47 locale of amounts and dates. Default en-US. */
  locale: string;
  /** By routing key, then `order.*`/`payment.*`, then `default`. */
  templates: Map<string, MailTemplates>;
  /** One mail every `everyMinutes` with every event of that window, instead of one per event. */
  digest?: { everyMinutes: number; maxEvents: number; templates: MailTemplates };
  attempts: number;
  backoffMs: number;
}

export type NotifySink = WebhookSink | RabbitSink | EmailSink;

/** Whether a sink takes an event: email sinks take the events they list (`order.*` takes every order event); the others take all. */
export function sinkTakes(sink: NotifySink, event: OrderEvent): boolean {
  if (sink.type !== 'email') return true;
  const key = routingKey(event);
  const family = `${key.slice(0, key.indexOf('.'))}.*`;
  return sink.events.includes(key) || sink.events.includes(family) || sink.events.includes('*');
}

export interface NotifyJobData {
  pipeline: string;
  /** Index of the sink in the pipeline's `notify` list. */
  sink: number;
  event: OrderEvent;
}

/** The flush of an email sink's digest window (digest.ts): `digest` is the window's end (ms since the epoch). */
export interface DigestJobData {
  pipeline: string;
  sink: number;
  digest: number;
}

export const NOTIFY_QUEUE = '{notify}';
