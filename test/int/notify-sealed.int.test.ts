import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compactDecrypt, decodeProtectedHeader } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { verifyWebhookSignature } from '../../src/notify/webhook.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { shopifyOrders } from '../helpers/mock-apis.js';

const SECRET = 'whsec_synchub_test_0123456789';

const JWCRYPTO = `
import sys, json
from jwcrypto import jwk, jwe
data = json.load(sys.stdin)
key = jwk.JWK.from_pem(data['pem'].encode())
token = jwe.JWE()
token.deserialize(data['jwe'], key=key)
sys.stdout.write(token.payload.decode())
`;

/** Opens a compact JWE with jwcrypto (.ci/run installs python3-jwcrypto with apt-get). */
function openWithJwcrypto(token: string, pem: string): string {
  return execFileSync('/usr/bin/python3', ['-c', JWCRYPTO], { input: JSON.stringify({ jwe: token, pem }), stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8');
}

async function receiver() {
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, close: () => new Promise((r) => server.close(r)) };
}

describe('personal fields sealed for the receiver of a webhook sink (encryptFor)', () => {
  let t: TestHub | undefined;
  let close: (() => Promise<unknown>) | undefined;
  afterEach(async () => {
    await t?.close();
    await close?.();
    t = undefined;
  });

  for (const kind of ['rsa', 'ec'] as const) {
    it(`${kind}: the receiver opens the customer's email and address with its private key; another key cannot`, async () => {
      const pair = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const other = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const hook = await receiver();
      close = hook.close;
      t = await openTestHub(testConfig({
        connections: {
          shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
          crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
        },
        pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], notify: [{
          type: 'webhook', url: hook.url, secret: SECRET, backoffMs: 20,
          encryptFor: { publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }), keyId: 'erp-2026-01', fields: ['customer.email', 'customer.firstName', 'shippingAddress'] },
        }] } },
      }));
      t.startWorkers();
      await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [{ ...shopifyOrders(1)[0], financial_status: 'paid' }]);

      const got = await eventually(() => hook.received[0]);
      expect(verifyWebhookSignature(SECRET, String(got.headers['x-synchub-signature']), got.body)).toBe(true);
      const event = JSON.parse(got.body);
      expect(event).toMatchObject({ type: 'order.status', order: { orderNumber: '1001', status: 'paid' }, personal: expect.any(String) });
      // Nothing personal outside the sealed part.
      expect(JSON.stringify({ ...event, personal: undefined })).not.toMatch(/buyer0@example\.com|Chestnut|Bob/);
      expect(event.personal.split('.')).toHaveLength(5);
      expect(decodeProtectedHeader(event.personal)).toEqual({
        alg: kind === 'rsa' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW', enc: 'A256GCM', kid: 'erp-2026-01', cty: 'application/json', ...(kind === 'ec' ? { epk: expect.any(Object) } : {}),
      });

      const { plaintext } = await compactDecrypt(event.personal, pair.privateKey);
      expect(JSON.parse(new TextDecoder().decode(plaintext))).toEqual({
        customer: { email: 'buyer0@example.com', firstName: 'Bob' },
        shippingAddress: expect.objectContaining({ line1: 'Chestnut Street 92', city: 'Louisville', postalCode: '40202', country: 'US' }),
      });
      await expect(compactDecrypt(event.personal, other.privateKey)).rejects.toThrow();

      // An independent JOSE implementation opens it too: Python's jwcrypto (Debian's python3-jwcrypto).
      const opened = openWithJwcrypto(event.personal, String(pair.privateKey.export({ type: 'pkcs8', format: 'pem' })));
      expect(JSON.parse(opened)).toMatchObject({ customer: { email: 'buyer0@example.com', firstName: 'Bob' } });
      expect(() => openWithJwcrypto(event.personal, String(other.privateKey.export({ type: 'pkcs8', format: 'pem' })))).toThrow();
    });
  }
});
