import { defineConnector } from '../types.js';
import { crmFieldOptions } from '../crm-fields.js';
import { DYNAMICS_MAX_BATCH, DynamicsClient } from './client.js';
import { dynamicsWebhooks } from './webhooks.js';

export const dynamics = defineConnector({
  id: 'dynamics',
  kind: 'crm',
  title: 'Microsoft Dynamics 365 / Dataverse (Web API v9.2)',
  entities: {
    // Deletions by webhook (a step on Delete), and on pulls through change tracking for the
    // entities `changeTracking` names (deletionsOf below); DELETE by id when propagating.
    customer: { pull: true, push: true, webhook: true, deletions: ['webhook', 'pull'], remove: 'delete', onDelete: ['delete', 'mark'] },
    order: { pull: true, push: true, webhook: true, deletions: ['webhook', 'pull'], remove: 'delete', onDelete: ['delete', 'mark'] },
  },
  deletionsOf: (connection, entity) => [
    ...(connection.credentials.webhookKey ? ['webhook' as const] : []),
    ...(((connection.options.changeTracking ?? []) as string[]).includes(entity) ? ['pull' as const] : []),
  ],
  optionsSchema: {
    properties: {
      ...crmFieldOptions('Column', { segment: 'synchub_segment', customerType: 'synchub_customertype', recurring: 'synchub_recurring' }),
      tokenUrl: { type: 'string', pattern: '^https?://', description: 'Token endpoint (default https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token)' },
      alternateKey: { type: 'string', default: 'synchub_id', description: 'Column of the alternate key upserts match on (define it on each table)' },
      alternateKeys: { type: 'object', additionalProperties: { type: 'string' }, description: 'Per entity set override, e.g. { "contacts": "emailaddress1" }' },
      changeTracking: {
        type: 'array', uniqueItems: true, items: { enum: ['customer', 'order'] }, default: [],
        description: 'Entities whose table has change tracking on ("Track changes" in the table\u2019s advanced options): each pull ends with a pass over its delta link, and the rows Dataverse reports deleted become tombstones (the first pass lists every id once, 5,000 a page). Unset: deletions in Dynamics are not seen',
        examples: [['customer', 'order']],
      },
      batchSize: { type: 'integer', minimum: 1, maximum: DYNAMICS_MAX_BATCH, default: 100, description: 'Operations per $batch request (at most 1,000)' },
      currency: { type: 'string', pattern: '^[A-Z]{3}$', default: 'USD', description: 'Currency when a record has no transaction currency' },
      orderStatuses: { type: 'object', additionalProperties: { type: 'string' }, description: 'salesorder "statecode" or "statecode/statuscode" → canonical status (merged over the defaults)', examples: [{ '4/100003': 'paid' }] },
      orderStatusValues: {
        type: 'object', description: 'Canonical status → { statecode, statuscode } written (merged over the defaults)',
        additionalProperties: { type: 'object', properties: { statecode: { type: 'integer' }, statuscode: { type: 'integer' } } },
      },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['tenantId', 'clientId', 'clientSecret'],
    properties: {
      tenantId: { type: 'string', minLength: 1, description: 'Microsoft Entra tenant id' },
      clientId: { type: 'string', minLength: 1, description: 'Application (client) id of the app registration (an application user in Dataverse)' },
      clientSecret: { type: 'string', minLength: 1, description: 'Client secret of that app' },
      webhookKey: { type: 'string', minLength: 16, description: 'Key of the service endpoint (x-synchub-key header or ?code=); without it the connection takes no webhooks' },
    },
  },
  // No API the hub can call subscribes it: `synchub webhooks` answers not_supported with this.
  webhookSubscriptions: { howTo: 'Dynamics 365 webhooks are registered with the Plug-in Registration Tool, not an API the hub calls: Register New Web Hook with Endpoint URL <server.publicUrl>/webhooks/<connection>, Authentication WebhookKey (the value of credentials.webhookKey), then steps on Create, Update and Delete of contact and salesorder (Delete: a deletion)' },
  personalFields: ['emailaddress1', 'emailaddress2', 'emailaddress3', 'firstname', 'lastname', 'fullname', 'telephone1', 'telephone2', 'mobilephone', 'address1_line1', 'address1_line2', 'address1_city', 'address1_postalcode', 'address1_composite', 'address2_line1', 'address2_city', 'address2_postalcode', 'billto_line1', 'billto_city', 'billto_postalcode', 'shipto_line1', 'shipto_city', 'shipto_postalcode', 'description'],
  maxPushBatch: DYNAMICS_MAX_BATCH,
  defaultRateLimit: { max: 20, perMs: 1000 },
  create(connection, ctx) {
    const client = new DynamicsClient(connection, ctx);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items, signal) => client.push(entity, items, signal),
      fetch: (entity, id, signal) => client.fetch(entity, id, signal),
      remove: (entity, ids, signal) => client.remove(entity, ids, signal),
      mark: (entity, ids, mark, signal) => client.mark(entity, ids, mark, signal),
      webhooks: connection.credentials.webhookKey ? dynamicsWebhooks(connection.credentials.webhookKey) : undefined,
      close: async () => {},
    };
  },
});
