/**
 * Stripe thin events (event destinations, `object: "v2.core.event"`): shaped like the
 * Event v2 object of docs.stripe.com/api/v2/core/events and the thin-event payloads of
 * docs.stripe.com/event-destinations (type `v1.<snapshot type>`, `related_object` {id, type, url}).
 * Signed with the same Stripe-Signature scheme, made here by the official `stripe` package.
 */
import nock from 'nock';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stripe } from '../../../src/connectors/stripe/index.js';
import { DEFAULT_STRIPE_VERSION } from '../../../src/connectors/stripe/client.js';
import { stripeWebhooks } from '../../../src/connectors/stripe/webhooks.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';

const official = new Stripe('sk_test_unused');
const SECRET = 'whsec_test_secret';
const API = 'https://api.stripe.com';
const created = Math.floor(Date.now() / 1000);
const pi = fixture<Record<string, any>>('stripe/payment_intent.json');
const charge = fixture<Record<string, any>>('stripe/charge.json');

const thin = (type: string, related: { id: string; type: string; url: string }, id = 'evt_test_65R9Ijk8mLKAzdNV5h1SVyqnwzXgSDC8DjgsQ0oE6pAq') => ({
  id, object: 'v2.core.event', type, livemode: false, created: new Date(created * 1000).toISOString(), context: null, related_object: related,
  reason: { type: 'request', request: { id: 'req_v2ffBKGgVZWPuVUzf', idempotency_key: 'a1b7e2d4-3c6f-4b9a-8e1d-5f2a7c9b0e33' } },
});
const snapshot = (type: string, object: unknown, id = 'evt_3MtwBwLkdIwHu7ix0Zn1Fs9P') => ({ id, object: 'event', api_version: DEFAULT_STRIPE_VERSION, created, type, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, data: { object } });
const signed = (body: string) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/stripe', headers: { 'stripe-signature': official.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }) }, rawBody: Buffer.from(body) });
const piRef = { id: pi.id, type: 'payment_intent', url: `/v1/payment_intents/${pi.id}` };

function client(options: Record<string, unknown> = {}) {
  return stripe.create(testConnection({ name: 'stripe', connector: 'stripe', baseUrl: API, credentials: { secretKey: 'sk_test_123', webhookSecret: SECRET }, options }), { logger: quietLogger });
}

describe('stripe thin events on the webhook endpoint', () => {
  const handler = stripeWebhooks([SECRET]);

  it('accepts a thin event beside snapshot events: stored as a reference to the event id, nothing fetched in the request', async () => {
    nock.disableNetConnect();
    try {
      const body = JSON.stringify(thin('v1.payment_intent.succeeded', piRef));
      const d = await handler.verify(signed(body));
      expect(d.events).toEqual([{ id: 'evt_test_65R9Ijk8mLKAzdNV5h1SVyqnwzXgSDC8DjgsQ0oE6pAq', topic: 'payment_intent.succeeded', entity: 'payment', ref: 'v2.core.event:evt_test_65R9Ijk8mLKAzdNV5h1SVyqnwzXgSDC8DjgsQ0oE6pAq', occurredAt: new Date(created * 1000).toISOString() }]);
      expect(d.events[0]).not.toHaveProperty('record');
      // A snapshot event on the same endpoint still carries its record.
      const snap = JSON.stringify(snapshot('payment_intent.succeeded', pi));
      expect((await handler.verify(signed(snap))).events[0]).toMatchObject({ id: 'evt_3MtwBwLkdIwHu7ix0Zn1Fs9P', record: expect.any(Object) });
    } finally {
      nock.enableNetConnect();
    }
  });

  it('acknowledges thin events of other types without storing them, and refuses malformed or unsigned ones', async () => {
    const other = JSON.stringify(thin('v2.core.event_destination.ping', { id: 'ed_test_61RM8ltWcTW4mbsxf16RJyfa2xSQLHJJh1sxm7H0KVT6', type: 'v2.core.event_destination', url: '/v2/core/event_destinations/ed_test_61RM8ltWcTW4mbsxf16RJyfa2xSQLHJJh1sxm7H0KVT6' }));
    expect((await handler.verify(signed(other))).events).toEqual([]);
    const noRelated = JSON.stringify({ ...thin('v1.payment_intent.succeeded', piRef), related_object: undefined });
    expect(() => handler.verify(signed(noRelated))).toThrow(/related_object/);
    const wrongKind = JSON.stringify(thin('v1.payment_intent.succeeded', { id: 'cus_1', type: 'customer', url: '/v1/customers/cus_1' }));
    expect(() => handler.verify(signed(wrongKind))).toThrow(/related_object/);
    const body = JSON.stringify(thin('v1.payment_intent.succeeded', piRef));
    expect(() => handler.verify({ ...signed(body), rawBody: Buffer.from(body.replace('succeeded', 'canceled')) })).toThrow(/does not match/);
  });
});

