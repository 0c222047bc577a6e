import { defineConnector } from '../types.js';
import { crmFieldOptions } from '../crm-fields.js';
import { SALESFORCE_MAX_PUSH, SalesforceClient } from './client.js';
import { salesforceWebhooks } from './webhooks.js';

const picklist = { type: 'object', additionalProperties: { type: 'string' } };

export const salesforce = defineConnector({
  id: 'salesforce',
  kind: 'crm',
  title: 'Salesforce (REST API)',
  entities: {
    // Deletions: the getDeleted resource at the end of each incremental pull (Outbound Messages
    // do not fire on delete); composite delete when propagating.
    customer: { pull: true, push: true, webhook: true, deletions: ['pull'], remove: 'delete', onDelete: ['delete', 'mark'] },
    order: { pull: true, push: true, webhook: true, deletions: ['pull'], remove: 'delete', onDelete: ['delete', 'mark'] },
  },
  optionsSchema: {
    properties: {
      ...crmFieldOptions('Field', { segment: 'Synchub_Segment__c', customerType: 'Synchub_Customer_Type__c', recurring: 'Synchub_Recurring__c' }),
      apiVersion: { type: 'string', pattern: '^v\\d+\\.\\d$', default: 'v62.0', description: 'REST API version', examples: ['v62.0'] },
      customerObject: { enum: ['Contact', 'Account'], default: 'Contact', description: 'sObject that holds customers' },
      orderObject: { enum: ['Order', 'Opportunity'], default: 'Order', description: 'sObject that holds orders' },
      externalIdField: { type: 'string', default: 'Synchub_Id__c', description: 'External Id field (unique) the upsert matches on, on every object' },
      externalIdFields: { type: 'object', additionalProperties: { type: 'string' }, description: 'Per-object override of externalIdField', examples: [{ Opportunity: 'Order_Number__c' }] },
      limitHeadroom: { type: 'number', minimum: 0, maximum: 0.9, default: 0.1, description: 'Share of the daily API limit to keep free: inside it, calls slow to one a minute' },
      limitExceededWaitMs: { type: 'integer', minimum: 1000, default: 900000, description: 'How long the connection waits after REQUEST_LIMIT_EXCEEDED' },
      multiCurrency: { type: 'boolean', default: false, description: 'The org has multi-currency on: read and write CurrencyIsoCode' },
      currency: { type: 'string', pattern: '^[A-Z]{3}$', default: 'USD', description: 'Currency of amounts when the org is single-currency' },
      accountId: { type: 'string', description: 'Account that new Orders are created under (Order requires an AccountId)' },
      orderStatuses: { ...picklist, description: "This org's Order Status / Opportunity StageName values → canonical status (merged over the defaults)", examples: [{ Shipped: 'shipped' }] },
      orderStatusValues: { ...picklist, description: 'Canonical status → the value written to Order Status / Opportunity StageName (merged over the defaults)', examples: [{ refunded: 'Refunded' }] },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    anyOf: [{ required: ['accessToken'] }, { required: ['clientId', 'clientSecret'] }],
    // A connected app's client credentials: tokens renew themselves (`synchub init` writes these).
    examples: [{ clientId: '${SALESFORCE_CLIENT_ID}', clientSecret: '${SALESFORCE_CLIENT_SECRET}' }],
    properties: {
      accessToken: { type: 'string', minLength: 1, description: 'A session or OAuth access token (Bearer); or give clientId + clientSecret' },
      clientId: { type: 'string', minLength: 1, description: 'Consumer key of a connected app with the client-credentials flow enabled' },
      clientSecret: { type: 'string', minLength: 1, description: 'Consumer secret of that app' },
      organizationId: { type: 'string', pattern: '^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$', description: 'Org id (00D…): Outbound Messages from any other org are refused; without it the connection takes none' },
    },
  },
  // No API the hub can call subscribes it: `synchub webhooks` answers not_supported with this.
  webhookSubscriptions: { howTo: 'Outbound Messages are org metadata (Setup, or a Metadata API deployment), not a subscription the hub makes: create an Outbound Message (Setup → Outbound Messages) on Contact and on the order object with Endpoint URL <server.publicUrl>/webhooks/<connection> and the Id field, and fire it from a Flow or workflow rule on create and update; the hub checks the OrganizationId (credentials.organizationId) and answers the Ack' },
  personalFields: ['Email', 'FirstName', 'LastName', 'Name', 'Phone', 'MobilePhone', 'HomePhone', 'MailingStreet', 'MailingCity', 'MailingPostalCode', 'BillingStreet', 'BillingCity', 'BillingPostalCode', 'ShippingStreet', 'ShippingCity', 'ShippingPostalCode', 'Description', 'Contact.Name', 'Contact.Email', 'Account.Name'],
  maxPushBatch: SALESFORCE_MAX_PUSH,
  defaultRateLimit: { max: 20, perMs: 1000 },
  create(connection, ctx) {
    const client = new SalesforceClient(connection, ctx);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items, signal) => client.push(entity, items, signal),
      fetch: (entity, id, signal) => client.fetch(entity, id, signal),
      remove: (entity, ids, signal) => client.remove(entity, ids, signal),
      mark: (entity, ids, mark, signal) => client.mark(entity, ids, mark, signal),
      fetchMany: (entity, ids, signal) => client.fetchMany(entity, ids, signal),
      webhooks: connection.credentials.organizationId ? salesforceWebhooks(connection.credentials.organizationId) : undefined,
      close: async () => {},
    };
  },
});
