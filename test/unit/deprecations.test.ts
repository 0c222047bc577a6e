import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deprecationWarnings, shopifyVersionSupportedUntil } from '../../src/config/deprecations.js';
import type { Connection } from '../../src/connectors/types.js';
import { testConnection } from '../helpers/connection.js';

const NOW = new Date('2026-12-06T12:00:00Z');
const conn = (connector: string, options: Record<string, unknown> = {}, credentials: Record<string, unknown> = {}): Connection =>
  testConnection({ name: 'c', connector, credentials: credentials as Record<string, string>, options });
const warn = (c: Connection, now = NOW) => deprecationWarnings([c], now);
const CERT = readFileSync(new URL('../fixtures/wechatpay/platform-cert.pem', import.meta.url), 'utf8');
const PUBLIC_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('deprecation warnings', () => {
  it('hubspot: v3 paths go unsupported in September 2027; the default dated version warns nothing', () => {
    expect(warn(conn('hubspot', { apiVersion: 'v3' }))).toEqual([
      { path: 'connections.c.apiVersion', rule: 'hubspot-v3', until: '2027-09', message: expect.stringMatching(/v1–v3 APIs go unsupported in September 2027/) },
    ]);
    expect(warn(conn('hubspot', { apiVersion: '2026-09' }))).toEqual([]);
  });

  it('hubspot: a dated version within six months of its end (18 months after GA) warns with the date', () => {
    expect(warn(conn('hubspot', { apiVersion: '2026-03' }))).toEqual([]);
    expect(warn(conn('hubspot', { apiVersion: '2026-03' }), new Date('2027-05-01T00:00:00Z'))).toEqual([
      expect.objectContaining({ rule: 'hubspot-dated-version', until: '2027-09-30', message: expect.stringMatching(/goes unsupported on 2027-09-30/) }),
    ]);
    expect(warn(conn('hubspot', { apiVersion: '2026-03' }), new Date('2027-10-01T00:00:00Z'))[0].message).toMatch(/unsupported since 2027-09-30/);
  });

  it('shopify: REST is legacy with no announced end; GraphQL warns nothing', () => {
    expect(warn(conn('shopify', { api: 'rest', apiVersion: '2026-10' }))).toEqual([
      expect.objectContaining({ path: 'connections.c.api', rule: 'shopify-rest', message: expect.stringMatching(/legacy since 2024-10-01.*no date/) }),
    ]);
    expect(warn(conn('shopify', { api: 'graphql', apiVersion: '2026-10' }))).toEqual([]);
  });

  it('shopify: a pinned version is supported 12 months from its release; past that it falls forward', () => {
    expect(shopifyVersionSupportedUntil('2025-10')).toBe('2026-10-01');
    expect(warn(conn('shopify', { api: 'graphql', apiVersion: '2025-10' }))).toEqual([
      expect.objectContaining({ path: 'connections.c.apiVersion', rule: 'shopify-api-version', until: '2026-10-01', message: expect.stringMatching(/out of support since 2026-10-01.*fall forward/) }),
    ]);
    expect(warn(conn('shopify', { api: 'graphql', apiVersion: '2026-04' }))[0]).toMatchObject({ until: '2027-04-01', message: expect.stringMatching(/supported until 2027-04-01/) });
    expect(warn(conn('shopify', { api: 'graphql', apiVersion: '2026-10' }))).toEqual([]);
  });

  it('stripe: a pinned version older than the current major warns (no end date announced); the default warns nothing', () => {
    expect(warn(conn('stripe', { apiVersion: '2024-06-20' }))).toEqual([
      expect.objectContaining({ path: 'connections.c.apiVersion', rule: 'stripe-api-version', message: expect.stringMatching(/older than the current major release \(2026-09-30\.endive\)/) }),
    ]);
    expect(warn(conn('stripe', { apiVersion: '2024-06-20' }))[0].until).toBeUndefined();
    expect(warn(conn('stripe', { apiVersion: '2026-11-18.endive' }))).toEqual([]);
  });

  it('wechatpay: platform certificates only warns with the certificate\'s expiry; a public key beside them warns nothing', () => {
    const serial = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
    expect(warn(conn('wechatpay', {}, { platformKeys: { [serial]: CERT } }))).toEqual([
      expect.objectContaining({ path: 'connections.c.credentials.platformKeys', rule: 'wechatpay-platform-certificates', until: '2036-11-29', message: expect.stringMatching(/PUB_KEY_ID_/) }),
    ]);
    // The older single-key form, with a bare public key: no expiry to tell.
    const single = warn(conn('wechatpay', {}, { platformSerial: serial, platformPublicKey: PUBLIC_KEY }));
    expect(single).toEqual([expect.objectContaining({ path: 'connections.c.credentials.platformSerial', rule: 'wechatpay-platform-certificates' })]);
    expect(single[0].until).toBeUndefined();
    expect(warn(conn('wechatpay', {}, { platformKeys: { [serial]: CERT, PUB_KEY_ID_0114232134912410000000000000000000: PUBLIC_KEY } }))).toEqual([]);
  });

  it('other connectors and settings warn nothing', () => {
    expect(deprecationWarnings([conn('zoho'), conn('paypal'), conn('hubspot', { apiVersion: '2026-09' })], NOW)).toEqual([]);
  });
});
