import { defineConnector } from '../types.js';
import { crmFieldOptions } from '../crm-fields.js';
import { ZOHO_MAX_UPSERT, ZohoClient } from './client.js';
import { zohoWebhooks } from './webhooks.js';
import { zohoSubscriptionSupport } from './subscriptions.js';

const picklist = { type: 'object', additionalProperties: { type: 'string' } };

export const zoho = defineConnector({
  id: 'zoho',
  kind: 'crm',
  title: 'Zoho CRM (API v8)',
  defaultBaseUrl: 'https://www.zohoapis.com',
  entities: {
    // Deleted records are read on incremental pulls (`/{module}/deleted`).
    customer: { pull: true, push: true, webhook: true, deletions: ['webhook', 'pull'], remove: 'delete', onDelete: ['delete', 'mark'] },
    order: { pull: true, push: true, webhook: true, deletions: ['webhook', 'pull'], remove: 'delete', onDelete: ['delete', 'mark'] },
  },
  optionsSchema: {
    properties: {
      ...crmFieldOptions('Field', { segment: 'Synchub_Segment', customerType: 'Synchub_Customer_Type', recurring: 'Synchub_Recurring' }),
      accountsUrl: { type: 'string', pattern: '^https?://', default: 'https://accounts.zoho.com', description: 'Accounts server of your data centre (accounts.zoho.eu, .in, .com.au, .jp, .com.cn); baseUrl is the matching www.zohoapis.<dc>' },
      orderModule: { enum: ['Sales_Orders', 'Deals'], default: 'Sales_Orders', description: 'Module that holds orders' },
      orderNumberField: { type: 'string', default: 'Synchub_Order_Number', description: 'Field (unique, create it in Zoho) that holds the order number; the default duplicate check of orders' },
      duplicateCheckFields: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' }, minItems: 1 }, description: 'Per module, the fields an upsert matches on (default Contacts: Email; orders: orderNumberField)' },
      currency: { type: 'string', pattern: '^[A-Z]{3}$', default: 'USD', description: 'Currency of amounts when the org has one currency' },
      orderStatuses: { ...picklist, description: "This org's Sales_Orders Status / Deals Stage values → canonical status (merged over the defaults)" },
      orderStatusValues: { ...picklist, description: 'Canonical status → the value written (merged over the defaults)' },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['clientId', 'clientSecret', 'refreshToken'],
    properties: {
      clientId: { type: 'string', minLength: 1, description: 'Client id of a Zoho API console client', examples: ['1000.XXXX'] },
      clientSecret: { type: 'string', minLength: 1, description: 'Client secret of that client' },
      refreshToken: { type: 'string', minLength: 1, description: 'Refresh token (offline access) for ZohoCRM.modules.ALL' },
      notificationToken: { type: 'string', minLength: 1, maxLength: 50, description: 'The token given when subscribing the notification channel; without it the connection takes no notifications' },
    },
  },
  personalFields: ['Email', 'Secondary_Email', 'First_Name', 'Last_Name', 'Full_Name', 'Phone', 'Mobile', 'Mailing_Street', 'Mailing_City', 'Mailing_Zip', 'Contact_Name.name', 'Description'],
  maxPushBatch: ZOHO_MAX_UPSERT,
  defaultRateLimit: { max: 10, perMs: 1000 },
  webhookSubscriptions: zohoSubscriptionSupport,
  create(connection, ctx) {
    const client = new ZohoClient(connection, ctx);
    const token = connection.credentials.notificationToken;
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items, signal) => client.push(entity, items, signal),
      fetch: (entity, id, signal) => client.fetch(entity, id, signal),
      remove: (entity, ids, signal) => client.remove(entity, ids, signal),
      mark: (entity, ids, mark, signal) => client.mark(entity, ids, mark, signal),
      fetchMany: (entity, ids, signal) => client.fetchMany(entity, ids, signal),
      webhooks: token ? zohoWebhooks(token, { Contacts: 'customer', [client.module('order')]: 'order' }) : undefined,
      close: async () => {},
    };
  },
});
