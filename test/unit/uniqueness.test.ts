import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig, type HubConfig } from '../../src/config/load.js';
import { generateKeySpec } from '../../src/core/crypto.js';
import { ConfigError } from '../../src/core/errors.js';
import { compileMapping } from '../../src/mappings/engine.js';
import { uniqueValue, type UniqueRule } from '../../src/operations/uniqueness.js';

/** A config with a shop and a CRM and one customer pipeline unless `raw` gives its own. */
function testConfigOffline(raw: Record<string, unknown>): HubConfig {
  return buildConfig({
    encryption: { keys: generateKeySpec('t1') },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { p: { source: { connection: 'shop', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }] } },
    ...raw,
  }, path.resolve('test/fixtures/hub.yaml'), { env: {} });
}

const rule = (r: Partial<UniqueRule>): UniqueRule => ({ name: 'r', scope: 'all', onConflict: 'reject', ...r });

describe('uniqueness rule values', () => {
  it('one field gives its value; several give them together; a missing or empty one puts the record outside the rule', async () => {
    expect(await uniqueValue(rule({ fields: ['email'] }), { email: 'a@example.com' })).toBe('a@example.com');
    expect(await uniqueValue(rule({ fields: ['orderNumber'] }), { orderNumber: 1001 })).toBe('1001');
    expect(await uniqueValue(rule({ fields: ['lastName', 'billing.postalCode'] }), { lastName: 'Lima', billing: { postalCode: '1000' } })).toBe('["Lima","1000"]');
    expect(await uniqueValue(rule({ fields: ['lastName', 'billing.postalCode'] }), { lastName: 'Lima' })).toBeUndefined();
    expect(await uniqueValue(rule({ fields: ['email'] }), { email: '  ' })).toBeUndefined();
  });

  it('a JSONata key expression gives the key; undefined or an object puts the record outside the rule', async () => {
    const key = compileMapping('phone ? $replace(phone, /[^0-9+]/, "")', 'key');
    expect(await uniqueValue(rule({ key }), { phone: '+1 (613) 612-0707' })).toBe('+16136120707');
    expect(await uniqueValue(rule({ key }), {})).toBeUndefined();
    expect(await uniqueValue(rule({ key: compileMapping('{"a": 1}', 'key') }), {})).toBeUndefined();
  });
});

describe('uniqueness rule config', () => {
  it('entity rules apply to every pipeline of the entity; a pipeline rule of the same name replaces one', () => {
    const cfg = testConfigOffline({
      unique: { customer: [{ fields: ['email'] }, { name: 'phone', key: 'phone' }] },
      pipelines: {
        a: { source: { connection: 'shop', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }], unique: [{ fields: ['email'], onConflict: 'merge', scope: 'connection' }] },
        b: { source: { connection: 'shop', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }] },
      },
    });
    expect(cfg.pipelines.get('a')!.unique.map(({ name, onConflict, scope }) => ({ name, onConflict, scope }))).toEqual([
      { name: 'email', onConflict: 'merge', scope: 'connection' }, { name: 'phone', onConflict: 'reject', scope: 'all' },
    ]);
    expect(cfg.pipelines.get('b')!.unique.map((r) => r.name)).toEqual(['email', 'phone']);
  });

  it('a key rule needs a name, and a key that does not compile fails at load naming its path', () => {
    expect(() => testConfigOffline({ unique: { customer: [{ key: 'phone' }] } })).toThrow(ConfigError);
    expect(() => testConfigOffline({ unique: { customer: [{ name: 'bad', key: 'phone +' }] } })).toThrow(/unique\.customer\[0\]\.key/);
  });
});
