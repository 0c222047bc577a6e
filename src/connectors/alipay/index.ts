import { defineConnector } from '../types.js';
import { AlipayClient } from './client.js';
import { alipayKey } from './sign.js';
import { alipayWebhooks } from './webhooks.js';

export const alipay = defineConnector({
  id: 'alipay',
  kind: 'payment',
  title: 'Alipay (OpenAPI v2, RSA2)',
  defaultBaseUrl: 'https://openapi.alipay.com/gateway.do',
  entities: { payment: { pull: true, push: false, webhook: true } },
  optionsSchema: {
    properties: {
      pendingAgeMs: { type: 'integer', minimum: 60000, default: 900000, description: 'Orders still unpaid this long after creation are queried with alipay.trade.query on each scheduled run' },
      currency: { type: 'string', pattern: '^[A-Z]{3}$', default: 'CNY', description: 'Currency of total_amount (CNY unless the merchant settles in another)' },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['appId', 'privateKey', 'alipayPublicKey'],
    properties: {
      appId: { type: 'string', pattern: '^\\d+$', description: 'The application id (app_id)', examples: ['2021000000000000'] },
      privateKey: { type: 'string', minLength: 1, description: 'Application private key, PEM or bare base64 (${file:…})' },
      alipayPublicKey: { type: 'string', minLength: 1, description: 'Alipay public key (not the application public key), PEM or bare base64' },
    },
  },
  statusMap: {
    payment: { WAIT_BUYER_PAY: 'pending', TRADE_SUCCESS: 'succeeded', TRADE_FINISHED: 'succeeded', TRADE_CLOSED: 'cancelled' },
  },
  // No API the hub can call subscribes it: `synchub webhooks` answers not_supported with this.
  webhookSubscriptions: { howTo: 'Alipay has no subscription: each payment request carries its own notify_url; have the checkout that creates the trade (alipay.trade.*) set notify_url to <server.publicUrl>/webhooks/<connection>' },
  personalFields: ['buyer_logon_id', 'buyer_id', 'buyer_user_id', 'buyer_user_name', 'buyer_open_id'],
  check(connection) {
    const problems: string[] = [];
    for (const [field, kind] of [['privateKey', 'private'], ['alipayPublicKey', 'public']] as const) {
      try {
        alipayKey(connection.credentials[field], kind);
      } catch (err) {
        problems.push(`credentials.${field}: not a usable ${kind} key (${(err as Error).message})`);
      }
    }
    return problems;
  },
  create(connection, ctx) {
    const client = new AlipayClient(connection, ctx);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items) => client.push(entity, items),
      fetch: (entity, id) => client.fetch(entity, id),
      webhooks: alipayWebhooks(connection.credentials.appId, alipayKey(connection.credentials.alipayPublicKey, 'public')),
      close: async () => {},
    };
  },
});
