import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { Hub } from '../../src/jobs/hub.js';
import { createApp } from '../../src/server.js';
import { testConfig, testRedisUrl } from '../helpers/hub.js';
import { rsaKeys, signedWechatNotify } from '../helpers/payment-signing.js';

// A merchant switching from its platform certificate to the WeChat Pay public key, through the
// webhook route: what WeChat Pay is answered, and what the hub's log says about each refusal.
const PUBLIC_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000000000';
const CERT_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const certPem = readFileSync('test/fixtures/wechatpay/platform-cert.pem', 'utf8');
const certKey = createPrivateKey(readFileSync('test/fixtures/wechatpay/platform-cert.key.pem', 'utf8'));

describe('wechatpay webhook route during a key switch', () => {
  let hub: Hub | undefined;
  afterEach(async () => { await hub?.close(); hub = undefined; });

  it('answers 204 to callbacks signed by either key, 401 to an unknown serial (logged with the serial) and to a signature probe (logged at info as a probe)', async () => {
    const wxKey = rsaKeys();
    const apiV3Key = randomBytes(16).toString('hex');
    const lines: Record<string, any>[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (s: string) => { lines.push(JSON.parse(s)); } } });
    hub = await Hub.open(testConfig({
      connections: {
        wx: { connector: 'wechatpay', credentials: { mchId: '1900000109', serialNo: 'M1', privateKey: rsaKeys().privatePem, apiV3Key, platformKeys: { [CERT_SERIAL]: certPem, [PUBLIC_KEY_ID]: wxKey.publicPem } } },
      },
      // Notifications are verified and answered whether or not a pipeline takes them.
      pipelines: {},
    }), logger, testRedisUrl());
    const app = createApp(hub);
    const tx = { mchid: '1900000109', out_trade_no: '1002', transaction_id: 'W1002', trade_state: 'SUCCESS', success_time: '2025-03-01T10:00:04+08:00', amount: { total: 2000, currency: 'CNY' } };
    const post = (n: { body: string; headers: Record<string, string> }) => app.request('/webhooks/wx', { method: 'POST', body: n.body, headers: n.headers });

    for (const [i, [key, serial]] of ([[certKey, CERT_SERIAL], [wxKey.privateKey, PUBLIC_KEY_ID], [certKey, CERT_SERIAL]] as const).entries()) {
      const res = await post(signedWechatNotify({ id: `EV-${i}`, eventType: 'TRANSACTION.SUCCESS', resource: tx, apiV3Key, platformPrivate: key, serial }));
      expect(res.status).toBe(204);
    }

    const unknown = await post(signedWechatNotify({ id: 'EV-u', eventType: 'TRANSACTION.SUCCESS', resource: tx, apiV3Key, platformPrivate: wxKey.privateKey, serial: 'PUB_KEY_ID_0999' }));
    expect([unknown.status, (await unknown.json()).code]).toEqual([401, 'FAIL']);
    const refusal = lines.find((l) => l.msg === 'webhook refused');
    expect(refusal).toMatchObject({ level: 40, connection: 'wx', status: 401, code: 'webhook_signature', reason: expect.stringContaining('Wechatpay-Serial PUB_KEY_ID_0999') });

    const n = signedWechatNotify({ id: 'EV-p', eventType: 'TRANSACTION.SUCCESS', resource: tx, apiV3Key, platformPrivate: wxKey.privateKey, serial: PUBLIC_KEY_ID });
    const probe = await post({ body: n.body, headers: { ...n.headers, 'wechatpay-signature': 'WECHATPAY/SIGNTEST/cHJvYmU=' } });
    expect([probe.status, (await probe.json()).code]).toEqual([401, 'FAIL']);
    const probeLines = lines.filter((l) => /probe/.test(l.msg));
    expect(probeLines).toEqual([expect.objectContaining({ level: 30, connection: 'wx', status: 401, msg: 'webhook signature probe refused' })]);
    expect(lines.filter((l) => l.msg === 'webhook refused')).toHaveLength(1);

    // Nothing secret in any line: no key material, no APIv3 key.
    const text = JSON.stringify(lines);
    expect(text).not.toContain(apiV3Key);
    expect(text).not.toContain('BEGIN');
  });
});
