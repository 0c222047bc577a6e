import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { generateKeySpec } from '../../src/core/crypto.js';

const build = (pipeline: Record<string, unknown>) => buildConfig({
  encryption: { keys: generateKeySpec('t1') },
  connections: {
    shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', credentials: { accessToken: 'shpat' } },
    crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
  },
  pipelines: { p: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], ...pipeline } },
}, path.resolve('test/fixtures/hub.yaml'), { env: {} });

describe('approval config', () => {
  it('defaults: 48 hours, then escalate', async () => {
    const approval = build({ approval: { when: '$number(total) > 1000' } }).pipelines.get('p')!.approval!;
    expect(approval).toMatchObject({ timeoutHours: 48, onTimeout: 'escalate' });
    expect(await approval.when.evaluate({ total: '1000.01' })).toBe(true);
    expect(await approval.when.evaluate({ total: '1000.00' })).toBe(false);
  });

  it('refuses a rule that does not compile, a bad onTimeout, and approval on a customer pipeline, each by its path', () => {
    expect(() => build({ approval: { when: 'total >' } })).toThrow(/pipelines\.p\.approval\.when/);
    expect(() => build({ approval: { when: 'true', onTimeout: 'ignore' } })).toThrow(/approval\.onTimeout: must be one of/);
    expect(() => build({ source: { connection: 'shop', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }], approval: { when: 'true' } }))
      .toThrow(/pipelines\.p\.approval: only order pipelines/);
  });
});
