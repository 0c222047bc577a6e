import { defineConnector } from '../types.js';
import { WOO_MAX_BATCH, WooClient } from './client.js';
import { wooWebhooks } from './webhooks.js';
import { wooSubscriptionSupport } from './subscriptions.js';

export const woocommerce = defineConnector({
  id: 'woocommerce',
  kind: 'ecommerce',
  title: 'WooCommerce (REST API v3)',
  entities: {
    // customer.deleted / order.deleted webhooks (a trashed order is not deleted); batch delete.
    customer: { pull: true, push: true, webhook: true, deletions: ['webhook'], remove: 'delete' },
    order: { pull: true, push: true, webhook: true, deletions: ['webhook'], remove: 'delete', onDelete: ['delete', 'archive'] },
  },
  optionsSchema: {
    properties: {
      authInQuery: {
        type: 'boolean', default: false,
        description: 'Send consumer_key / consumer_secret in the query string instead of HTTP Basic (for servers that strip the Authorization header). HTTPS only.',
      },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['consumerKey', 'consumerSecret'],
    properties: {
      consumerKey: { type: 'string', minLength: 1, description: 'REST API consumer key', examples: ['ck_…'] },
      consumerSecret: { type: 'string', minLength: 1, description: 'REST API consumer secret', examples: ['cs_…'] },
      webhookSecret: { type: 'string', minLength: 1, description: "The secret set on the store's webhooks; without it the connection takes no webhooks" },
    },
  },
  statusMap: {
    order: {
      pending: 'pending_payment', 'on-hold': 'pending_payment', processing: 'paid', completed: 'completed',
      cancelled: 'cancelled', failed: 'cancelled', trash: 'cancelled', refunded: 'refunded',
    },
  },
  personalFields: ['email', 'username', 'first_name', 'last_name', 'billing', 'shipping', 'customer_note', 'customer_ip_address', 'customer_user_agent'],
  maxPushBatch: WOO_MAX_BATCH,
  defaultRateLimit: { max: 5, perMs: 1000 },
  webhookSubscriptions: wooSubscriptionSupport,
  create(connection, ctx) {
    const client = new WooClient(connection, ctx);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items, signal) => client.push(entity, items, signal),
      fetch: (entity, id, signal) => client.fetch(entity, id, signal),
      remove: (entity, ids, signal, mode) => client.remove(entity, ids, signal, mode),
      webhooks: connection.credentials.webhookSecret ? wooWebhooks(connection.credentials.webhookSecret) : undefined,
      close: async () => {},
    };
  },
});
