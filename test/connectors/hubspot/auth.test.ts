import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/load.js';
import { hubspotAuthMode } from '../../../src/connectors/hubspot/auth.js';
import { ConfigError } from '../../../src/core/errors.js';
import { generateKeySpec } from '../../../src/core/crypto.js';

function problems(credentials: Record<string, string>): string[] {
  const raw = {
    encryption: { keys: generateKeySpec('k1') },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat_x' } },
      crm: { connector: 'hubspot', credentials },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
  };
  try {
    buildConfig(raw, '/tmp/hub.yaml', { env: {} });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

describe('hubspot credentials', () => {
  it('selects the mode from which credentials are set', () => {
    expect(hubspotAuthMode({ accessToken: 'svc' }).mode).toBe('static');
    expect(hubspotAuthMode({ accessToken: 'svc', clientSecret: 'cs' }).mode).toBe('static'); // clientSecret signs webhooks
    expect(hubspotAuthMode({ clientId: 'c', clientSecret: 's', refreshToken: 'r' }).mode).toBe('refresh_token');
    expect(hubspotAuthMode({ accessToken: 'a', clientId: 'c', clientSecret: 's', refreshToken: 'r' }).mode).toBe('refresh_token');
  });

  it('a combination that selects no mode stops start-up naming the path', () => {
    expect(problems({ accessToken: 'svc' })).toEqual([]);
    expect(problems({ refreshToken: 'r', clientSecret: 's' })).toEqual([expect.stringMatching(/^connections\.crm\.credentials\.clientId: is required with credentials\.refreshToken/)]);
    expect(problems({ clientId: 'c', clientSecret: 's' })).toEqual([expect.stringMatching(/^connections\.crm\.credentials\.refreshToken: is required with credentials\.clientId/)]);
    expect(problems({ clientSecret: 's' })).toEqual([expect.stringMatching(/^connections\.crm\.credentials: set accessToken/)]);
    expect(problems({ accessToken: 'svc', apiKey: 'x' } as Record<string, string>)).toEqual([expect.stringMatching(/^connections\.crm\.credentials/)]);
  });
});
