import { defineConnector } from '../types.js';
import { PaypalClient } from './client.js';
import { paypalWebhooks } from './webhooks.js';
import { paypalSubscriptionSupport } from './subscriptions.js';

export const paypal = defineConnector({
  id: 'paypal',
  kind: 'payment',
  title: 'PayPal (REST)',
  defaultBaseUrl: 'https://api-m.paypal.com',
  entities: { payment: { pull: true, push: false, webhook: true } },
  optionsSchema: {
    properties: {
      orderNumberField: { enum: ['invoice_id', 'custom_id'], default: 'invoice_id', description: 'Which purchase-unit field carries the merchant order number (the other is the fallback)' },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['clientId', 'clientSecret'],
    properties: {
      clientId: { type: 'string', minLength: 1, description: 'REST app client id (sandbox: baseUrl https://api-m.sandbox.paypal.com)' },
      clientSecret: { type: 'string', minLength: 1, description: 'REST app secret' },
      webhookId: { type: 'string', minLength: 1, description: 'Id of the webhook registered for this URL; without it the connection takes no webhooks' },
    },
  },
  statusMap: {
    payment: {
      'PAYMENT.CAPTURE.COMPLETED': 'succeeded', 'PAYMENT.CAPTURE.DENIED': 'failed', 'PAYMENT.CAPTURE.PENDING': 'pending', 'CHECKOUT.ORDER.APPROVED': 'pending',
      S: 'succeeded', P: 'pending', D: 'failed', V: 'refunded',
    },
  },
  webhookSubscriptions: paypalSubscriptionSupport,
  personalFields: ['payer', 'payer_info', 'payer_info.account_id', 'payer.payer_id', 'shipping_info', 'purchase_units.shipping', 'resource.payer', 'resource.payer_info', 'resource.purchase_units.shipping', 'transaction_info.payer_email'],
  create(connection, ctx) {
    const client = new PaypalClient(connection, ctx);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items) => client.push(entity, items),
      fetch: (entity, id) => client.fetch(entity, id),
      webhooks: connection.credentials.webhookId ? paypalWebhooks(client.http, connection.credentials.webhookId) : undefined,
      close: async () => {},
    };
  },
});
