import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/core/logger.js';
import { Hub } from '../../src/jobs/hub.js';
import { startRun } from '../../src/jobs/pull.js';
import { startWorkers, type WorkerSet } from '../../src/jobs/workers.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, testConfig, testRedisUrl, runFinished } from '../helpers/hub.js';
import { fixture } from '../helpers/mock-apis.js';
import { dumpPrefix } from '../helpers/redis-scan.js';

const SHOP = 'https://acme.myshopify.com';
const HUBSPOT = 'https://api.hubapi.com';

const PEOPLE = [
  { first: 'Aurelia', last: 'Quennell', email: 'aurelia.quennell@inbox.test', phone: '+15550100001', street: 'Wisteria Lane 4', city: 'Fairview' },
  { first: 'Bartholomew', last: 'Ostrander', email: 'b.ostrander@inbox.test', phone: '+15550100002', street: 'Larkspur Road 17', city: 'Glenbrook' },
  { first: 'Cordelia', last: 'Vantongeren', email: 'cordelia+shop@inbox.test', phone: '+15550100003', street: 'Quarry Hill 3', city: 'Marlowe' },
  { first: 'Desmond', last: 'Ellingworth', email: 'desmond.e@inbox.test', phone: '+15550100004', street: 'Tamarind Court 9', city: 'Ashcombe' },
  { first: 'Evangeline', last: 'Throckmorton', email: 'evangeline@inbox.test', phone: '+15550100005', street: 'Osprey Way 21', city: 'Penhallow' },
  { first: 'Fitzgerald', last: 'Barnacott', email: 'fitz.barnacott@inbox.test', phone: '+15550100006', street: 'Juniper Row 8', city: 'Kestrel Bay' },
];
/** HubSpot refuses these, echoing their values as its VALIDATION_ERROR messages do. */
const REFUSED = new Set(['b.ostrander@inbox.test', 'desmond.e@inbox.test', 'evangeline@inbox.test']);

function shopifyCustomers() {
  const base = fixture('shopify/customer.json');
  return PEOPLE.map((p, i) => {
    const address = { ...base.default_address, first_name: p.first, last_name: p.last, address1: p.street, city: p.city, phone: p.phone };
    return { ...base, id: 700_000 + i, email: p.email, first_name: p.first, last_name: p.last, phone: p.phone, addresses: [address], default_address: address, updated_at: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString() };
  });
}

/**
 * HubSpot's answer to an invalid property: 400 VALIDATION_ERROR whose message lists the
 * property problems, quoting the values (developers.hubspot.com, "Batch upsert contacts";
 * the error object is category / message / context / errors[]).
 */
function validationError(inputs: { properties: Record<string, string> }[]) {
  const problems = inputs.map((i) => ({
    isValid: false, message: `Email address ${i.properties.email} is invalid (${i.properties.firstname} ${i.properties.lastname}, phone ${i.properties.phone})`,
    error: 'INVALID_EMAIL', name: 'email', propertyValue: i.properties.email,
  }));
  return {
    status: 'error', message: `Property values were not valid: ${JSON.stringify(problems)}`, correlationId: 'a2b3c4d5-0000-4000-8000-000000000001', category: 'VALIDATION_ERROR',
    errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: ['email'], value: [p.propertyValue] } })),
  };
}

function mockHubspotContacts() {
  let calls = 0;
  const written = new Map<string, string>();
  nock(HUBSPOT).persist().post('/crm/objects/2026-09/contacts/batch/upsert').reply((_uri, body: any) => {
    calls++;
    const inputs = body.inputs as { id: string; properties: Record<string, string> }[];
    // The first call meets an outage whose error page echoes the request (seen behind gateways).
    if (calls === 1) return [502, { status: 'error', category: 'INTERNAL_ERROR', message: `upstream failed while writing ${inputs.map((i) => `${i.properties.firstname} ${i.properties.lastname} <${i.properties.email}>`).join(', ')}` }];
    const bad = inputs.filter((i) => REFUSED.has(i.id));
    if (bad.length) return [400, validationError(bad)];
    const now = new Date().toISOString();
    return [200, { status: 'COMPLETE', startedAt: now, completedAt: now, results: inputs.map((i) => {
      written.set(i.id, String(written.size + 501));
      return { id: written.get(i.id), properties: i.properties, createdAt: now, updatedAt: now, archived: false };
    }) }];
  });
  return written;
}

describe('personal data in the targets\' error texts', () => {
  let hub: Hub | undefined;
  let workers: WorkerSet | undefined;
  afterEach(async () => {
    await workers?.close(true);
    await hub?.close();
    nock.cleanAll();
  });

  it('leaves no value of a refused record in plaintext in Redis (dead letters, job failures), in the logs or in admin answers', async () => {
    nock(SHOP).persist().get('/admin/api/2026-10/customers.json').query(true).reply(200, { customers: shopifyCustomers() }, { 'x-shopify-shop-api-call-limit': '1/40' });
    const written = mockHubspotContacts();
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }) });
    const config = testConfig({
      server: { adminToken: ADMIN_TOKEN },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, http: { retries: 0 }, retry: { attempts: 3, backoffMs: 20 }, breaker: { threshold: 1, cooldownMs: 100, maxCooldownMs: 200 } },
      },
      pipelines: { contacts: { source: { connection: 'shop', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }], batchSize: 10 } },
    });
    hub = await Hub.open(config, logger, testRedisUrl());
    workers = startWorkers(hub);
    const { runId } = await startRun(hub, 'contacts', false);
    const run = await runFinished(hub!, runId);
    expect(run).toMatchObject({ pushed: 3, dead: 3 });
    expect(written.size).toBe(3);

    const needles = PEOPLE.flatMap((p) => [p.first, p.last, p.email, p.phone, p.phone.slice(2), p.street, p.city]);
    const findIn = (what: string, text: string) => needles.filter((n) => text.toLowerCase().includes(n.toLowerCase())).map((n) => `${what}: ${n}`);

    // Redis: dead letters and the push job's failure (BullMQ's failedReason and stacktrace).
    const dump = await dumpPrefix(hub.redis, `${config.redis.prefix}:`);
    const redisText = [...dump.values()].join('\n');
    expect(redisText).toContain('stacktrace');
    expect(redisText).toContain('[email]');
    expect(findIn('redis', redisText)).toEqual([]);
    const letters = (await hub.store.listDeadLetters({ pipeline: 'contacts' })).items;
    expect(letters).toHaveLength(3);
    for (const dl of letters) {
      expect(dl.error.code).toBe('remote_rejected');
      expect(dl.error.message).toContain('Property values were not valid');
      // The remote body is kept, sealed like the record.
      expect(dl.errorSealed).toMatch(/^enc:v1:t1:/);
    }

    // Logs: the breaker opened on the outage and said so, without the names it echoed.
    const logText = lines.join('');
    expect(logText).toContain('circuit breaker open');
    expect(findIn('logs', logText)).toEqual([]);

    // Admin answers: the list and each letter, with the remote error opened and masked.
    const api = adminClient(createApp(hub));
    const list = await api.get('/api/dead-letters?pipeline=contacts');
    expect(list.body.total).toBe(3);
    expect(findIn('list', JSON.stringify(list.body))).toEqual([]);
    for (const dl of letters) {
      const one = await api.get(`/api/dead-letters/${dl.id}`);
      expect(one.status).toBe(200);
      expect(one.body.remoteError.details.body.category).toBe('VALIDATION_ERROR');
      expect(findIn('detail', JSON.stringify(one.body))).toEqual([]);
    }
  });
});
