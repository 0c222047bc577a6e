import { createPublicKey } from 'node:crypto';
import { defineConnector } from '../types.js';
import { MagentoClient } from './client.js';
import { magentoWebhooks } from './webhooks.js';

export const magento = defineConnector({
  id: 'magento',
  kind: 'ecommerce',
  title: 'Magento 2 / Adobe Commerce (REST)',
  entities: {
    customer: { pull: true, push: true, webhook: true },
    // push: status changes of existing orders (order comments with a status); orders are created by the store's checkout.
    order: { pull: true, push: true, webhook: true },
  },
  optionsSchema: {
    properties: {
      storeCode: { type: 'string', pattern: '^[a-z0-9_]+$', description: 'Store view code: calls go to /rest/{storeCode}/V1 instead of /rest/V1', examples: ['default', 'us_en'] },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['accessToken'],
    properties: {
      accessToken: { type: 'string', minLength: 1, description: 'Integration access token (System > Integrations), sent as Bearer' },
      webhookPublicKey: {
        type: 'string', minLength: 1,
        description: 'PEM public key of the Adobe Commerce webhooks key pair (Stores > Configuration > Adobe Services > Webhooks). Without it the connection is pull-only and its webhook route answers 404.',
        examples: ['${file:secrets/adobe-webhooks.pub}'],
      },
    },
  },
  // Mapped on the order's `state` (its `status` is customisable per store). holded and
  // payment_review are decided in the mapping: they keep the order where it was.
  statusMap: {
    order: {
      new: 'pending_payment', pending_payment: 'pending_payment', processing: 'paid', complete: 'completed',
      canceled: 'cancelled', closed: 'refunded',
    },
  },
  // No API the hub can call subscribes it: `synchub webhooks` answers not_supported with this.
  webhookSubscriptions: { howTo: "Adobe Commerce webhooks are declared in the store (System → Webhooks, or a module's webhooks.xml), not by an API the hub calls: point the hooks of customer and order saves at <server.publicUrl>/webhooks/<connection> and turn on signing (Stores → Configuration → Adobe Services → Webhooks), whose public key goes in credentials.webhookPublicKey" },
  personalFields: ['email', 'firstname', 'lastname', 'dob', 'taxvat', 'addresses', 'customer_email', 'customer_firstname', 'customer_lastname', 'customer_dob', 'customer_taxvat', 'billing_address', 'extension_attributes.shipping_assignments.shipping.address', 'remote_ip', 'customer_note'],
  maxPushBatch: 50,
  defaultRateLimit: { max: 10, perMs: 1000 },
  check(connection) {
    const pem = connection.credentials.webhookPublicKey;
    if (!pem) return [];
    try {
      createPublicKey(pem);
      return [];
    } catch (err) {
      return [`credentials.webhookPublicKey: not a PEM public key (${(err as Error).message})`];
    }
  },
  create(connection, ctx) {
    const client = new MagentoClient(connection, ctx);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items, signal) => client.push(entity, items, signal),
      fetch: (entity, id, signal) => client.fetch(entity, id, signal),
      webhooks: connection.credentials.webhookPublicKey ? magentoWebhooks(connection.credentials.webhookPublicKey) : undefined,
      close: async () => {},
    };
  },
});
