import { describe, expect, it } from 'vitest';
import { compileMapping, defaultMappingFile, loadMapping } from '../../src/mappings/engine.js';
import { shopify } from '../../src/connectors/shopify/index.js';
import { hubspot } from '../../src/connectors/hubspot/index.js';
import { canonicalProblems } from '../../src/core/canonical/validate.js';
import { MappingError } from '../../src/core/errors.js';
import { fixture } from '../helpers/mock-apis.js';

describe('mapping engine', () => {
  it('offers money, status and date functions JSONata lacks', async () => {
    const m = compileMapping(`{
      "minor": $toMinor("598.94", "USD"), "jpy": $fromMinor(1500, "JPY"), "kwd": $fromMinor(1234, "KWD"),
      "sum": $sumMoney(["0.10", "0.20"], "USD"), "norm": $money("10", "USD"),
      "status": $status("partially_paid"), "when": $isoUtc("2008-01-10T11:00:00-05:00"), "ms": $isoUtc(1735725600000)
    }`, 'inline', { connector: 'shopify', statusMap: shopify.statusMap });
    expect(await m.evaluate({})).toEqual({
      minor: 59894, jpy: '1500', kwd: '1.234', sum: '0.30', norm: '10.00',
      status: 'pending_payment', when: '2008-01-10T16:00:00.000Z', ms: '2025-01-01T10:00:00.000Z',
    });
  });

  it('leaves functions out of a result, as JSON does, even a lambda whose scope holds itself', async () => {
    for (const engine of ['compiled', 'interpreter', 'verify'] as const) {
      // The whole mapping a lambda bound to a name in its own scope: copying that scope never ended.
      expect(await compileMapping('$f := function() { [1, 2] }', 'lambda.jsonata', {}, { engine }).evaluate({})).toBeUndefined();
      expect(await compileMapping('{"a": a, "f": function($x) { $x }, "l": [1, function() { 2 }], "s": $string}', 'fields.jsonata', {}, { engine }).evaluate({ a: 1 }))
        .toEqual({ a: 1, l: [1] });
    }
  });

  it('fails with the file, position and code on a bad record, and bounds runaway evaluation', async () => {
    const m = compileMapping('$status(financial_status)', 'orders.jsonata', { connector: 'shopify', statusMap: shopify.statusMap });
    await expect(m.evaluate({ financial_status: 'teleported' })).rejects.toThrow(/orders\.jsonata:1:\d+: failed on this record: shopify has no canonical order status for "teleported"/);
    const loop = compileMapping('($f := function($n) { $f($n + 1) }; $f(0))', 'loop.jsonata', {}, { timeoutMs: 200, maxDepth: 100 });
    const err = (await loop.evaluate({}).catch((e: unknown) => e)) as MappingError;
    expect(err).toBeInstanceOf(MappingError);
    expect(err.message).toMatch(/loop\.jsonata.*\((U1001|D1012)\)/);
  });

  it('maps the Shopify docs’ order to a valid canonical order with exact money', async () => {
    const m = loadMapping(defaultMappingFile('shopify', 'order', 'in'), { connector: 'shopify', statusMap: shopify.statusMap });
    const out = (await m.evaluate(fixture('shopify/order.json'))) as any;
    expect(canonicalProblems('order', out)).toEqual([]);
    expect(out).toMatchObject({
      externalId: '450789469', orderNumber: '1001', status: 'partially_refunded', currency: 'USD',
      subtotal: '597.00', taxTotal: '11.94', discountTotal: '10.00', shippingTotal: '0.00', total: '598.94', refundedAmount: '209.00',
      createdAt: '2008-01-10T16:00:00.000Z',
    });
    expect(out.lineItems).toHaveLength(3);
    expect(out.lineItems[2]).toMatchObject({ sku: 'IPOD2008BLACK', quantity: 1, unitPrice: '199.00', discount: '10.00', total: '189.00', tax: '3.98' });
    expect(out.customer).toMatchObject({ email: 'bob.norman@mail.example.com', firstName: 'Bob' });
  });

  it('maps the Shopify docs’ customer, and canonical records out to HubSpot', async () => {
    const cin = loadMapping(defaultMappingFile('shopify', 'customer', 'in'), { connector: 'shopify', statusMap: shopify.statusMap });
    const customer = (await cin.evaluate(fixture('shopify/customer.json'))) as any;
    expect(canonicalProblems('customer', customer)).toEqual([]);
    expect(customer).toMatchObject({ email: 'bob.norman@mail.example.com', tags: ['Léon', 'Noël'], totalSpent: '199.65', acceptsMarketing: false });
    const cout = loadMapping(defaultMappingFile('hubspot', 'customer', 'out'), { connector: 'hubspot', options: {} });
    expect(await cout.evaluate(customer)).toEqual({ properties: expect.objectContaining({ email: 'bob.norman@mail.example.com', firstname: 'Bob', lastname: 'Norman', city: 'Louisville', zip: '40202' }) });

    const dout = loadMapping(defaultMappingFile('hubspot', 'order', 'out'), { connector: 'hubspot', options: { orderIdProperty: 'shop_order_no', dealStages: { paid: 'custom_paid' } } });
    expect(await dout.evaluate({ orderNumber: '1001', total: '598.94', currency: 'USD', status: 'paid' })).toEqual({
      properties: { dealname: 'Order 1001', amount: '598.94', deal_currency_code: 'USD', dealstage: 'custom_paid', pipeline: 'default', shop_order_no: '1001' },
    });
    const din = loadMapping(defaultMappingFile('hubspot', 'order', 'in'), { connector: 'hubspot', statusMap: hubspot.statusMap, options: { dealStages: { paid: 'custom_paid' } } });
    expect(await din.evaluate({ id: '7', properties: { dealstage: 'custom_paid', amount: '5', synchub_order_number: '1001', createdate: '2025-01-01T00:00:00Z', hs_lastmodifieddate: '2025-01-02T00:00:00Z' } }))
      .toMatchObject({ status: 'paid', total: '5.00', orderNumber: '1001' });
  });
});
