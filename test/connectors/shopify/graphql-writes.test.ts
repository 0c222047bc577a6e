/**
 * Write-backs through the GraphQL Admin API (issue 16, item 5): each mutation with success and
 * with userErrors, and a retry that finds the work done changes nothing. Payloads shaped like
 * shopify.dev's 2026-10 examples (mutations/orderMarkAsPaid, orderCancel + Job, refundCreate with
 * @idempotent, tagsAdd, customerCreate, customerUpdate); see test/helpers/shopify-graphql-writes.ts.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shopify } from '../../../src/connectors/shopify/index.js';
import { customerInput, refundIdempotencyKey, searchValue } from '../../../src/connectors/shopify/graphql-writes.js';
import { RemoteRejectedError } from '../../../src/core/errors.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';
import { mockShopifyGraphqlWrites, pendingOrder } from '../../helpers/shopify-graphql-writes.js';

const SHOP = 'https://acme.myshopify.com';

function client(api = 'graphql') {
  return shopify.create(testConnection({ name: 'shop', connector: 'shopify', baseUrl: SHOP, credentials: { accessToken: 'shpat_test' }, options: { apiVersion: '2026-10', api } }), { logger: quietLogger });
}
const order = (orderNumber: string, status: string, extra: Record<string, unknown> = {}) => ({ key: `order:${orderNumber}`, payload: { status, orderNumber, currency: 'USD', ...extra } });

describe('shopify GraphQL write-backs', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('marks a pending order paid once, found by its name; a retry that finds it paid sends no mutation', async () => {
    const shop = mockShopifyGraphqlWrites(SHOP, { orders: [pendingOrder(450789469, '#1001', '199.65')] });
    const c = client();
    expect(await c.push('order', [order('1001', 'paid')])).toEqual([{ key: 'order:1001', ok: true, externalId: '450789469' }]);
    expect(shop.mutations.map((m) => m.op)).toEqual(['orderMarkAsPaid']);
    expect(shop.mutations[0].variables).toEqual({ input: { id: 'gid://shopify/Order/450789469' } });
    expect(shop.orders.get('450789469')!.displayFinancialStatus).toBe('PAID');
    // The retry (a job that ran again after its answer was lost): read first, nothing to do.
    expect(await c.push('order', [{ ...order('1001', 'paid'), externalId: '450789469' }])).toEqual([{ key: 'order:1001', ok: true, externalId: '450789469' }]);
    expect(shop.mutations).toHaveLength(1);
  });

  it('cancels through orderCancel without refund, restock or notification, follows its job, and never cancels twice', async () => {
    const shop = mockShopifyGraphqlWrites(SHOP, { orders: [pendingOrder(1, '#1002', '20.00')], cancelJobPolls: 2 });
    const c = client();
    expect(await c.push('order', [order('1002', 'cancelled')])).toEqual([{ key: 'order:1002', ok: true, externalId: '1' }]);
    expect(shop.mutations.map((m) => m.op)).toEqual(['orderCancel']);
    expect(shop.mutations[0].variables).toMatchObject({ orderId: 'gid://shopify/Order/1', reason: 'OTHER', refundMethod: { originalPaymentMethodsRefund: false }, restock: false, notifyCustomer: false });
    expect(shop.orders.get('1')!.cancelledAt).not.toBeNull();
    await c.push('order', [order('1002', 'cancelled')]);
    expect(shop.mutations).toHaveLength(1);
  });

  it('refunds what is still missing of refundedAmount against the sale, with an idempotency key; a retry refunds nothing more', async () => {
    const paid = pendingOrder(2, '#1003', '20.00', { displayFinancialStatus: 'PAID', transactions: [{ id: 'gid://shopify/OrderTransaction/77', kind: 'SALE', status: 'SUCCESS', gateway: 'shopify_payments', amount: '20.00' }] });
    const shop = mockShopifyGraphqlWrites(SHOP, { orders: [paid] });
    const c = client();
    await c.push('order', [order('1003', 'partially_refunded', { refundedAmount: '5.10' })]);
    await c.push('order', [order('1003', 'partially_refunded', { refundedAmount: '5.10' })]);
    await c.push('order', [order('1003', 'refunded', { refundedAmount: '20.00' })]);
    expect(shop.mutations.map((m) => [m.op, m.variables.input.transactions[0].amount])).toEqual([['refundCreate', '5.10'], ['refundCreate', '14.90']]);
    expect(shop.mutations[0].variables.input).toEqual({
      orderId: 'gid://shopify/Order/2', notify: false, note: 'Refund recorded by synchub from the payment provider',
      transactions: [{ orderId: 'gid://shopify/Order/2', parentId: 'gid://shopify/OrderTransaction/77', amount: '5.10', gateway: 'shopify_payments', kind: 'REFUND' }],
    });
    expect(shop.mutations[0].variables.idempotencyKey).toBe(refundIdempotencyKey('2', '5.10'));
    expect(shop.mutations[0].variables.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(shop.orders.get('2')!).toMatchObject({ refunded: '20.00', displayFinancialStatus: 'REFUNDED' });
  });

  it('marks a pending order paid before refunding it (the refund goes against the new sale)', async () => {
    const shop = mockShopifyGraphqlWrites(SHOP, { orders: [pendingOrder(3, '#1004', '20.00')] });
    await client().push('order', [order('1004', 'refunded', { refundedAmount: '20.00' })]);
    expect(shop.mutations.map((m) => m.op)).toEqual(['orderMarkAsPaid', 'refundCreate']);
  });

  it('tags a payment failure once with tagsAdd', async () => {
    const shop = mockShopifyGraphqlWrites(SHOP, { orders: [pendingOrder(4, '#1005', '20.00', { tags: ['wholesale'] })] });
    const c = client();
    const failed = order('1005', 'pending_payment', { paymentFailure: { code: 'card_declined' } });
    await c.push('order', [failed]);
    await c.push('order', [failed]);
    expect(shop.mutations.map((m) => [m.op, m.variables])).toEqual([['tagsAdd', { id: 'gid://shopify/Order/4', tags: ['payment-failed'] }]]);
    expect(shop.orders.get('4')!.tags).toEqual(['wholesale', 'payment-failed']);
  });

  it.each([
    ['orderMarkAsPaid', 'SynchubOrderMarkAsPaid', order('1001', 'paid'), { field: ['input', 'id'], message: 'Order cannot be marked as paid.' }],
    ['orderCancel', 'SynchubOrderCancel', order('1001', 'cancelled'), { field: ['orderId'], message: 'Cannot cancel an order that has pending payments.', code: 'INVALID' }],
    ['refundCreate', 'SynchubRefundCreate', order('1001', 'refunded', { refundedAmount: '30.00' }), { field: ['transactions', '0', 'amount'], message: 'Amount to refund (30.00) is greater than the amount that can be refunded.' }],
    ['tagsAdd', 'SynchubTagsAdd', order('1001', 'pending_payment', { paymentFailure: { code: 'card_declined' } }), { field: ['id'], message: 'Order is archived.' }],
  ])('%s userErrors refuse that record with their message (the rest of the batch goes on)', async (op, name, item, userError) => {
    const start = op === 'refundCreate' ? { displayFinancialStatus: 'PAID', transactions: [{ id: 'gid://shopify/OrderTransaction/1', kind: 'SALE', status: 'SUCCESS', gateway: 'manual', amount: '20.00' }] } : {};
    const shop = mockShopifyGraphqlWrites(SHOP, { orders: [pendingOrder(5, '#1001', '20.00', start), pendingOrder(6, '#1002', '20.00')] });
    shop.refuse.set(name, [userError]);
    const out = await client().push('order', [item, { ...order('1002', 'paid'), key: 'other' }]);
    expect(out[0]).toMatchObject({ key: item.key, ok: false });
    const err = (out[0] as { error: RemoteRejectedError }).error;
    expect(err).toBeInstanceOf(RemoteRejectedError);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`${op} refused: ${userError.field.join('.')}: ${userError.message}`);
    expect(err.details).toEqual({ userErrors: [userError] });
    // A refused orderMarkAsPaid refuses the other record's too (one mock rule): only the others' outcomes are asserted then.
    if (op !== 'orderMarkAsPaid') expect(out[1]).toEqual({ key: 'other', ok: true, externalId: '6' });
  });

  it('refuses an order it cannot find by name, and a name that is not one Shopify gives, without a mutation', async () => {
    const shop = mockShopifyGraphqlWrites(SHOP, { orders: [pendingOrder(7, '#10010', '20.00')] });
    const out = await client().push('order', [order('1001', 'paid'), order('1001" OR name:"*', 'paid')]);
    expect(out.map((o) => (o.ok ? 'ok' : o.error.message))).toEqual([
      expect.stringContaining('no Shopify order named #1001'),
      expect.stringContaining('is not one Shopify gives'),
    ]);
    expect(shop.mutations).toEqual([]);
  });

  it('looks a customer up by email first and updates it; creates one only when none has the email; a retried create finds the first', async () => {
    const shop = mockShopifyGraphqlWrites(SHOP, { customers: [{ id: '207119551', email: 'bob.norman@mail.example.com', firstName: 'Bob' }] });
    const c = client();
    const out = await c.push('customer', [
      { key: 'a', payload: { email: 'Bob.Norman@mail.example.com', first_name: 'Robert', tags: 'vip, newsletter', addresses: [{ address1: '1 Main St', province: 'Kentucky', country_code: 'US' }] } },
      { key: 'b', payload: { email: 'new@example.com', first_name: 'Nia', addresses: [{ address1: '2 Rue', province: 'QC', country_code: 'CA', zip: 'H2X 1Y4' }] } },
    ]);
    expect(out).toEqual([{ key: 'a', ok: true, externalId: '207119551' }, { key: 'b', ok: true, externalId: expect.stringMatching(/^\d+$/) }]);
    expect(shop.mutations.map((m) => m.op)).toEqual(['customerUpdate', 'customerCreate']);
    // An update leaves the customer's addresses alone; tags are a list.
    expect(shop.mutations[0].variables.input).toEqual({ id: 'gid://shopify/Customer/207119551', email: 'Bob.Norman@mail.example.com', firstName: 'Robert', tags: ['vip', 'newsletter'] });
    expect(shop.mutations[1].variables.input).toEqual({ email: 'new@example.com', firstName: 'Nia', addresses: [{ address1: '2 Rue', provinceCode: 'QC', countryCode: 'CA', zip: 'H2X 1Y4' }] });
    const again = await c.push('customer', [{ key: 'b', payload: { email: 'new@example.com', first_name: 'Nia' } }]);
    expect(again).toEqual([{ key: 'b', ok: true, externalId: (out[1] as { externalId: string }).externalId }]);
    expect(shop.mutations.map((m) => m.op)).toEqual(['customerUpdate', 'customerCreate', 'customerUpdate']);
  });

  it('customerCreate and customerUpdate userErrors refuse the record with their message', async () => {
    const shop = mockShopifyGraphqlWrites(SHOP, { customers: [{ id: '1', email: 'a@example.com' }] });
    shop.refuse.set('SynchubCustomerCreate', [{ field: ['email'], message: 'Email has already been taken' }]);
    shop.refuse.set('SynchubCustomerUpdate', [{ field: ['phone'], message: 'Phone is invalid' }]);
    const out = await client().push('customer', [{ key: 'new', payload: { email: 'b@example.com' } }, { key: 'old', payload: { email: 'a@example.com', phone: '12' } }]);
    expect(out.map((o) => (o.ok ? 'ok' : o.error.message))).toEqual([
      'shop: customerCreate refused: email: Email has already been taken',
      'shop: customerUpdate refused: phone: Phone is invalid',
    ]);
  });

  it('builds search terms and inputs that cannot carry search syntax or drop what the REST shape had', () => {
    expect(searchValue('a"b\\c@example.com')).toBe('"a\\"b\\\\c@example.com"');
    expect(customerInput({ email: 'x@example.com', phone: null, note: 'n', unknown: 1 }, false)).toEqual({ email: 'x@example.com', phone: null, note: 'n' });
  });

  it('writes through REST when api is rest (the writer is chosen by config)', async () => {
    const rest = nock(SHOP).get('/admin/api/2026-10/customers/search.json').query(true).reply(200, { customers: [] })
      .post('/admin/api/2026-10/customers.json').reply(201, { customer: { id: 5 } });
    expect(await client('rest').push('customer', [{ key: 'b', payload: { email: 'new@example.com' } }])).toEqual([{ key: 'b', ok: true, externalId: '5' }]);
    expect(rest.isDone()).toBe(true);
  });
});
