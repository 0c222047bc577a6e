import { defineConnector } from '../types.js';
import { WechatpayClient } from './client.js';
import { privateKeyOf, publicKeyOf } from './crypto.js';
import { wechatpayWebhooks } from './webhooks.js';

export const wechatpay = defineConnector({
  id: 'wechatpay',
  kind: 'payment',
  title: 'WeChat Pay (API v3)',
  defaultBaseUrl: 'https://api.mch.weixin.qq.com',
  entities: { payment: { pull: true, push: false, webhook: true } },
  optionsSchema: {
    properties: {
      pendingAgeMs: { type: 'integer', minimum: 60000, default: 900000, description: 'Orders still unpaid this long after creation are queried by out_trade_no on each scheduled run' },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['mchId', 'serialNo', 'privateKey', 'apiV3Key', 'platformPublicKey', 'platformSerial'],
    properties: {
      mchId: { type: 'string', pattern: '^\\d+$', description: 'Merchant id (mchid)' },
      serialNo: { type: 'string', minLength: 1, description: "Serial number of the merchant's API certificate" },
      privateKey: { type: 'string', minLength: 1, description: 'Merchant API private key, PEM (${file:apiclient_key.pem})' },
      apiV3Key: { type: 'string', minLength: 32, maxLength: 32, description: 'The 32-character APIv3 key that encrypts notification resources' },
      platformPublicKey: { type: 'string', minLength: 1, description: 'WeChat Pay platform public key, PEM' },
      platformSerial: { type: 'string', minLength: 1, description: 'Serial of that platform key/certificate (Wechatpay-Serial must match)' },
    },
  },
  statusMap: {
    payment: { SUCCESS: 'succeeded', REFUND: 'refunded', NOTPAY: 'pending', USERPAYING: 'pending', CLOSED: 'cancelled', REVOKED: 'cancelled', PAYERROR: 'failed' },
  },
  personalFields: ['payer', 'payer.openid', 'resource.payer'],
  check(connection) {
    const problems: string[] = [];
    try {
      privateKeyOf(connection.credentials.privateKey);
    } catch (err) {
      problems.push(`credentials.privateKey: not a PEM private key (${(err as Error).message})`);
    }
    try {
      publicKeyOf(connection.credentials.platformPublicKey);
    } catch (err) {
      problems.push(`credentials.platformPublicKey: not a PEM public key (${(err as Error).message})`);
    }
    return problems;
  },
  create(connection, ctx) {
    const client = new WechatpayClient(connection, ctx);
    const c = connection.credentials;
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items) => client.push(entity, items),
      fetch: (entity, id) => client.fetch(entity, id),
      webhooks: wechatpayWebhooks(c.platformSerial, publicKeyOf(c.platformPublicKey), c.apiV3Key),
      close: async () => {},
    };
  },
});
