/**
 * A field that is only informative never fails a record that is otherwise right: line unit
 * prices kept with more decimals than the currency has (Odoo's "Product Price" precision,
 * Magento's decimal(20,4) prices, Dataverse's pricing decimal precision) are left out of the
 * canonical order instead of dead-lettering it; the totals stay exact and strict.
 */
import { describe, expect, it } from 'vitest';
import { dynamics } from '../../src/connectors/dynamics/index.js';
import { magento } from '../../src/connectors/magento/index.js';
import { odoo } from '../../src/connectors/odoo/index.js';
import { canonicalProblems } from '../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../src/mappings/engine.js';
import { fixture } from '../helpers/mock-apis.js';

const mapping = (connector: string, statusMap: unknown) => loadMapping(defaultMappingFile(connector, 'order', 'in'), { connector, statusMap: statusMap as never, options: {} });

describe('informative line amounts with more decimals than the currency', () => {
  it('odoo: a price_unit of 4 decimals', async () => {
    const lines = fixture<any[]>('odoo/sale-order-lines.json').filter((l) => !l.display_type).map((l, i) => (i === 0 ? { ...l, price_unit: 33.3333 } : l));
    const out: any = await mapping('odoo', odoo.statusMap).evaluate({ ...fixture<Record<string, unknown>>('odoo/sale-order.json'), state: 'sale', lines, invoices: [] });
    expect(canonicalProblems('order', out)).toEqual([]);
    expect(out.lineItems[0].unitPrice).toBeUndefined();
    expect(out.lineItems[0].total).toBe(fixture<any[]>('odoo/sale-order-lines.json').filter((l) => !l.display_type)[0].price_subtotal.toFixed(2));
  });

  it('magento: an item price of 4 decimals', async () => {
    const o = fixture<any>('magento/order.json');
    o.items[0].price = 33.3333;
    const out: any = await mapping('magento', magento.statusMap).evaluate(o);
    expect(canonicalProblems('order', out)).toEqual([]);
    expect(out.lineItems[0].unitPrice).toBeUndefined();
  });

  it('dynamics: a priceperunit of 4 decimals', async () => {
    const so = {
      salesorderid: '00000000-0000-0000-0000-000000000007', ordernumber: 'ORD-01001', name: 'Order 1001', statecode: 4, statuscode: 100003, totalamount: 100, totallineitemamount: 100, totaltax: 0,
      freightamount: 0, totaldiscountamount: 0, transactioncurrencyid: { isocurrencycode: 'EUR' }, synchub_id: '1001', createdon: '2025-03-01T09:00:00Z', modifiedon: '2025-03-02T09:00:00Z',
      order_details: [{ salesorderdetailid: '00000000-0000-0000-0000-000000000008', productdescription: 'Licence', quantity: 3, priceperunit: 33.3333, manualdiscountamount: 0, tax: 0, extendedamount: 100 }],
    };
    const out: any = await mapping('dynamics', dynamics.statusMap).evaluate(so);
    expect(canonicalProblems('order', out)).toEqual([]);
    expect(out).toMatchObject({ total: '100.00', lineItems: [{ quantity: 3, total: '100.00' }] });
    expect(out.lineItems[0].unitPrice).toBeUndefined();
  });

  it('odoo as a target refuses a line without an exact unit price, with the reason, instead of pricing it from the product', async () => {
    const out = loadMapping(defaultMappingFile('odoo', 'order', 'out'), { connector: 'odoo', options: {} });
    const order = { orderNumber: '801', status: 'paid', currency: 'USD', total: '245.85', lineItems: [{ title: 'Desk lamp', quantity: 2, total: '235.85' }] };
    await expect(out.evaluate(order)).rejects.toThrow(/line "Desk lamp" has no exact unit price \(235.85 for quantity 2\)/);
    const priced: any = await out.evaluate({ ...order, lineItems: [{ title: 'Desk lamp', quantity: 2, unitPrice: '117.90', total: '235.80' }] });
    expect(priced.lines[0].price_unit).toBe('117.90');
  });
});
