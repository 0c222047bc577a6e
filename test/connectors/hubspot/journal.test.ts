import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/load.js';
import { hubspot } from '../../../src/connectors/hubspot/index.js';
import { ConfigError } from '../../../src/core/errors.js';
import { generateKeySpec } from '../../../src/core/crypto.js';

describe('hubspot webhooks journal', () => {
  it('is declared not supported, with the reason, and a connection asking for it stops start-up naming the path', () => {
    expect(hubspot.notSupported?.webhooksJournal).toMatch(/not the content of its entry files/);
    const raw = {
      encryption: { keys: generateKeySpec('k1') },
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat_x' } },
        crm: { connector: 'hubspot', webhooksJournal: true, credentials: { clientId: 'c', clientSecret: 's', refreshToken: 'r' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    };
    const err = (() => { try { buildConfig(raw, '/tmp/hub.yaml', { env: {} }); } catch (e) { return e; } })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems).toEqual([expect.stringMatching(/^connections\.crm\.webhooksJournal: the HubSpot webhooks journal is not supported \(not_supported\): /)]);
    raw.connections.crm.webhooksJournal = false;
    expect(buildConfig(raw, '/tmp/hub.yaml', { env: {} }).connections.has('crm')).toBe(true);
  });
});
