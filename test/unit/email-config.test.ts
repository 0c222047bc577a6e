import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { generateKeySpec } from '../../src/core/crypto.js';

const raw = (notify: unknown[]) => ({
  encryption: { keys: generateKeySpec('k1') },
  connections: {
    shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'x' } },
    crm: { connector: 'hubspot', credentials: { accessToken: 'y' } },
  },
  pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], notify } },
});

function problems(notify: unknown[]): string[] {
  try {
    buildConfig(raw(notify), '/tmp/hub.yaml', { env: {} });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

const email = (extra: Record<string, unknown> = {}, smtp: Record<string, unknown> = {}) =>
  ({ type: 'email', smtp: { host: 'smtp.example.com', user: 'u', password: 'p', ...smtp }, from: 'orders@shop.example', to: ['ops@shop.example'], events: ['order.paid'], ...extra });

const rsaPem = (bits = 2048) => generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'pem' }) as string;

describe('email sinks and encryptFor in the config', () => {
  it('reads an email sink with its defaults', () => {
    const cfg = buildConfig(raw([email()]), '/tmp/hub.yaml', { env: {} });
    const sink = cfg.pipelines.get('orders')!.notify[0];
    expect(sink).toMatchObject({ type: 'email', smtp: { host: 'smtp.example.com', port: 587, tls: 'starttls', timeoutMs: 30_000 }, toCustomer: false, locale: 'en-US', attempts: 6, backoffMs: 1000 });
    if (sink.type !== 'email') throw new Error('not an email sink');
    expect([...sink.templates.keys()].sort()).toEqual(['default', 'order.*', 'payment.*']);
    expect(buildConfig(raw([email({}, { tls: 'implicit' })]), '/tmp/hub.yaml', { env: {} }).pipelines.get('orders')!.notify[0]).toMatchObject({ smtp: { port: 465 } });
  });

  it('names the path of each mistake', () => {
    expect(problems([email({}, { tls: 'none' })])).toEqual([expect.stringMatching(/^pipelines\.orders\.notify\[0\]\.smtp\.tls: "none" would send the SMTP password unencrypted/)]);
    expect(problems([email({}, { tls: 'none', allowPlaintextAuth: true })])).toEqual([]);
    expect(problems([email({}, { tls: 'none', user: undefined, password: undefined })])).toEqual([]);
    expect(problems([email({}, { password: undefined })])).toEqual(['pipelines.orders.notify[0].smtp: user and password go together']);
    expect(problems([email({ to: [] })])).toEqual(['pipelines.orders.notify[0].to: no recipient (list addresses, or set toCustomer)']);
    expect(problems([email({ digest: { everyMinutes: 15 }, toCustomer: true })])).toEqual(['pipelines.orders.notify[0].toCustomer: a digest goes to the fixed addresses only']);
    expect(problems([email({ templates: { 'order.paid': { html: '<p>{{#if x}}</p>' } } })])).toEqual(['pipelines.orders.notify[0].templates.order.paid.html: at character 3: {{#if}} is not closed']);
    expect(problems([email({ events: ['order.paid; drop'] })])[0]).toMatch(/^pipelines\.orders\.notify\.0\.events\.0: /);
    expect(problems([email({ locale: 'not a locale!' })])).toEqual(['pipelines.orders.notify[0].locale: "not a locale!" is not a BCP 47 locale such as en-US']);
  });

  it('reads encryptFor keys and refuses bad ones with their path', () => {
    const hook = (encryptFor: unknown) => ({ type: 'webhook', url: 'https://erp.example.com/hooks', secret: 'a-secret-of-16-chars', encryptFor });
    const cfg = buildConfig(raw([hook({ publicKey: rsaPem(), keyId: 'erp-2026', fields: ['customer.email', 'shippingAddress'] })]), '/tmp/hub.yaml', { env: {} });
    expect(cfg.pipelines.get('orders')!.notify[0]).toMatchObject({ encryptFor: { recipient: { kid: 'erp-2026', alg: 'RSA-OAEP-256' }, fields: ['customer.email', 'shippingAddress'] } });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(buildConfig(raw([hook({ publicKey: ec, fields: ['customer.email'] })]), '/tmp/hub.yaml', { env: {} }).pipelines.get('orders')!.notify[0])
      .toMatchObject({ encryptFor: { recipient: { alg: 'ECDH-ES+A256KW', kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) } } });

    expect(problems([hook({ publicKey: 'not a key', fields: ['customer.email'] })])).toEqual([expect.stringMatching(/^pipelines\.orders\.notify\[0\]\.encryptFor\.publicKey: not a PEM public key/)]);
    expect(problems([hook({ publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', fields: ['customer.email'] })])).toEqual([expect.stringMatching(/^pipelines\.orders\.notify\[0\]\.encryptFor\.publicKey: not a readable PEM public key/)]);
    expect(problems([hook({ publicKey: rsaPem(1024), fields: ['customer.email'] })])).toEqual(['pipelines.orders.notify[0].encryptFor.publicKey: RSA key of 1024 bits: at least 2048 are needed']);
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(problems([hook({ publicKey: ed, fields: ['customer.email'] })])).toEqual([expect.stringMatching(/^pipelines\.orders\.notify\[0\]\.encryptFor\.publicKey: ed25519 key: use an RSA/)]);
    expect(problems([hook({ publicKey: rsaPem(), fields: [] })])).toEqual([expect.stringMatching(/^pipelines\.orders\.notify\.0\.encryptFor\.fields: must NOT have fewer than 1 items/)]);
    expect(problems([hook({ publicKey: rsaPem(), fields: ['lineItems'] })])[0]).toMatch(/^pipelines\.orders\.notify\.0\.encryptFor\.fields\.0: must be one of "customer\.email"/);
  });
});
