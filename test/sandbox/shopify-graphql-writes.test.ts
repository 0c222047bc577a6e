import { afterEach, describe, expect, it } from 'vitest';
import type { ServerType } from '@hono/node-server';
import { shopify } from '../../src/connectors/shopify/index.js';
import { listen } from '../../src/sandbox/demo.js';
import { quietLogger } from '../helpers/hub.js';
import { testConnection } from '../helpers/connection.js';
import { ShopifySandbox } from '../../src/sandbox/shopify.js';
import { graphqlOf } from '../helpers/shopify-sandbox.js';
import {
  CUSTOMER_BY_EMAIL, CUSTOMER_CREATE, CUSTOMER_UPDATE, JOB_QUERY, ORDER_BY_NAME, ORDER_CANCEL, ORDER_MARK_AS_PAID, ORDER_STATE, REFUND_CREATE, TAGS_ADD,
} from '../../src/connectors/shopify/graphql-mutations.js';
import { refundIdempotencyKey, searchValue } from '../../src/connectors/shopify/graphql-writes.js';

/** The sandbox answers the documents the connector's GraphQL writer sends (graphql-mutations.ts), with the effects of its REST writes. */
const pending = () => {
  const shop = new ShopifySandbox({ customers: 3, orders: 0, graphql: { plan: 'plus' } });
  const order = shop.addOrder(new Date(), { financialStatus: 'pending' }) as Record<string, any>;
  return { shop, order, gql: graphqlOf(shop), gid: `gid://shopify/Order/${order.id}` };
};
const cancelVars = (orderId: string) => ({
  orderId, reason: 'OTHER', refundMethod: { originalPaymentMethodsRefund: false }, restock: false, notifyCustomer: false, staffNote: 'Cancelled by synchub',
});
const refundVars = (order: Record<string, any>, parentId: string, amount: string, key: string) => ({
  input: {
    orderId: `gid://shopify/Order/${order.id}`, notify: false, note: 'Refund recorded by synchub',
    transactions: [{ orderId: `gid://shopify/Order/${order.id}`, parentId, amount, gateway: 'manual', kind: 'REFUND' }],
  },
  idempotencyKey: key,
});

