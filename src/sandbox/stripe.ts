import { createHmac, randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { toMinorUnits } from '../core/money.js';

type StripeObject = Record<string, any>;
export interface SandboxOrder { number: string; total: string; currency: string }

/** Decline reasons of Stripe's test cards (docs.stripe.com/testing#declined-payments; codes in docs.stripe.com/declines/codes), as `last_payment_error` carries them. */
export const STRIPE_DECLINES = [
  { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  { code: 'card_declined', decline_code: 'lost_card', message: 'Your card has been declined.' },
  { code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' },
] as const;

/**
 * `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint secret>`,
 * as docs.stripe.com/webhooks#verify-manually describes (what src/connectors/stripe/webhooks.ts checks).
 */
export function stripeSignatureHeader(body: string, secret: string, at = Math.floor(Date.now() / 1000)): string {
  return `t=${at},v1=${createHmac('sha256', secret).update(`${at}.${body}`).digest('hex')}`;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
const now = () => Math.floor(Date.now() / 1000);

/**
 * A Stripe-shaped payment provider for the demo: PaymentIntents for the shop's orders (the order
 * number in `metadata.order_number`, as a checkout would put it), their charges, and the events
 * the hub takes: payment_intent.succeeded / .payment_failed / .canceled and charge.refunded,
 * shaped as the API reference's Event, PaymentIntent and Charge objects (docs.stripe.com/api/events/object,
 * /api/payment_intents/object, /api/charges/object). It serves what the connector reads back:
 * `GET /v1/events` (types[], created[gte], starting_after, newest first), `GET /v1/events/{id}` and
 * `GET /v1/charges/{id}` with `expand[]=payment_intent`.
 */
export class StripeSandbox {
  /** Every event, oldest first. */
  readonly events: StripeObject[] = [];
  private readonly intents = new Map<string, StripeObject>();
  private readonly charges = new Map<string, StripeObject>();

  /** The order's PaymentIntent, created on first use (the checkout's). */
  private intent(order: SandboxOrder): StripeObject {
    let pi = this.intents.get(order.number);
    if (!pi) {
      pi = {
        id: id('pi'), object: 'payment_intent', amount: Number(toMinorUnits(order.total, order.currency)), amount_received: 0, canceled_at: null, cancellation_reason: null,
        capture_method: 'automatic', created: now(), currency: order.currency.toLowerCase(), customer: null, description: `Order #${order.number}`,
        last_payment_error: null, latest_charge: null, livemode: false, metadata: { order_number: order.number }, payment_method_types: ['card'], status: 'requires_payment_method',
      };
      this.intents.set(order.number, pi);
    }
    return pi;
  }

  private event(type: string, object: StripeObject): StripeObject {
    const event = { id: id('evt'), object: 'event', api_version: '2026-11-18.endive', created: now(), data: { object: structuredClone(object) }, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type };
    this.events.push(event);
    return event;
  }

  succeed(order: SandboxOrder): StripeObject {
    const pi = this.intent(order);
    const charge = { id: id('ch'), object: 'charge', amount: pi.amount, amount_captured: pi.amount, amount_refunded: 0, captured: true, created: now(), currency: pi.currency, description: null, metadata: {}, paid: true, payment_intent: pi.id, refunded: false, status: 'succeeded' };
    this.charges.set(charge.id, charge);
    Object.assign(pi, { status: 'succeeded', amount_received: pi.amount, latest_charge: charge.id, last_payment_error: null });
    return this.event('payment_intent.succeeded', pi);
  }

  fail(order: SandboxOrder, decline: (typeof STRIPE_DECLINES)[number] = STRIPE_DECLINES[0]): StripeObject {
    const pi = this.intent(order);
    Object.assign(pi, { status: 'requires_payment_method', last_payment_error: { type: 'card_error', ...decline, doc_url: `https://docs.stripe.com/error-codes/${decline.code.replace(/_/g, '-')}` } });
    return this.event('payment_intent.payment_failed', pi);
  }

  cancel(order: SandboxOrder): StripeObject {
    const pi = this.intent(order);
    Object.assign(pi, { status: 'canceled', canceled_at: now(), cancellation_reason: 'abandoned' });
    return this.event('payment_intent.canceled', pi);
  }

  /** A refund of `amount` (a decimal string) against the order's charge: `charge.refunded` with the running total. */
  refund(order: SandboxOrder, amount: string): StripeObject {
    const pi = this.intent(order);
    const charge = this.charges.get(pi.latest_charge);
    if (!charge) throw new Error(`order ${order.number} has no charge to refund`);
    charge.amount_refunded = Math.min(charge.amount, charge.amount_refunded + Number(toMinorUnits(amount, order.currency)));
    charge.refunded = charge.amount_refunded === charge.amount;
    return this.event('charge.refunded', charge);
  }

  /** Posts the event to the hub as Stripe's webhook delivery does; answers the status. */
  async post(hubUrl: string, secret: string, event: StripeObject): Promise<number> {
    const body = JSON.stringify(event);
    const res = await fetch(hubUrl, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': stripeSignatureHeader(body, secret), 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' }, body });
    await res.arrayBuffer();
    return res.status;
  }

  app(): Hono {
    const app = new Hono();
    app.use('*', async (c, next) => {
      if (!/^Bearer (sk|rk)_/.test(c.req.header('authorization') ?? '')) {
        return c.json({ error: { type: 'invalid_request_error', message: 'You did not provide an API key.' } }, 401);
      }
      await next();
    });
    app.get('/v1/events', (c) => {
      const url = new URL(c.req.url);
      const types = [...url.searchParams.entries()].filter(([k]) => k.startsWith('types[')).map(([, v]) => v);
      const since = Number(url.searchParams.get('created[gte]') ?? 0);
      const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 10), 1), 100);
      let list = this.events.filter((e) => e.created >= since && (!types.length || types.includes(e.type))).reverse();
      const after = url.searchParams.get('starting_after');
      if (after) list = list.slice(list.findIndex((e) => e.id === after) + 1);
      return c.json({ object: 'list', url: '/v1/events', has_more: list.length > limit, data: list.slice(0, limit) });
    });
    app.get('/v1/events/:id', (c) => {
      const event = this.events.find((e) => e.id === c.req.param('id'));
      return event ? c.json(event) : c.json({ error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such event: '${c.req.param('id')}'` } }, 404);
    });
    app.get('/v1/charges/:id', (c) => {
      const charge = this.charges.get(c.req.param('id'));
      if (!charge) return c.json({ error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such charge: '${c.req.param('id')}'` } }, 404);
      const expand = [...new URL(c.req.url).searchParams.entries()].some(([k, v]) => k.startsWith('expand') && v === 'payment_intent');
      const pi = [...this.intents.values()].find((p) => p.id === charge.payment_intent);
      return c.json(expand && pi ? { ...charge, payment_intent: pi } : charge);
    });
    return app;
  }
}
