import { synchub } from '../helpers/cli.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeySpec } from '../../src/core/crypto.js';
import { testRedisUrl } from '../helpers/hub.js';


/** The real binary: exit codes and messages of `synchub webhooks` that need no provider (nothing is sent anywhere). */
describe('synchub webhooks (CLI process)', () => {
  let dir: string;
  const env = () => ({ SYNCHUB_KEYS: generateKeySpec('cli'), SYNCHUB_CONFIG: path.join(dir, 'hub.yaml') });
  const write = (server: string) => writeFileSync(path.join(dir, 'hub.yaml'), `
redis: { url: "${testRedisUrl()}", prefix: "cliwh${Date.now()}" }
encryption: { keys: "\${SYNCHUB_KEYS}" }
${server}
connections:
  shop: { connector: shopify, baseUrl: "https://acme.myshopify.com", api: rest, credentials: { accessToken: shpat_x } }
  dyn: { connector: dynamics, baseUrl: "https://acme.crm.dynamics.com", credentials: { tenantId: t, clientId: c, clientSecret: s, webhookKey: kkkkkkkkkkkkkkkkkkkk } }
  crm: { connector: hubspot, baseUrl: "https://api.hubapi.com", credentials: { accessToken: pat-x } }
pipelines:
  orders: { source: { connection: shop, entity: order }, targets: [ { connection: crm, entity: order } ], webhooks: true }
  contacts: { source: { connection: dyn, entity: customer }, targets: [ { connection: crm, entity: customer } ], webhooks: true }
`);

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-cli-wh-'));
  });

  it('a connector whose API cannot subscribe exits 1 with not_supported and how to set it up', async () => {
    write('server: { publicUrl: "https://hub.example.com" }');
    const out = await synchub(['webhooks', 'subscribe', 'dyn'], env());
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/^not_supported: webhook subscriptions through the .*Dynamics.* API is not supported: .*Plug-in Registration Tool.*https:\/\/hub\.example\.com\/webhooks\/dyn/);
  });

  it('server.publicUrl missing: exits 1 naming the path', async () => {
    write('');
    const out = await synchub(['webhooks', 'subscribe', 'shop'], env());
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('server.publicUrl: is required by `synchub webhooks`');
  });

  it('without an action and a connection it prints its usage and exits 1', async () => {
    write('server: { publicUrl: "https://hub.example.com" }');
    const out = await synchub(['webhooks', 'subscribe'], env());
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('usage: synchub webhooks list|subscribe CONNECTION');
  });
});