describe('Shopify sandbox: GraphQL write-backs', () => {
  it('finds an order by name and marks it paid: the shop shows it paid with a sale, as REST and GraphQL read it', async () => {
    const { shop, order, gql, gid } = pending();
    const byName = await gql(ORDER_BY_NAME, { query: `name:${searchValue(order.name)}` });
    expect(byName.body.data.orders.nodes).toEqual([{ id: gid, legacyResourceId: String(order.id), name: order.name }]);

    const before = (await gql(ORDER_STATE, { id: gid })).body.data.order;
    expect(before).toMatchObject({ displayFinancialStatus: 'PENDING', cancelledAt: null, tags: [], transactions: [], totalRefundedSet: { shopMoney: { amount: '0.0', currencyCode: 'USD' } } });

    const paid = await gql(ORDER_MARK_AS_PAID, { input: { id: gid } });
    expect(paid.body.data.orderMarkAsPaid).toEqual({ order: { id: gid, displayFinancialStatus: 'PAID' }, userErrors: [] });
    expect(order.financial_status).toBe('paid');
    const after = (await gql(ORDER_STATE, { id: gid })).body.data.order;
    expect(after.transactions).toEqual([{ id: expect.stringMatching(/^gid:\/\/shopify\/OrderTransaction\/\d+$/), kind: 'SALE', status: 'SUCCESS', gateway: 'manual' }]);
    // The REST transactions list is the same list.
    const rest = await shop.app().request(`/admin/api/2026-10/orders/${order.id}/transactions.json`);
    expect(((await rest.json()) as any).transactions.map((t: any) => `gid://shopify/OrderTransaction/${t.id}`)).toEqual(after.transactions.map((t: any) => t.id));
    expect(shop.writes.counts.markAsPaid).toBe(1);

    // Marking it paid again is refused with a userError, and pays nothing twice.
    const again = await gql(ORDER_MARK_AS_PAID, { input: { id: gid } });
    expect(again.body.data.orderMarkAsPaid).toEqual({ order: null, userErrors: [{ field: ['id'], message: 'Order cannot be marked as paid' }] });
    expect(shop.writes.counts.markAsPaid).toBe(1);
  });

  it('cancels through a background job the caller follows with job(id:), and refuses to mark the cancelled order paid', async () => {
    const { shop, order, gql, gid } = pending();
    const cancel = await gql(ORDER_CANCEL, cancelVars(gid));
    expect(cancel.body.errors).toBeUndefined();
    const { job, orderCancelUserErrors } = cancel.body.data.orderCancel;
    expect(orderCancelUserErrors).toEqual([]);
    expect(job).toEqual({ id: expect.stringMatching(/^gid:\/\/shopify\/Job\/\d+$/), done: false });
    expect((await gql(JOB_QUERY, { id: job.id })).body.data.job).toEqual({ id: job.id, done: true });
    const state = (await gql(ORDER_STATE, { id: gid })).body.data.order;
    expect(state.cancelledAt).toEqual(expect.any(String));
    expect(state.displayFinancialStatus).toBe('VOIDED');
    expect(order.cancelled_at).toBe(state.cancelledAt);
    expect(order.cancel_reason).toBe('other');
    expect(shop.writes.counts.cancel).toBe(1);

    const twice = await gql(ORDER_CANCEL, cancelVars(gid));
    expect(twice.body.data.orderCancel).toEqual({ job: null, orderCancelUserErrors: [{ field: ['orderId'], message: 'Order has already been cancelled', code: 'INVALID' }] });
    const paid = await gql(ORDER_MARK_AS_PAID, { input: { id: gid } });
    expect(paid.body.data.orderMarkAsPaid.userErrors).toEqual([{ field: ['id'], message: 'Order is cancelled' }]);
    expect(shop.writes.counts).toMatchObject({ cancel: 1, markAsPaid: 0 });
    // An order that does not exist is NOT_FOUND.
    const customerTag = await gql(TAGS_ADD, { id: `gid://shopify/Customer/${shop.customers[0].id}`, tags: ['x'] });
    expect(customerTag.body.errors[0].message).toMatch(/not served by the sandbox/);
    const missing = await gql(ORDER_CANCEL, cancelVars('gid://shopify/Order/1'));
    expect(missing.body.data.orderCancel.orderCancelUserErrors[0].code).toBe('NOT_FOUND');
  });

  it('refunds against the sale once per idempotency key, in parts up to what was paid, and refuses more', async () => {
    const { shop, order, gql, gid } = pending();
    await gql(ORDER_MARK_AS_PAID, { input: { id: gid } });
    const sale = (await gql(ORDER_STATE, { id: gid })).body.data.order.transactions[0].id;
    const total = order.total_price as string;
    const cents = Math.round(Number(total) * 100);
    const half = `${Math.floor(cents / 2 / 100)}.${String(Math.floor(cents / 2) % 100).padStart(2, '0')}`;
    const rest = `${Math.floor((cents - Math.floor(cents / 2)) / 100)}.${String((cents - Math.floor(cents / 2)) % 100).padStart(2, '0')}`;

    const first = refundVars(order, sale, half, refundIdempotencyKey(String(order.id), half));
    const a = await gql(REFUND_CREATE, first);
    expect(a.body.data.refundCreate.userErrors).toEqual([]);
    expect(a.body.data.refundCreate.refund).toMatchObject({ id: expect.stringMatching(/^gid:\/\/shopify\/Refund\/\d+$/) });
    // The same key again (a retry) answers the same refund and refunds nothing more.
    const b = await gql(REFUND_CREATE, first);
    expect(b.body.data.refundCreate.refund.id).toBe(a.body.data.refundCreate.refund.id);
    expect(shop.writes.counts.refund).toBe(1);
    let state = (await gql(ORDER_STATE, { id: gid })).body.data.order;
    expect(state.displayFinancialStatus).toBe('PARTIALLY_REFUNDED');
    expect(Math.round(Number(state.totalRefundedSet.shopMoney.amount) * 100)).toBe(Math.floor(cents / 2));

    // More than what is left is refused with a userError; the rest refunds the order in full.
    const over = await gql(REFUND_CREATE, refundVars(order, sale, total, refundIdempotencyKey(String(order.id), 'over')));
    expect(over.body.data.refundCreate).toEqual({ refund: null, userErrors: [{ field: ['transactions', '0', 'amount'], message: 'Refund amount exceeds the amount that can be refunded' }] });
    await gql(REFUND_CREATE, refundVars(order, sale, rest, refundIdempotencyKey(String(order.id), total)));
    state = (await gql(ORDER_STATE, { id: gid })).body.data.order;
    expect(state.displayFinancialStatus).toBe('REFUNDED');
    expect(Math.round(Number(state.totalRefundedSet.shopMoney.amount) * 100)).toBe(cents);
    expect(order.financial_status).toBe('refunded');
    expect(order.refunds.flatMap((r: any) => r.transactions).map((t: any) => t.amount)).toEqual([half, rest]);
    expect(shop.writes.counts.refund).toBe(2);
  });

  it('refuses refundCreate without @idempotent, and a key reused with another input', async () => {
    const { shop, order, gql, gid } = pending();
    await gql(ORDER_MARK_AS_PAID, { input: { id: gid } });
    const sale = (await gql(ORDER_STATE, { id: gid })).body.data.order.transactions[0].id;
    const bare = await gql(REFUND_CREATE.replace(' @idempotent(key: $idempotencyKey)', '').replace(', $idempotencyKey: String!', ''), { input: refundVars(order, sale, '1.00', 'k').input });
    expect(bare.body.data.refundCreate).toBeNull();
    expect(bare.body.errors[0].message).toBe('The @idempotent directive is required for this mutation but was not provided.');
    await gql(REFUND_CREATE, refundVars(order, sale, '1.00', 'key-1'));
    const reused = await gql(REFUND_CREATE, refundVars(order, sale, '2.00', 'key-1'));
    expect(reused.body.data.refundCreate).toBeNull();
    expect(reused.body.errors[0].message).toMatch(/already used with a different input/);
    expect(shop.writes.counts.refund).toBe(1);
  });

  it('adds a tag once (REST reads the same tags) and prices every mutation at 10 points in the bucket', async () => {
    const { order, gql, gid } = pending();
    const tagged = await gql(TAGS_ADD, { id: gid, tags: ['payment-failed'] });
    expect(tagged.body.data.tagsAdd).toEqual({ node: { id: gid }, userErrors: [] });
    await gql(TAGS_ADD, { id: gid, tags: ['payment-failed'] });
    expect((await gql(ORDER_STATE, { id: gid })).body.data.order.tags).toEqual(['payment-failed']);
    expect(order.tags).toBe('payment-failed');
    expect(tagged.body.extensions.cost).toMatchObject({ requestedQueryCost: 10, actualQueryCost: 10 });
  });

  it('answers THROTTLED to a mutation the bucket cannot pay for, and changes nothing', async () => {
    // A bucket that refills 10 points in 1,000 s: drained, it cannot pay for one mutation during the test.
    const shop = new ShopifySandbox({ customers: 1, orders: 0, graphql: { restoreRate: 0.01 } });
    const order = shop.addOrder(new Date(), { financialStatus: 'pending' }) as Record<string, any>;
    const gql = graphqlOf(shop);
    const gid = `gid://shopify/Order/${order.id}`;
    shop.graphql.bucket.drain();
    const res = await gql(ORDER_MARK_AS_PAID, { input: { id: gid } });
    expect(res.status).toBe(200);
    expect(res.body.errors[0].extensions.code).toBe('THROTTLED');
    expect(res.body.extensions.cost.requestedQueryCost).toBe(10);
    expect(order.financial_status).toBe('pending');
  });

  it('looks a customer up by email, creates one that is not there, updates one that is, and refuses a taken email', async () => {
    const shop = new ShopifySandbox({ customers: 3, orders: 0 });
    const gql = graphqlOf(shop);
    const known = shop.customers[1];
    const found = await gql(CUSTOMER_BY_EMAIL, { query: `email:${searchValue(known.email.toUpperCase())}` });
    expect(found.body.data.customers.nodes).toEqual([{ id: `gid://shopify/Customer/${known.id}`, legacyResourceId: String(known.id), defaultEmailAddress: { emailAddress: known.email } }]);
    expect((await gql(CUSTOMER_BY_EMAIL, { query: `email:${searchValue('new@example.com')}` })).body.data.customers.nodes).toEqual([]);

    const created = await gql(CUSTOMER_CREATE, { input: {
      email: 'new@example.com', firstName: 'Ada', lastName: 'Lovelace', tags: ['crm'],
      addresses: [{ firstName: 'Ada', address1: '1 Main St', city: 'Montreal', provinceCode: 'QC', countryCode: 'CA', zip: 'H2X 1Y4' }],
    } });
    expect(created.body.data.customerCreate.userErrors).toEqual([]);
    const id = created.body.data.customerCreate.customer.legacyResourceId;
    expect(Number(id)).toBeGreaterThan(shop.customers[2].id);
    // REST serves the new customer too, and the email search finds it.
    const rest = (await (await shop.app().request(`/admin/api/2026-10/customers/${id}.json`)).json()) as any;
    expect(rest.customer).toMatchObject({ email: 'new@example.com', first_name: 'Ada', last_name: 'Lovelace', tags: 'crm', default_address: { city: 'Montreal', province_code: 'QC', country_code: 'CA' } });
    expect((await gql(CUSTOMER_BY_EMAIL, { query: `email:${searchValue('new@example.com')}` })).body.data.customers.nodes[0].legacyResourceId).toBe(id);

    const updated = await gql(CUSTOMER_UPDATE, { input: { id: `gid://shopify/Customer/${id}`, lastName: 'King', phone: '+15145550100' } });
    expect(updated.body.data.customerUpdate).toEqual({ customer: { id: `gid://shopify/Customer/${id}`, legacyResourceId: id }, userErrors: [] });
    expect(shop.customerById(Number(id))).toMatchObject({ last_name: 'King', phone: '+15145550100', first_name: 'Ada' });
    expect(shop.customerById(Number(id))!.addresses).toHaveLength(1);

    const taken = await gql(CUSTOMER_CREATE, { input: { email: known.email } });
    expect(taken.body.data.customerCreate).toEqual({ customer: null, userErrors: [{ field: ['email'], message: 'Email has already been taken' }] });
    const missing = await gql(CUSTOMER_UPDATE, { input: { id: 'gid://shopify/Customer/1', lastName: 'X' } });
    expect(missing.body.data.customerUpdate.userErrors).toEqual([{ field: ['id'], message: 'Customer does not exist' }]);
    expect(shop.customerWrites.counts).toEqual({ create: 1, update: 1 });
  });

  describe('the connector against the sandbox over HTTP', () => {
    const servers: ServerType[] = [];
    afterEach(() => {
      for (const server of servers.splice(0)) server.close();
    });
    const connect = async (shop: ShopifySandbox, api: 'rest' | 'graphql') => {
      const { url, server } = await listen(shop.app());
      servers.push(server);
      return shopify.create(testConnection({ name: 'shop', connector: 'shopify', baseUrl: url, credentials: { accessToken: 'shpat_test' }, options: { apiVersion: '2026-10', api } }), { logger: quietLogger });
    };
    const push = (number: number, status: string, extra: Record<string, unknown> = {}) => ({ key: `order:${number}`, payload: { status, orderNumber: String(number), currency: 'USD', ...extra } });

    it('moves the same orders the same way over GraphQL as over REST: paid, refunded in two parts, cancelled, tagged', async () => {
      const states: unknown[] = [];
      for (const api of ['rest', 'graphql'] as const) {
        const shop = new ShopifySandbox({ customers: 3, orders: 0 });
        const orders = [0, 1, 2, 3].map((i) => shop.addOrder(new Date(Date.UTC(2026, 11, 1, 0, i)), { financialStatus: 'pending' }) as Record<string, any>);
        const c = await connect(shop, api);
        const total = orders[1].total_price as string;
        const half = (Math.floor(Math.round(Number(total) * 100) / 2) / 100).toFixed(2);
        const steps = [
          push(orders[0].order_number, 'paid'),
          push(orders[1].order_number, 'paid'), push(orders[1].order_number, 'partially_refunded', { refundedAmount: half }),
          push(orders[1].order_number, 'partially_refunded', { refundedAmount: half }), push(orders[1].order_number, 'refunded', { refundedAmount: total }),
          push(orders[2].order_number, 'cancelled'), push(orders[2].order_number, 'cancelled'),
          push(orders[3].order_number, 'pending_payment', { paymentFailure: { code: 'card_declined' } }),
        ];
        for (const step of steps) expect((await c.push('order', [step]))[0]).toMatchObject({ ok: true });
        await c.close?.();
        states.push(orders.map((o) => ({
          name: o.name, financial: o.financial_status, cancelled: Boolean(o.cancelled_at), tags: o.tags,
          refunds: (o.refunds ?? []).flatMap((r: any) => r.transactions.map((t: any) => `${t.kind} ${t.amount}`)),
        })));
        if (api === 'graphql') expect(shop.graphql.mutations.counts).toMatchObject({ orderMarkAsPaid: 2, orderCancel: 1, refundCreate: 2, tagsAdd: 1 });
        expect(shop.writes.counts).toMatchObject({ markAsPaid: 2, cancel: 1, refund: 2 });
      }
      expect(states[1]).toEqual(states[0]);
      expect(states[1]).toMatchObject([
        { financial: 'paid', cancelled: false, refunds: [] },
        { financial: 'refunded', refunds: [expect.stringMatching(/^refund /), expect.stringMatching(/^refund /)] },
        { financial: 'voided', cancelled: true },
        { financial: 'pending', tags: expect.stringContaining('payment-failed') },
      ]);
    });

    it('upserts a customer by email: created when missing, updated when found, over GraphQL', async () => {
      const shop = new ShopifySandbox({ customers: 3, orders: 0 });
      const c = await connect(shop, 'graphql');
      const known = shop.customers[0];
      const [updated] = await c.push('customer', [{ key: 'c:1', payload: { email: known.email, first_name: 'Renamed', last_name: known.last_name } }]);
      expect(updated).toMatchObject({ ok: true, externalId: String(known.id) });
      expect(shop.customerById(known.id)!.first_name).toBe('Renamed');
      const [created] = await c.push('customer', [{ key: 'c:2', payload: { email: 'grace@example.com', first_name: 'Grace', last_name: 'Hopper', addresses: [{ address1: '1 Navy Way', city: 'Arlington', province: 'VA', country_code: 'US', zip: '22201' }] } }]);
      expect(created).toMatchObject({ ok: true });
      expect(shop.customerById(Number((created as { externalId: string }).externalId))).toMatchObject({ email: 'grace@example.com', first_name: 'Grace', default_address: { city: 'Arlington', province_code: 'VA' } });
      expect(shop.graphql.mutations.counts).toMatchObject({ customerCreate: 1, customerUpdate: 1 });
      await c.close?.();
    });
  });
});
