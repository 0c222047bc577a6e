import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/load.js';
import { hubspot } from '../../../src/connectors/hubspot/index.js';
import { HUBSPOT_API_VERSION, hubspotPaths, hubspotVersionUnsupportedOn } from '../../../src/connectors/hubspot/versions.js';
import { ConfigError } from '../../../src/core/errors.js';
import { generateKeySpec } from '../../../src/core/crypto.js';
import { testConnection } from '../../helpers/connection.js';
import { quietLogger } from '../../helpers/hub.js';

const API = 'https://api.hubapi.com';
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/hubspot/${name}`, import.meta.url), 'utf8'));
const client = (options: Record<string, unknown> = {}) =>
  hubspot.create(testConnection({ name: 'crm', connector: 'hubspot', baseUrl: API, credentials: { accessToken: 'svc-key' }, options }), { logger: quietLogger });

// Shapes from HubSpot's dated reference (2026-03 "Create or update a batch of objects by unique
// property values", "Search for CRM objects"); the 2026-09 bodies are the same.
describe('hubspot dated API versions', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('a connection that sets no apiVersion upserts deals on the newest dated path; a refused record fails alone', async () => {
    expect(HUBSPOT_API_VERSION).toBe('2026-09');
    nock(API, { reqheaders: { authorization: 'Bearer svc-key' } })
      .post('/crm/objects/2026-09/deals/batch/upsert', (b) => b.inputs.length === 2 && b.inputs.every((i: any) => i.idProperty === 'synchub_order_number'))
      .reply(207, fixture('dated-deals-upsert-207.json'));
    const out = await client().push('order', [
      { key: 'o1', payload: { properties: { synchub_order_number: '1001', amount: '129.90' } } },
      { key: 'o2', payload: { properties: { synchub_order_number: '1002', amount: '1o2.00' } } },
    ]);
    expect(out[0]).toEqual({ key: 'o1', ok: true, externalId: '41023897563' });
    expect(out[1]).toMatchObject({ key: 'o2', ok: false, error: { code: 'remote_rejected', message: expect.stringMatching(/VALIDATION_ERROR: Property values were not valid: amount/) } });
    expect(nock.isDone()).toBe(true);
  });

  it('pins 2026-03: search and paging on /crm/objects/2026-03/contacts/search, reads on /crm/objects/2026-03/contacts/{id}', async () => {
    const bodies: any[] = [];
    nock(API)
      .post('/crm/objects/2026-03/contacts/search', (b) => { bodies.push(b); return true; })
      .reply(200, fixture('dated-contacts-search.json'))
      .get('/crm/objects/2026-03/contacts/777').query((q) => typeof q.properties === 'string' && q.properties.includes('email'))
      .reply(404, { status: 'error', message: 'Object not found.  objectId are usually numeric.', correlationId: 'b5f3a8c2-0000-4d2e-9a61-7f0e3c5d1a22', category: 'OBJECT_NOT_FOUND' });
    const c = client({ apiVersion: '2026-03' });
    const page = await c.pull('customer', { cursor: null, pageSize: 2 });
    expect(bodies[0]).toMatchObject({ sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }], limit: 2, filterGroups: [] });
    expect(page.records.map((r: any) => r.id)).toEqual(['512', '513']);
    expect(page).toMatchObject({ done: false, cursor: { after: '2', maxSeen: Date.parse('2026-12-01T08:00:00.000Z') } });
    expect(await c.fetch('customer', '777')).toBeNull();
  });

  it('knows each version\'s paths, associations included, and when a dated version goes unsupported', () => {
    expect(hubspotPaths('v3').batchUpsert('deals')).toBe('/crm/v3/objects/deals/batch/upsert');
    expect(hubspotPaths('v3').associateDefault('deals', 'contacts')).toBe('/crm/v4/associations/deals/contacts/batch/associate/default');
    expect(hubspotPaths('2026-09').search('contacts')).toBe('/crm/objects/2026-09/contacts/search');
    expect(hubspotPaths('2026-09').read('deals', 'a/b')).toBe('/crm/objects/2026-09/deals/a%2Fb');
    expect(hubspotPaths('2026-03').associateDefault('deals', 'contacts')).toBe('/crm/associations/2026-03/deals/contacts/batch/associate/default');
    // 18 months after GA (2026-03-30, 2026-09-08).
    expect(hubspotVersionUnsupportedOn('2026-03')).toBe('2027-09-30');
    expect(hubspotVersionUnsupportedOn('2026-09')).toBe('2028-03-08');
  });

  it('refuses a version HubSpot has not released as stable at start-up, naming the path', () => {
    const raw = {
      encryption: { keys: generateKeySpec('k1') },
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat_x' } },
        crm: { connector: 'hubspot', apiVersion: '2027-03-beta', credentials: { accessToken: 'svc' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    };
    const err = (() => { try { buildConfig(raw, '/tmp/hub.yaml', { env: {} }); } catch (e) { return e; } })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems.join('\n')).toMatch(/connections\.crm\.apiVersion/);
    raw.connections.crm.apiVersion = 'v3';
    expect(buildConfig(raw, '/tmp/hub.yaml', { env: {} }).connections.get('crm')!.options.apiVersion).toBe('v3');
  });
});
