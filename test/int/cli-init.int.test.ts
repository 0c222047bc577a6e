import { synchub } from '../helpers/cli.js';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { generateKeySpec } from '../../src/core/crypto.js';
import { connectors } from '../../src/connectors/registry.js';


const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUBLIC = publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** A value of the right kind for each variable `init` lists, as a person would set them. */
function valueFor(name: string): string {
  if (name === 'SYNCHUB_KEYS') return generateKeySpec('init');
  if (name.endsWith('_BASE_URL')) return 'https://example.test';
  if (name === 'STRIPE_SECRET_KEY') return 'sk_test_0000000001';
  if (name === 'WECHATPAY_PLATFORM_SERIAL') return 'PUB_KEY_ID_0114232134912410000000000000000000';
  if (name.endsWith('PRIVATE_KEY')) return PRIVATE;
  if (name.endsWith('PUBLIC_KEY')) return PUBLIC;
  if (name === 'WECHATPAY_API_V3_KEY') return 'a'.repeat(32);
  if (name.endsWith('_ID')) return '2021000000000001';
  return 'value-from-the-system-0001';
}

/** The variables `init` printed, one per line after the blank line. */
const listed = (stdout: string) => stdout.split('\n').map((l) => /^ {2}([A-Z][A-Z0-9_]+) /.exec(l)?.[1]).filter((n): n is string => Boolean(n));

describe('synchub init writes a starting config that check passes once the variables are set', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-init-'));

  it('shopify hubspot stripe: connections, pipelines between them, every credential from the environment', async () => {
    const file = path.join(dir, 'hub.yaml');
    const out = await synchub(['init', 'shopify', 'hubspot', 'stripe', '--config', file]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`wrote ${file}: 3 connection(s), 3 pipeline(s)`);
    const text = readFileSync(file, 'utf8');
    const config = YAML.parse(text);
    expect(Object.keys(config.connections)).toEqual(['shopify', 'hubspot', 'stripe']);
    expect(config.connections.shopify.credentials).toEqual({ clientId: '${SHOPIFY_CLIENT_ID}', clientSecret: '${SHOPIFY_CLIENT_SECRET}' });
    expect(config.pipelines['stripe-payments']).toMatchObject({ source: { connection: 'stripe', entity: 'payment' }, targets: [{ connection: 'shopify', entity: 'order' }, { connection: 'hubspot', entity: 'order' }], webhooks: true });
    expect(config.pipelines['shopify-orders-to-hubspot']).toMatchObject({ source: { connection: 'shopify', entity: 'order' }, targets: [{ connection: 'hubspot', entity: 'order' }] });
    // Every credential is a variable, and the comments say where it comes from.
    for (const c of Object.values<any>(config.connections)) for (const v of Object.values(c.credentials)) expect(v).toMatch(/^\$\{[A-Z0-9_]+\}$/);
    expect(text).toContain("# The app's client ID (Dev Dashboard → app → Settings)");

    const vars = listed(out.stdout);
    expect(vars).toEqual(expect.arrayContaining(['SYNCHUB_KEYS', 'SHOPIFY_CLIENT_ID', 'SHOPIFY_CLIENT_SECRET', 'HUBSPOT_ACCESS_TOKEN', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET']));
    const unset = await synchub(['check', '--offline', '--config', file], { SYNCHUB_KEYS: generateKeySpec('init') });
    expect(unset.code).toBe(1);
    expect(unset.stderr).toMatch(/SHOPIFY_CLIENT_ID/);
    const checked = await synchub(['check', '--offline', '--config', file], Object.fromEntries(vars.map((v) => [v, valueFor(v)])));
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toContain('3 pipeline(s), every mapping compiled');
  });

  it.each([['woocommerce', 'zoho', 'paypal'], ['magento', 'salesforce', 'alipay'], ['odoo', 'dynamics', 'wechatpay']])('%s %s %s: check passes with the listed variables set', async (...ids) => {
    const file = path.join(dir, `${ids.join('-')}.yaml`);
    const out = await synchub(['init', ...ids, '--config', file]);
    expect(out.code, out.stderr).toBe(0);
    const checked = await synchub(['check', '--offline', '--config', file], Object.fromEntries(listed(out.stdout).map((v) => [v, valueFor(v)])));
    expect(checked.code, checked.stderr).toBe(0);
  });

  it('never overwrites a config, and refuses an unknown connector naming the known ones', async () => {
    const file = path.join(dir, 'existing.yaml');
    writeFileSync(file, 'mine: true\n');
    const out = await synchub(['init', 'shopify', 'hubspot', '--config', file]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('exists already');
    expect(readFileSync(file, 'utf8')).toBe('mine: true\n');
    const bad = await synchub(['init', 'shopify', 'shopfiy', '--config', path.join(dir, 'new.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`unknown connector(s) shopfiy (have: ${[...connectors.keys()].join(', ')})`);
    expect(existsSync(path.join(dir, 'new.yaml'))).toBe(false);
  });
});
