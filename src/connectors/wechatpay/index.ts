import { defineConnector } from '../types.js';
import { PlatformCertificateRefresh } from './certificates.js';
import { WechatpayClient } from './client.js';
import { privateKeyOf } from './crypto.js';
import { verificationKeyProblems, WechatpayKeySet } from './keys.js';
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
      downloadCertificates: { type: 'boolean', default: false, description: 'For merchants still on platform certificates: download GET /v3/certificates at start and every certificateRefreshMs, and verify with the new serials too (WeChat Pay lists a new certificate 24 hours before it signs with it)' },
      certificateRefreshMs: { type: 'integer', minimum: 60000, maximum: 43200000, default: 21600000, description: 'How often downloadCertificates downloads the list (WeChat Pay asks for less than 12 hours)' },
    },
  },
  credentialsSchema: {
    type: 'object',
    additionalProperties: false,
    // platformKeys, or the older platformSerial with platformPublicKey (checked in check()).
    required: ['mchId', 'serialNo', 'privateKey', 'apiV3Key'],
    // A new merchant today: the WeChat Pay public key (PUB_KEY_ID_…) as one serial and key, both from variables (`synchub init` writes these).
    examples: [{ mchId: '1900000001', serialNo: '${WECHATPAY_SERIAL_NO}', privateKey: '${file:apiclient_key.pem}', apiV3Key: '${WECHATPAY_API_V3_KEY}', platformSerial: 'PUB_KEY_ID_0114232134912410000000000000000000', platformPublicKey: '${file:pub_key.pem}' }],
    properties: {
      mchId: { type: 'string', pattern: '^\\d+$', description: 'Merchant id (mchid)' },
      serialNo: { type: 'string', minLength: 1, description: "Serial number of the merchant's API certificate" },
      privateKey: { type: 'string', minLength: 1, description: 'Merchant API private key, PEM (${file:apiclient_key.pem})' },
      apiV3Key: { type: 'string', minLength: 32, maxLength: 32, description: 'The 32-character APIv3 key that encrypts notification resources' },
      platformKeys: {
        type: 'object', minProperties: 1,
        propertyNames: { pattern: '^[A-Za-z0-9_]{1,64}$' },
        additionalProperties: { type: 'string', minLength: 1 },
        description: 'The keys WeChat Pay signs answers and callbacks with, by the serial it names in Wechatpay-Serial: the WeChat Pay public key (PUB_KEY_ID_…, PEM public key) and/or platform certificates (certificate serial, PEM certificate or its public key). Hold both while switching from certificates to the public key.',
        examples: [{ PUB_KEY_ID_0114232134912410000000000000000000: '${file:pub_key.pem}', '5157F09EFDC096DE15EBE81A47057A7232F1B8E1': '${file:wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem}' }],
      },
      platformPublicKey: { type: 'string', minLength: 1, description: 'One key: the WeChat Pay public key (or a platform certificate), PEM; for several (a switch in progress) use platformKeys' },
      platformSerial: { type: 'string', minLength: 1, description: 'Serial of platformPublicKey: the public key id (PUB_KEY_ID_…) or the certificate serial that Wechatpay-Serial names' },
    },
  },
  statusMap: {
    payment: { SUCCESS: 'succeeded', REFUND: 'refunded', NOTPAY: 'pending', USERPAYING: 'pending', CLOSED: 'cancelled', REVOKED: 'cancelled', PAYERROR: 'failed' },
  },
  // No API the hub can call subscribes it: `synchub webhooks` answers not_supported with this.
  webhookSubscriptions: { howTo: 'WeChat Pay has no subscription: each order request (JSAPI, Native, App, H5 …) carries its own notify_url; have the checkout set it to <server.publicUrl>/webhooks/<connection>' },
  personalFields: ['payer', 'payer.openid', 'resource.payer'],
  check(connection) {
    const problems: string[] = [];
    try {
      privateKeyOf(connection.credentials.privateKey);
    } catch (err) {
      problems.push(`credentials.privateKey: not a PEM private key (${(err as Error).message})`);
    }
    problems.push(...verificationKeyProblems(connection.credentials));
    return problems;
  },
  create(connection, ctx) {
    // One key set for answers and callbacks.
    const keys = WechatpayKeySet.fromCredentials(connection.credentials);
    const client = new WechatpayClient(connection, ctx, keys);
    const refresh = connection.options.downloadCertificates
      ? new PlatformCertificateRefresh((signal) => client.downloadCertificates(signal), keys, ctx.logger, Number(connection.options.certificateRefreshMs ?? 21_600_000))
      : undefined;
    refresh?.start();
    return {
      pull: (entity, req) => client.pull(entity, req),
      push: (entity, items) => client.push(entity, items),
      fetch: (entity, id) => client.fetch(entity, id),
      webhooks: wechatpayWebhooks(keys, connection.credentials.apiV3Key),
      close: async () => { await refresh?.close(); },
    };
  },
});