describe('stripe thin events in the job: fetch what they name, map like a snapshot', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });
  const m = loadMapping(defaultMappingFile('stripe', 'payment', 'in'), { connector: 'stripe', statusMap: stripe.statusMap });

  it('a thin and a snapshot delivery of the same PaymentIntent give the same canonical payment', async () => {
    const event = thin('v1.payment_intent.succeeded', piRef);
    const versions: string[] = [];
    nock(API, { reqheaders: { authorization: 'Bearer sk_test_123' } })
      .get(`/v2/core/events/${event.id}`).reply(function () { versions.push(String(this.req.headers['stripe-version'])); return [200, event]; })
      .get(`/v1/payment_intents/${pi.id}`).reply(function () { versions.push(String(this.req.headers['stripe-version'])); return [200, pi]; });
    const c = client();
    const fetched = await c.fetch('payment', `v2.core.event:${event.id}`);
    expect(versions).toEqual([DEFAULT_STRIPE_VERSION, DEFAULT_STRIPE_VERSION]);
    const fromThin: any = await m.evaluate(fetched);
    const fromSnapshot: any = await m.evaluate(snapshot('payment_intent.succeeded', pi));
    expect(canonicalProblems('payment', fromThin)).toEqual([]);
    expect(fromThin).toEqual(fromSnapshot);
    expect(fromThin).toMatchObject({ externalId: pi.id, orderNumber: '1001', status: 'succeeded', amount: '20.00', currency: 'USD' });
  });

  it('a thin charge event reads the charge with its PaymentIntent expanded, like a snapshot charge event', async () => {
    const event = thin('v1.charge.refunded', { id: charge.id, type: 'charge', url: `/v1/charges/${charge.id}` }, 'evt_test_65R9Ijk8mLKAzdNV5h1SVyqnwzXgSDC8DjgsQ0oE6pAr');
    nock(API).get(`/v2/core/events/${event.id}`).reply(200, event)
      .get(`/v1/charges/${charge.id}`).query({ 'expand[0]': 'payment_intent' }).reply(200, { ...charge, payment_intent: pi });
    const fromThin: any = await m.evaluate(await client().fetch('payment', `v2.core.event:${event.id}`));
    const fromSnapshot: any = await m.evaluate(snapshot('charge.refunded', { ...charge, payment_intent: pi }));
    expect(fromThin).toEqual(fromSnapshot);
    expect(fromThin).toMatchObject({ externalId: pi.id, status: 'partially_refunded', refundedAmount: '5.00' });
  });

  it('a thin charge.refund.updated names the refund: its charge is read (PaymentIntent expanded) and maps like charge.refunded does', async () => {
    const refund = { id: 're_3MtwBwLkdIwHu7ix0r9QIsWk', object: 'refund', amount: 500, charge: charge.id, created, currency: 'usd', metadata: {}, payment_intent: pi.id, reason: null, status: 'succeeded' };
    const handler = stripeWebhooks([SECRET]);
    const event = thin('v1.charge.refund.updated', { id: refund.id, type: 'refund', url: `/v1/refunds/${refund.id}` }, 'evt_test_65R9Ijk8mLKAzdNV5h1SVyqnwzXgSDC8DjgsQ0oE6pAs');
    expect((await handler.verify(signed(JSON.stringify(event)))).events).toEqual([expect.objectContaining({ topic: 'charge.refund.updated', ref: `v2.core.event:${event.id}` })]);
    nock(API).get(`/v2/core/events/${event.id}`).reply(200, event)
      .get(`/v1/refunds/${refund.id}`).reply(200, refund)
      .get(`/v1/charges/${charge.id}`).query({ 'expand[0]': 'payment_intent' }).reply(200, { ...charge, payment_intent: pi });
    const out: any = await m.evaluate(await client().fetch('payment', `v2.core.event:${event.id}`));
    expect(out).toMatchObject({ externalId: pi.id, orderNumber: '1001', status: 'partially_refunded', refundedAmount: '5.00', sourceStatus: 'charge.refund.updated' });
  });

  it('a pinned apiVersion still reads the related object in that version; the unversioned v2 event with the current one', async () => {
    const event = thin('v1.payment_intent.succeeded', piRef);
    const versions: string[] = [];
    nock(API).get(`/v2/core/events/${event.id}`).reply(function () { versions.push(String(this.req.headers['stripe-version'])); return [200, event]; })
      .get(`/v1/payment_intents/${pi.id}`).reply(function () { versions.push(String(this.req.headers['stripe-version'])); return [200, pi]; });
    await client({ apiVersion: '2024-06-20' }).fetch('payment', `v2.core.event:${event.id}`);
    expect(versions).toEqual([DEFAULT_STRIPE_VERSION, '2024-06-20']);
  });

  it('an event or object Stripe no longer has is gone (null), not an error', async () => {
    nock(API).get('/v2/core/events/evt_gone').reply(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such event' } });
    expect(await client().fetch('payment', 'v2.core.event:evt_gone')).toBeNull();
    const event = thin('v1.payment_intent.succeeded', piRef, 'evt_pi_gone');
    nock(API).get('/v2/core/events/evt_pi_gone').reply(200, event)
      .get(`/v1/payment_intents/${pi.id}`).reply(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such payment_intent' } });
    expect(await client().fetch('payment', 'v2.core.event:evt_pi_gone')).toBeNull();
  });
});
