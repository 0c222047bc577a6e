/**
 * Options of the CRMs whose records take custom fields (Salesforce, Zoho CRM, Dynamics 365):
 * which field receives a customer's segment and which fields receive an order's types
 * (docs/order-operations.md). The connectors' default out-mappings read them as
 * `$conn.segmentField` and `$conn.orderTypeFields`; unset ones are not written. HubSpot's
 * equivalents are its own `segmentProperty` and `orderTypeProperties`.
 */
export function crmFieldOptions(kind: string, examples: { segment: string; customerType: string; recurring: string }) {
  return {
    segmentField: { type: 'string', minLength: 1, description: `${kind} on the customer record that receives the customer\u2019s segment (segments.push; create it first, a text field); unset: not written`, examples: [examples.segment] },
    orderTypeFields: {
      type: 'object', additionalProperties: false,
      description: `${kind}s on the order record that receive the order types (create them first: a field the CRM does not know fails the upsert); unset ones are not written`,
      properties: {
        customerType: { type: 'string', minLength: 1, description: 'Receives new or returning (a text or picklist field)', examples: [examples.customerType] },
        recurring: { type: 'string', minLength: 1, description: 'Receives true or false (a checkbox / boolean field)', examples: [examples.recurring] },
      },
    },
  } as const;
}
