import nock from 'nock';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stripe } from '../../../src/connectors/stripe/index.js';
import { DEFAULT_STRIPE_VERSION } from '../../../src/connectors/stripe/client.js';
import { stripeWebhooks } from '../../../src/connectors/stripe/webhooks.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { RateLimitedError } from '../../../src/core/errors.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';

const official = new Stripe('sk_test_unused');
const SECRET = 'whsec_test_secret';
const event = (type: string, object: unknown, id = 'evt_1') => ({ id, object: 'event', api_version: DEFAULT_STRIPE_VERSION, created: Math.floor(Date.now() / 1000), type, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, data: { object } });
const req = (body: string, signature: string) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/stripe', headers: { 'stripe-signature': signature }, rawBody: Buffer.from(body) });
function client(options: Record<string, unknown> = {}) {
  return stripe.create(testConnection({ name: 'stripe', connector: 'stripe', baseUrl: 'https://api.stripe.com', credentials: { secretKey: 'sk_test_123' }, options }), { logger: quietLogger });
}

describe('stripe webhooks, signed by the official stripe package', () => {
  const handler = stripeWebhooks([SECRET, 'whsec_old']);
  const body = JSON.stringify(event('payment_intent.succeeded', fixture('stripe/payment_intent.json')));

  it('accepts a signature made by stripe.webhooks.generateTestHeaderString, and one made with a rolled secret', async () => {
    const d = await handler.verify(req(body, official.webhooks.generateTestHeaderString({ payload: body, secret: SECRET })));
    expect(d.events).toEqual([expect.objectContaining({ id: 'evt_1', topic: 'payment_intent.succeeded', entity: 'payment' })]);
    expect((await handler.verify(req(body, official.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_old' })))).events).toHaveLength(1);
  });

  it('refuses a forged signature, a tampered body and a stale timestamp', () => {
    expect(() => handler.verify(req(body, official.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_other' })))).toThrow(/does not match/);
    expect(() => handler.verify(req(body.replace('2000', '1'), official.webhooks.generateTestHeaderString({ payload: body, secret: SECRET })))).toThrow(/does not match/);
    const stale = official.webhooks.generateTestHeaderString({ payload: body, secret: SECRET, timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(() => handler.verify(req(body, stale))).toThrow(/more than 300 s away/);
    expect(() => handler.verify(req(body, ''))).toThrow(/missing/);
  });

  it('turns a charge event into a reference (fetched with its PaymentIntent) and acknowledges other types without storing them', async () => {
    const charge = JSON.stringify(event('charge.refunded', fixture('stripe/charge.json'), 'evt_2'));
    expect((await handler.verify(req(charge, official.webhooks.generateTestHeaderString({ payload: charge, secret: SECRET })))).events)
      .toEqual([expect.objectContaining({ id: 'evt_2', entity: 'payment', ref: 'evt_2' })]);
    const other = JSON.stringify(event('invoice.paid', { id: 'in_1', object: 'invoice' }, 'evt_3'));
    expect((await handler.verify(req(other, official.webhooks.generateTestHeaderString({ payload: other, secret: SECRET })))).events).toEqual([]);
  });

  it('takes customer events: created and updated carry the customer, customer.deleted names the deleted one', async () => {
    const created = JSON.stringify(event('customer.created', { id: 'cus_1', object: 'customer', email: 'a@example.com' }, 'evt_4'));
    expect((await handler.verify(req(created, official.webhooks.generateTestHeaderString({ payload: created, secret: SECRET })))).events)
      .toEqual([expect.objectContaining({ id: 'evt_4', entity: 'customer', record: expect.objectContaining({ id: 'cus_1' }) })]);
    const deleted = JSON.stringify(event('customer.deleted', { id: 'cus_1', object: 'customer', deleted: true }, 'evt_5'));
    expect((await handler.verify(req(deleted, official.webhooks.generateTestHeaderString({ payload: deleted, secret: SECRET })))).events)
      .toEqual([expect.objectContaining({ id: 'evt_5', entity: 'customer', ref: 'cus_1', deletion: 'always' })]);
  });
});

describe('stripe client', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('reconciles through /v1/events: payment types, created[gte] cursor, starting_after pages, charges expanded', async () => {
    const since = Math.floor(Date.now() / 1000) - 3600;
    const seen: Record<string, string>[] = [];
    const pi = fixture('stripe/payment_intent.json');
    nock('https://api.stripe.com', { reqheaders: { authorization: 'Bearer sk_test_123' } })
      .get('/v1/events').query((q) => { seen.push(q as Record<string, string>); return !q.starting_after; })
      .reply(200, { object: 'list', has_more: true, data: [{ ...event('payment_intent.succeeded', pi, 'evt_b'), created: since + 20 }] })
      .get('/v1/events').query((q) => { seen.push(q as Record<string, string>); return q.starting_after === 'evt_b'; })
      .reply(200, { object: 'list', has_more: false, data: [{ ...event('charge.refunded', fixture('stripe/charge.json'), 'evt_a'), created: since + 10 }] })
      .get('/v1/charges/ch_3MtwBwLkdIwHu7ix28a3tqPb').query({ 'expand[0]': 'payment_intent' })
      .reply(200, { ...fixture<Record<string, unknown>>('stripe/charge.json'), payment_intent: pi });
    const c = client();
    const p1 = await c.pull('payment', { cursor: { since }, pageSize: 1 });
    expect(seen[0]).toMatchObject({ 'created[gte]': String(since), limit: '1', 'types[0]': 'payment_intent.succeeded', 'types[3]': 'charge.refunded' });
    expect(p1.done).toBe(false);
    const p2 = await c.pull('payment', { cursor: p1.cursor, pageSize: 1 });
    expect(p2).toMatchObject({ done: true, cursor: { since: since + 20 } });
    expect((p2.records[0] as any).data.object.payment_intent.metadata.order_number).toBe('1001');
  });

  it('never asks for events older than Stripe keeps (30 days)', async () => {
    let gte = 0;
    nock('https://api.stripe.com').get('/v1/events').query((q) => { gte = Number(q['created[gte]']); return true; }).reply(200, { object: 'list', has_more: false, data: [] });
    await client().pull('payment', { cursor: { since: 1 }, pageSize: 10 });
    expect(Math.floor(Date.now() / 1000) - gte).toBeLessThanOrEqual(30 * 24 * 3600 + 5);
  });

  it('creates a customer once: search by metadata first, then a create with an Idempotency-Key derived from the record', async () => {
    const keys: string[] = [];
    nock('https://api.stripe.com').get('/v1/customers/search').query(true).times(2).reply(200, { object: 'search_result', data: [], has_more: false })
      .post('/v1/customers').times(2).reply(function (_uri, body) {
        keys.push(String(this.req.headers['idempotency-key']));
        expect(String(body)).toContain('metadata%5Bsynchub_key%5D=customer%3Aabc');
        return [200, { id: 'cus_NffrFeUfNV2Hib', object: 'customer' }];
      });
    const item = { key: 'customer:abc', payload: { email: 'jenny.rosen@example.com', name: 'Jenny Rosen' } };
    expect(await client().push('customer', [item])).toEqual([{ key: 'customer:abc', ok: true, externalId: 'cus_NffrFeUfNV2Hib' }]);
    await client().push('customer', [item]);
    expect(keys[0]).toMatch(/^synchub-[0-9a-f]{40}$/);
    expect(keys[1]).toBe(keys[0]);
  });

  it('sends the current Stripe-Version (Endive) unless the connection pins one, and a pinned version wins', async () => {
    const versions: string[] = [];
    nock('https://api.stripe.com').get('/v1/customers').query(true).times(2).reply(function () {
      versions.push(String(this.req.headers['stripe-version']));
      return [200, { object: 'list', has_more: false, data: [] }];
    });
    await client().pull('customer', { cursor: null, pageSize: 10 });
    await client({ apiVersion: '2024-06-20' }).pull('customer', { cursor: null, pageSize: 10 });
    expect(versions).toEqual(['2026-11-18.endive', '2024-06-20']);
    expect(DEFAULT_STRIPE_VERSION).toBe('2026-11-18.endive');
  });

  it('customers: a run after the first ends with the customer.deleted events since the last list began; the first only starts that window', async () => {
    const before = Math.floor(Date.now() / 1000);
    nock('https://api.stripe.com').get('/v1/customers').query(true).times(2).reply(200, { object: 'list', has_more: false, data: [{ id: 'cus_A', object: 'customer', email: 'a@example.com' }] });
    const first = await client().pull('customer', { cursor: null, pageSize: 10 });
    expect(first.done).toBe(true);
    expect((first.cursor as any).deletedSince).toBeGreaterThanOrEqual(before);

    const asked: Record<string, string>[] = [];
    const deleted = (id: string, cus: string, created: number) => ({ ...event('customer.deleted', { id: cus, object: 'customer', deleted: true }, id), created });
    nock('https://api.stripe.com')
      .get('/v1/events').query((q) => { asked.push(q as Record<string, string>); return !q.starting_after; })
      .reply(200, { object: 'list', has_more: true, data: [deleted('evt_2', 'cus_B', before + 5)] })
      .get('/v1/events').query((q) => { asked.push(q as Record<string, string>); return q.starting_after === 'evt_2'; })
      .reply(200, { object: 'list', has_more: false, data: [deleted('evt_1', 'cus_C', before + 2)] });
    const p1 = await client().pull('customer', { cursor: first.cursor, pageSize: 10 });
    expect(p1).toMatchObject({ records: [{ id: 'cus_A' }], done: false });
    const p2 = await client().pull('customer', { cursor: p1.cursor, pageSize: 10 });
    const p3 = await client().pull('customer', { cursor: p2.cursor, pageSize: 10 });
    expect(asked[0]).toMatchObject({ type: 'customer.deleted', 'created[gte]': String((first.cursor as any).deletedSince) });
    expect([...(p2.deletions ?? []), ...(p3.deletions ?? [])]).toEqual([
      { id: 'cus_B', deletedAt: new Date((before + 5) * 1000).toISOString() },
      { id: 'cus_C', deletedAt: new Date((before + 2) * 1000).toISOString() },
    ]);
    expect(p3).toMatchObject({ done: true, cursor: { deletedSince: (p1.cursor as any).startedAt } });
  });

  it('a 429 is a rate-limit wait', async () => {
    nock('https://api.stripe.com').get('/v1/events').query(true).reply(429, { error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests' } }, { 'retry-after': '30' });
    expect(await client().pull('payment', { cursor: null, pageSize: 10 }).catch((e) => e)).toBeInstanceOf(RateLimitedError);
  });
});

describe('stripe payment mapping', () => {
  const m = loadMapping(defaultMappingFile('stripe', 'payment', 'in'), { connector: 'stripe', statusMap: stripe.statusMap });

  it.each([
    ['payment_intent.succeeded', {}, { status: 'succeeded', amount: '20.00', currency: 'USD', orderNumber: '1001', externalId: 'pi_3MtwBwLkdIwHu7ix28a3tqPa' }],
    ['payment_intent.payment_failed', { status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' } }, { status: 'failed', failureCode: 'insufficient_funds', failureReason: 'Your card has insufficient funds.' }],
    ['payment_intent.canceled', { status: 'canceled' }, { status: 'cancelled' }],
  ])('%s', async (type, extra, expected) => {
    const out: any = await m.evaluate(event(type, { ...fixture<Record<string, unknown>>('stripe/payment_intent.json'), ...extra }));
    expect(canonicalProblems('payment', out)).toEqual([]);
    expect(out).toMatchObject({ provider: 'stripe', ...expected });
  });

  it('maps a refunded charge (PaymentIntent expanded) to a partial or full refund of the PaymentIntent, with JPY in whole units', async () => {
    const pi = fixture<Record<string, unknown>>('stripe/payment_intent.json');
    const partial: any = await m.evaluate(event('charge.refunded', { ...fixture<Record<string, unknown>>('stripe/charge.json'), payment_intent: pi }));
    expect(partial).toMatchObject({ externalId: pi.id, orderNumber: '1001', status: 'partially_refunded', amount: '20.00', refundedAmount: '5.00' });
    const full: any = await m.evaluate(event('charge.refunded', { ...fixture<Record<string, unknown>>('stripe/charge.json'), currency: 'jpy', amount: 2000, amount_refunded: 2000, refunded: true, payment_intent: pi }));
    expect(full).toMatchObject({ status: 'refunded', amount: '2000', refundedAmount: '2000', currency: 'JPY' });
  });
});
