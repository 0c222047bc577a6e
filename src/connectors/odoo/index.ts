import { defineConnector } from '../types.js';
import { OdooClient } from './client.js';
import { odooWebhooks } from './webhooks.js';

export const odoo = defineConnector({
  id: 'odoo',
  kind: 'erp',
  title: 'Odoo (external API: JSON-RPC, or JSON-2 on Odoo 19+)',
  entities: {
    customer: { pull: true, push: true, webhook: true },
    order: { pull: true, push: true, webhook: true },
    payment: { pull: true, push: false, webhook: true },
  },
  optionsSchema: {
    properties: {
      api: { enum: ['jsonrpc', 'json2'], default: 'jsonrpc', description: '`jsonrpc`: /jsonrpc execute_kw (all versions, deprecated in Odoo 22); `json2`: /json/2/<model>/<method> with a bearer API key (Odoo 19+)' },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['database', 'username', 'apiKey'],
    properties: {
      database: { type: 'string', minLength: 1, description: 'Database name', examples: ['acme-prod'] },
      username: { type: 'string', minLength: 1, description: 'Login of the integration user', examples: ['sync@acme.com'] },
      apiKey: { type: 'string', minLength: 1, description: 'API key of that user (Preferences > Account Security > New API Key)' },
      webhookToken: { type: 'string', minLength: 16, description: 'Shared token that Odoo automation rules send in X-Synchub-Token; without it the connection is pull-only' },
    },
  },
  // sale.order `state`; `sale` is decided in the mapping from the invoices' payment_state.
  statusMap: {
    order: { draft: 'pending_payment', sent: 'pending_payment', cancel: 'cancelled', done: 'completed' },
    payment: { draft: 'pending', in_process: 'pending', posted: 'succeeded', paid: 'succeeded', cancel: 'cancelled', canceled: 'cancelled', rejected: 'failed' },
  },
  // No API the hub can call subscribes it: `synchub webhooks` answers not_supported with this.
  webhookSubscriptions: { howTo: "Odoo has no API that subscribes a URL: add an automation rule on res.partner / sale.order / account.move (on creation and update) whose action posts the record's _model and _id to <server.publicUrl>/webhooks/<connection> with the header X-Synchub-Token: <credentials.webhookToken>" },
  personalFields: ['name', 'email', 'phone', 'mobile', 'street', 'street2', 'city', 'zip', 'vat', 'partner_id', 'partner_invoice_id', 'partner_shipping_id', 'note'],
  maxPushBatch: 50,
  defaultRateLimit: { max: 10, perMs: 1000 },
  create(connection, ctx) {
    const client = new OdooClient(connection, ctx);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items, signal) => client.push(entity, items, signal),
      fetch: (entity, id, signal) => client.fetch(entity, id, signal),
      webhooks: connection.credentials.webhookToken ? odooWebhooks(connection.credentials.webhookToken) : undefined,
      close: async () => {},
    };
  },
});
