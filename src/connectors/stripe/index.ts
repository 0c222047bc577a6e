import { defineConnector } from '../types.js';
import { DEFAULT_STRIPE_VERSION, StripeClient } from './client.js';
import { stripeWebhooks } from './webhooks.js';
import { stripeSubscriptionSupport } from './subscriptions.js';

export const stripe = defineConnector({
  id: 'stripe',
  kind: 'payment',
  title: 'Stripe',
  defaultBaseUrl: 'https://api.stripe.com',
  entities: {
    payment: { pull: true, push: false, webhook: true },
    // customer.created / customer.updated / customer.deleted events.
    customer: { pull: true, push: true, webhook: true, deletions: ['webhook', 'pull'] },
  },
  optionsSchema: {
    properties: {
      apiVersion: { type: 'string', default: DEFAULT_STRIPE_VERSION, description: 'Stripe-Version header (default: the current release; pin an older one to keep its shapes)', examples: [DEFAULT_STRIPE_VERSION, '2024-06-20'] },
      orderNumberKey: { type: 'string', default: 'order_number', description: 'Metadata key of the PaymentIntent that holds the merchant order number (else its description)' },
      toleranceSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 300, description: 'Largest distance of a webhook signature timestamp from now' },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['secretKey'],
    properties: {
      secretKey: { type: 'string', pattern: '^(sk|rk)_', description: 'Secret or restricted API key', examples: ['sk_live_…'] },
      webhookSecret: { type: 'string', minLength: 1, description: 'Endpoint signing secret(s), comma-separated while rolling: "whsec_new,whsec_old"' },
    },
  },
  statusMap: {
    payment: {
      'payment_intent.succeeded': 'succeeded', 'payment_intent.payment_failed': 'failed', 'payment_intent.canceled': 'cancelled',
      requires_payment_method: 'pending', requires_confirmation: 'pending', requires_action: 'pending', processing: 'pending', requires_capture: 'pending',
      succeeded: 'succeeded', canceled: 'cancelled',
    },
  },
  personalFields: ['email', 'name', 'phone', 'address', 'shipping.name', 'shipping.phone', 'shipping.address', 'receipt_email', 'billing_details', 'latest_charge.billing_details', 'charges.data.billing_details', 'data.object.receipt_email', 'data.object.billing_details', 'data.object.shipping'],
  maxPushBatch: 25,
  defaultRateLimit: { max: 25, perMs: 1000 },
  webhookSubscriptions: stripeSubscriptionSupport,
  create(connection, ctx) {
    const client = new StripeClient(connection, ctx);
    const secrets = (connection.credentials.webhookSecret ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items, signal) => client.push(entity, items, signal),
      fetch: (entity, id, signal) => client.fetch(entity, id, signal),
      webhooks: secrets.length ? stripeWebhooks(secrets, Number(connection.options.toleranceSeconds ?? 300)) : undefined,
      close: async () => {},
    };
  },
});
