import { defineConnector } from '../types.js';
import { SHOPIFY_API_VERSION, ShopifyClient } from './client.js';
import { shopifyAuthMode, shopifyCredentialsSchema, shopifyWebhookSecret } from './auth.js';
import { shopifyWebhooks } from './webhooks.js';
import { shopifySubscriptionSupport } from './subscriptions.js';
import { BULK_PAGE_FORMATS } from './bulk.js';

export const shopify = defineConnector({
  id: 'shopify',
  kind: 'ecommerce',
  title: 'Shopify (Admin REST or GraphQL API)',
  entities: {
    // customers/delete and orders/delete webhooks (pulls cannot see deleted records). As a target:
    // customerDelete (customers without orders), orderDelete (the order types Shopify allows),
    // orderClose (archive), tagsAdd (mark); removal.ts.
    customer: { pull: true, push: true, webhook: true, deletions: ['webhook'], remove: 'delete', onDelete: ['delete', 'mark'] },
    // push: status changes of existing orders (paid, cancelled, refunds, payment failures); checkout creates orders.
    order: { pull: true, push: true, webhook: true, deletions: ['webhook'], remove: 'delete', onDelete: ['delete', 'archive', 'mark'] },
  },
  optionsSchema: {
    properties: {
      apiVersion: { type: 'string', pattern: '^\\d{4}-\\d{2}$', default: SHOPIFY_API_VERSION, description: 'Admin API version (default: the newest stable)', examples: [SHOPIFY_API_VERSION] },
      api: { type: 'string', enum: ['graphql', 'rest'], default: 'graphql', description: 'Admin API for pulls, look-ups and write-backs: graphql (the default; cost-based rate limits; records normalised to the REST shape webhooks use; write-backs by orderMarkAsPaid, orderCancel, refundCreate, tagsAdd, customerCreate/customerUpdate) or rest (legacy)', examples: ['graphql'] },
      backfill: {
        type: 'string', enum: ['bulk', 'pages'], default: 'bulk',
        description: 'With api: graphql, how a full pull (`synchub sync --full`, or a pipeline\'s first run with no cursor) reads: bulk (one bulkOperationRunQuery export, waited for and read as JSONL page by page; apiVersion 2026-01 or newer, older versions page) or pages (the orders/customers connection page by page, as increments always do)',
        examples: ['pages'],
      },
      leakRate: { type: 'number', minimum: 0.5, default: 2, description: 'Calls per second the leaky bucket drains (2 standard, 4 Advanced, 20 Plus)' },
    },
  },
  // Which credentials select which mode, and the combinations refused, are in auth.ts (check below).
  credentialsSchema: shopifyCredentialsSchema,
  check: (connection) => shopifyAuthMode(connection.credentials).problems,
  webhookSubscriptions: shopifySubscriptionSupport,
  statusMap: {
    order: {
      pending: 'pending_payment', authorized: 'pending_payment', partially_paid: 'pending_payment', paid: 'paid',
      partially_refunded: 'partially_refunded', refunded: 'refunded', voided: 'cancelled', expired: 'cancelled',
    },
  },
  personalFields: ['email', 'phone', 'contact_email', 'first_name', 'last_name', 'note', 'browser_ip', 'client_details.browser_ip', 'client_details.user_agent', 'customer.email', 'customer.phone', 'customer.first_name', 'customer.last_name', 'customer.default_address', 'billing_address', 'shipping_address', 'addresses', 'default_address', 'sms_marketing_consent.phone'],
  pageFormats: BULK_PAGE_FORMATS,
  maxPushBatch: 50,
  defaultRateLimit: { max: 2, perMs: 1000 },
  create(connection, ctx) {
    const client = new ShopifyClient(connection, ctx);
    const webhookSecret = shopifyWebhookSecret(connection.credentials);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items, signal) => client.push(entity, items, signal),
      fetch: (entity, id, signal) => client.fetch(entity, id, signal),
      inspect: (uses, signal) => client.inspect(uses, signal),
      remove: (entity, ids, signal, mode) => client.removal.remove(entity, ids, signal, mode),
      mark: (entity, ids, mark, signal) => client.removal.mark(entity, ids, mark, signal),
      webhooks: webhookSecret ? shopifyWebhooks(webhookSecret) : undefined,
      close: async () => {},
    };
  },
});
