import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { generateKeySpec } from '../../src/core/crypto.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/synchub.js');

describe('synchub check: deprecation warnings', () => {
  it('warns where a connection uses what its provider deprecated, with the date, and still exits 0', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-deprecations-'));
    const file = path.join(dir, 'hub.yaml');
    writeFileSync(file, `
encryption: { keys: "\${SYNCHUB_KEYS}" }
connections:
  shop: { connector: shopify, baseUrl: "https://acme.myshopify.com", api: rest, apiVersion: "2025-07", credentials: { accessToken: shpat_x } }
  crm: { connector: hubspot, apiVersion: v3, credentials: { accessToken: pat-x } }
  crm2: { connector: hubspot, credentials: { accessToken: svc-key } }
pipelines:
  orders:
    source: { connection: shop, entity: order }
    targets: [ { connection: crm, entity: order }, { connection: crm2, entity: order } ]
`);
    const { stdout } = await run(process.execPath, [BIN, 'check', '--offline', '--config', file], { env: { ...process.env, SYNCHUB_KEYS: generateKeySpec('dep') }, timeout: 60_000 });
    const warnings = stdout.split('\n').filter((l) => l.startsWith('warning: '));
    expect(warnings).toEqual([
      expect.stringMatching(/^warning: connections\.shop\.api: Shopify's REST Admin API is legacy since 2024-10-01/),
      expect.stringMatching(/^warning: connections\.shop\.apiVersion: Shopify API version 2025-07 has been out of support since 2026-07-01/),
      expect.stringMatching(/^warning: connections\.crm\.apiVersion: HubSpot v1–v3 APIs go unsupported in September 2027/),
    ]);
    expect(stdout).toContain('orders: shop/order → crm/order, crm2/order');
  });
});
