import { describe, expect, it } from 'vitest';
import { defaultMappingFile, loadMapping } from '../../src/mappings/engine.js';
import { connectors } from '../../src/connectors/registry.js';

/** Salesforce, Zoho and Dynamics write a customer's segment and an order's types into the fields their options name. */
const CRMS = {
  salesforce: { segment: 'Synchub_Segment__c', customerType: 'Synchub_Customer_Type__c', recurring: 'Synchub_Recurring__c', extra: { orderObject: 'Opportunity' } },
  zoho: { segment: 'Synchub_Segment', customerType: 'Synchub_Customer_Type', recurring: 'Synchub_Recurring', extra: { orderModule: 'Deals' } },
  dynamics: { segment: 'synchub_segment', customerType: 'synchub_customertype', recurring: 'synchub_recurring', extra: {} },
} as const;

const customer = { externalId: '207119551', email: 'bob.norman@mail.example.com', firstName: 'Bob', lastName: 'Norman', addresses: [], segment: 'champions' };
const order = {
  externalId: '450789469', orderNumber: '1001', status: 'paid', currency: 'EUR', subtotal: '10.00', taxTotal: '0.00', shippingTotal: '0.00', discountTotal: '0.00', total: '10.00',
  lineItems: [], createdAt: '2026-11-01T10:00:00.000Z', updatedAt: '2026-11-01T10:00:00.000Z', paidAt: '2026-11-01T10:00:00.000Z', customerType: 'returning', recurring: true,
};

describe.each(Object.entries(CRMS))('%s: segment and order-type fields', (name, f) => {
  const map = (entity: 'customer' | 'order', options: Record<string, unknown>) =>
    loadMapping(defaultMappingFile(name, entity, 'out'), { connector: name, options: { ...f.extra, ...options } });

  it('writes the segment into segmentField, and nothing when the option is unset or the customer has none', async () => {
    expect(await map('customer', { segmentField: f.segment }).evaluate(customer)).toMatchObject({ [f.segment]: 'champions' });
    expect(Object.keys((await map('customer', {}).evaluate(customer)) as object)).not.toContain(f.segment);
    expect(Object.keys((await map('customer', { segmentField: f.segment }).evaluate({ ...customer, segment: undefined })) as object)).not.toContain(f.segment);
  });

  it('writes customerType and recurring (a boolean) into orderTypeFields, each only when named', async () => {
    const both = { orderTypeFields: { customerType: f.customerType, recurring: f.recurring } };
    expect(await map('order', both).evaluate(order)).toMatchObject({ [f.customerType]: 'returning', [f.recurring]: true });
    expect(await map('order', both).evaluate({ ...order, recurring: undefined })).toMatchObject({ [f.recurring]: false });
    const none = Object.keys((await map('order', {}).evaluate(order)) as object);
    expect(none).not.toContain(f.customerType);
    expect(none).not.toContain(f.recurring);
  });

  it('takes the options in its schema, and refuses an unknown key under orderTypeFields', () => {
    const props = (connectors.get(name)!.optionsSchema as any).properties;
    expect(props.segmentField.type).toBe('string');
    expect(props.orderTypeFields.additionalProperties).toBe(false);
  });
});
