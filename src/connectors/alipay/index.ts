import { defineConnector } from '../types.js';
import { AlipayClient } from './client.js';
import { AlipayKeys, alipayCredentialProblems } from './keys.js';
import { alipayWebhooks } from './webhooks.js';

export const alipay = defineConnector({
  id: 'alipay',
  kind: 'payment',
  title: 'Alipay (OpenAPI v2, RSA2; public-key or public-key certificate mode)',
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
    description: 'Public-key mode: appId, privateKey, alipayPublicKey. Certificate mode (公钥证书): appId, privateKey, appCertificate, alipayCertificate, alipayRootCertificate, without alipayPublicKey. One of the two, checked at start-up.',
    required: ['appId', 'privateKey'],
    // Public-key mode, the simpler of the two a new app can choose (`synchub init` writes it).
    examples: [{ appId: '${ALIPAY_APP_ID}', privateKey: '${file:app_private_key.pem}', alipayPublicKey: '${file:alipay_public_key.pem}' }],
    dependencies: {
      appCertificate: ['alipayCertificate', 'alipayRootCertificate'],
      alipayCertificate: ['appCertificate', 'alipayRootCertificate'],
      alipayRootCertificate: ['appCertificate', 'alipayCertificate'],
    },
    properties: {
      appId: { type: 'string', pattern: '^\\d+$', description: 'The application id (app_id)', examples: ['2021000000000000'] },
      privateKey: { type: 'string', minLength: 1, description: 'Application private key, PEM or bare base64 (${file:…}); in certificate mode the key of appCertificate', examples: ['${file:/run/secrets/alipay/app_private_key.pem}'] },
      alipayPublicKey: { type: 'string', minLength: 1, description: 'Public-key mode only: the Alipay public key (not the application public key), PEM or bare base64', examples: ['${file:/run/secrets/alipay/alipay_public_key.pem}'] },
      appCertificate: { type: 'string', minLength: 1, description: 'Certificate mode: the application public-key certificate (appCertPublicKey_<appId>.crt), PEM; its SN is sent as app_cert_sn', examples: ['${file:/run/secrets/alipay/appCertPublicKey_2021000000000000.crt}'] },
      alipayCertificate: { type: 'string', minLength: 1, description: 'Certificate mode: the Alipay public-key certificate (alipayCertPublicKey_RSA2.crt), PEM; its key verifies answers and notifications, its SN is compared with the answers\' alipay_cert_sn', examples: ['${file:/run/secrets/alipay/alipayCertPublicKey_RSA2.crt}'] },
      alipayRootCertificate: { type: 'string', minLength: 1, description: 'Certificate mode: the Alipay root certificate bundle (alipayRootCert.crt), PEM; its RSA certificates\' SNs are sent as alipay_root_cert_sn, and a reissued Alipay certificate must chain to it', examples: ['${file:/run/secrets/alipay/alipayRootCert.crt}'] },
    },
  },
  statusMap: {
    payment: { WAIT_BUYER_PAY: 'pending', TRADE_SUCCESS: 'succeeded', TRADE_FINISHED: 'succeeded', TRADE_CLOSED: 'cancelled' },
  },
  // No API the hub can call subscribes it: `synchub webhooks` answers not_supported with this.
  webhookSubscriptions: { howTo: 'Alipay has no subscription: each payment request carries its own notify_url; have the checkout that creates the trade (alipay.trade.*) set notify_url to <server.publicUrl>/webhooks/<connection>' },
  personalFields: ['buyer_logon_id', 'buyer_id', 'buyer_user_id', 'buyer_user_name', 'buyer_open_id'],
  check(connection) {
    return alipayCredentialProblems(connection.credentials);
  },
  create(connection, ctx) {
    const keys = AlipayKeys.fromCredentials(connection.credentials);
    const client = new AlipayClient(connection, ctx, keys);
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items) => client.push(entity, items),
      fetch: (entity, id) => client.fetch(entity, id),
      webhooks: alipayWebhooks(connection.credentials.appId, () => keys.notificationKeys()),
      close: async () => {},
    };
  },
});
