import { defineConnector } from '../types.js';
import { hubspotAuth, hubspotAuthMode, hubspotCredentialsSchema } from './auth.js';
import { HUBSPOT_MAX_BATCH, HubspotClient } from './client.js';
import { HUBSPOT_JOURNAL_REASON, hubspotJournalProblems } from './journal.js';
import { HUBSPOT_API_VERSION, HUBSPOT_API_VERSIONS } from './versions.js';
import { hubspotWebhooks } from './webhooks.js';
import { hubspotSubscriptionCredentials, hubspotSubscriptionOptions, hubspotSubscriptionSupport } from './subscriptions.js';

export const hubspot = defineConnector({
  id: 'hubspot',
  kind: 'crm',
  title: 'HubSpot CRM (date-versioned APIs, or v3)',
  defaultBaseUrl: 'https://api.hubapi.com',
  entities: {
    // contact.deletion / deal.deletion webhooks, and archived records on incremental pulls;
    // deletions propagated by batch archive.
    customer: { pull: true, push: true, webhook: true, deletions: ['webhook', 'pull'], remove: 'archive', onDelete: ['archive', 'mark'] },
    order: { pull: true, push: true, webhook: true, deletions: ['webhook', 'pull'], remove: 'archive', onDelete: ['archive', 'mark'] },
  },
  optionsSchema: {
    properties: {
      apiVersion: {
        type: 'string', enum: HUBSPOT_API_VERSIONS, default: HUBSPOT_API_VERSION,
        description: 'API version in the paths: a dated version (/crm/objects/YYYY-MM/…; default: the newest generally available) or v3 (/crm/v3/objects/…, unsupported from September 2027)',
        examples: [HUBSPOT_API_VERSION, 'v3'],
      },
      orderIdProperty: { type: 'string', default: 'synchub_order_number', description: 'Unique deal property that holds the order number (create it in HubSpot as a unique-value property)' },
      dealPipeline: { type: 'string', default: 'default', description: 'Deal pipeline id for deals the hub creates' },
      dealStages: {
        type: 'object', description: 'Canonical order status → deal stage id of that pipeline',
        additionalProperties: { type: 'string' },
        examples: [{ pending_payment: 'appointmentscheduled', paid: 'closedwon' }],
      },
      segmentProperty: { type: 'string', description: 'Contact property that receives the customer\u2019s segment (segments.push; create it in HubSpot first); unset: not written', examples: ['synchub_segment'] },
      orderTypeProperties: {
        type: 'object', additionalProperties: false,
        description: 'Deal properties that receive the order types (create them in HubSpot first: a property HubSpot does not know fails the upsert); unset ones are not written',
        properties: {
          customerType: { type: 'string', description: 'Receives new or returning', examples: ['synchub_customer_type'] },
          recurring: { type: 'string', description: 'Receives true or false', examples: ['synchub_recurring'] },
        },
      },
      properties: {
        type: 'object', additionalProperties: false, description: 'Properties read on pull and fetch',
        properties: { customer: { type: 'array', items: { type: 'string' } }, order: { type: 'array', items: { type: 'string' } } },
      },
      webhookUrl: { type: 'string', format: 'uri', description: 'Public URL registered in HubSpot for webhooks, when a proxy changes what the hub sees' },
      ...hubspotSubscriptionOptions,
      webhooksJournal: { type: 'boolean', default: false, description: `Pull missed webhook events from HubSpot's webhooks journal: not supported (${HUBSPOT_JOURNAL_REASON}); true is refused at start-up` },
    },
  },
  // Which credentials select which mode, and the combinations refused, are in auth.ts (check below);
  // developerApiKey is only for `synchub webhooks` on a legacy public app (subscriptions.ts).
  credentialsSchema: { ...hubspotCredentialsSchema, properties: { ...(hubspotCredentialsSchema.properties as object), ...hubspotSubscriptionCredentials } },
  check: (connection) => [...hubspotAuthMode(connection.credentials).problems, ...hubspotJournalProblems(connection)],
  notSupported: { webhooksJournal: HUBSPOT_JOURNAL_REASON },
  statusMap: {
    order: {
      appointmentscheduled: 'pending_payment', qualifiedtobuy: 'pending_payment', presentationscheduled: 'pending_payment',
      decisionmakerboughtin: 'pending_payment', contractsent: 'pending_payment', closedwon: 'paid', closedlost: 'cancelled',
    },
  },
  personalFields: ['properties.email', 'properties.firstname', 'properties.lastname', 'properties.phone', 'properties.mobilephone', 'properties.address', 'properties.city', 'properties.zip', 'properties.hs_additional_emails', 'properties.dealname'],
  maxPushBatch: HUBSPOT_MAX_BATCH,
  // Privately distributed apps and Service Keys: 100 requests per 10 s (Professional and Enterprise allow 190).
  defaultRateLimit: { max: 100, perMs: 10_000 },
  webhookSubscriptions: hubspotSubscriptionSupport,
  create(connection, ctx) {
    const client = new HubspotClient(connection, ctx, hubspotAuth(connection, ctx));
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items, signal) => client.push(entity, items, signal),
      fetch: (entity, id, signal) => client.fetch(entity, id, signal),
      remove: (entity, ids, signal) => client.remove(entity, ids, signal),
      mark: (entity, ids, mark, signal) => client.mark(entity, ids, mark, signal),
      webhooks: connection.credentials.clientSecret
        ? hubspotWebhooks(connection.credentials.clientSecret, connection.options.webhookUrl as string | undefined)
        : undefined,
      close: async () => {},
    };
  },
});
