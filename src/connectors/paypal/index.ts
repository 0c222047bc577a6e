import { defineConnector } from '../types.js';
import { PaypalClient } from './client.js';
import { PaypalCertificates } from './cert-store.js';
import { paypalWebhooks } from './webhooks.js';
import { paypalSubscriptionSupport } from './subscriptions.js';
import { paypalOfflineWebhooks } from './webhooks-offline.js';
import { pemCertificates } from '../x509.js';

export const paypal = defineConnector({
  id: 'paypal',
  kind: 'payment',
  title: 'PayPal (REST)',
  defaultBaseUrl: 'https://api-m.paypal.com',
  entities: { payment: { pull: true, push: false, webhook: true } },
  optionsSchema: {
    properties: {
      orderNumberField: { enum: ['invoice_id', 'custom_id'], default: 'invoice_id', description: 'Which purchase-unit field carries the merchant order number (the other is the fallback)' },
      webhookVerification: {
        enum: ['api', 'offline'], default: 'api',
        description: 'api: every delivery is verified by PayPal (POST /v1/notifications/verify-webhook-signature). offline: verified here with the certificate PAYPAL-CERT-URL names (fetched from PayPal\'s API hosts only, chain checked, cached), the CRC32 of the body and SHA256withRSA, so deliveries are accepted while PayPal\'s API is slow or down',
        examples: ['offline'],
      },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['clientId', 'clientSecret'],
    // A REST app and the id of the webhook registered for the hub (`synchub init` writes these).
    examples: [{ clientId: '${PAYPAL_CLIENT_ID}', clientSecret: '${PAYPAL_CLIENT_SECRET}', webhookId: '${PAYPAL_WEBHOOK_ID}' }],
    properties: {
      clientId: { type: 'string', minLength: 1, description: 'REST app client id (sandbox: baseUrl https://api-m.sandbox.paypal.com)' },
      clientSecret: { type: 'string', minLength: 1, description: 'REST app secret' },
      webhookId: { type: 'string', minLength: 1, description: 'Id of the webhook registered for this URL; without it the connection takes no webhooks' },
      webhookCaCertificates: { type: 'string', minLength: 1, description: 'Offline verification only: extra CA certificates (PEM) the certificate from PAYPAL-CERT-URL may chain to, beside the Mozilla roots Node ships (PayPal\'s Java SDK trusts the DigiCert CA it bundles the same way)', examples: ['${file:/etc/synchub/paypal-webhook-ca.pem}'] },
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
  check(connection) {
    const problems: string[] = [];
    const ca = connection.credentials.webhookCaCertificates;
    if (ca) {
      try {
        pemCertificates(ca);
      } catch (err) {
        problems.push(`credentials.webhookCaCertificates: not PEM certificates (${(err as Error).message})`);
      }
    }
    if (connection.options.webhookVerification === 'offline' && !connection.credentials.webhookId) problems.push('credentials.webhookId: offline verification signs with the webhook id: set it');
    return problems;
  },
  create(connection, ctx) {
    const client = new PaypalClient(connection, ctx);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items) => client.push(entity, items),
      fetch: (entity, id) => client.fetch(entity, id),
      webhooks: !connection.credentials.webhookId ? undefined
        : connection.options.webhookVerification === 'offline'
          ? paypalOfflineWebhooks(new PaypalCertificates(connection.credentials.webhookCaCertificates ? pemCertificates(connection.credentials.webhookCaCertificates) : []), connection.credentials.webhookId)
          : paypalWebhooks(client.http, connection.credentials.webhookId),
      close: async () => {},
    };
  },
});
