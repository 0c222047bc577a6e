/**
 * Push jobs queued by earlier versions (records with their personal fields sealed in place,
 * sources in a hash per target; later, the batch's records sealed as text inside the job)
 * are still pushed after an upgrade, and their dead letters still get their sources.
 */
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanonicalOrder } from '../../src/core/canonical/schemas.js';
import { encryptRecord, openJson, sealJson, sealJsonBytes } from '../../src/core/crypto.js';
import { SOURCE_AAD, SOURCE_PAGE_AAD } from '../../src/jobs/source-pages.js';
import { pushJobOptions } from '../../src/jobs/queues.js';
import { pushRecordsAad, type PushJobData } from '../../src/jobs/queues.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals } from '../helpers/mock-apis.js';

const order = (n: number): CanonicalOrder => ({
  externalId: String(n), orderNumber: String(n), status: 'paid', currency: 'USD', total: '10.00',
  createdAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-01T00:00:00.000Z',
  customer: { email: `buyer${n}@example.com`, firstName: 'Bob' },
  lineItems: [{ title: 'Mug', quantity: 1, unitPrice: '10.00', total: '10.00' }],
});

/** The two orders' sources, in Shopify's shape. */
const raws = [{ id: 1, name: '#1' }, { id: 2, name: '#2' }];

describe('push jobs queued by an earlier version', () => {
  let t: TestHub | undefined;
  let crm: ReturnType<typeof mockHubspotDeals> | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  /** A hub whose CRM refuses order 2 for good (once in its batch, once alone). */
  async function open() {
    t = await openTestHub(testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
      jobs: { attempts: 1 },
    }));
    nock('https://api.hubapi.com').post('/crm/objects/2026-09/deals/batch/upsert', (b) => b.inputs.some((i: any) => i.id === '2')).times(2)
      .reply(400, { status: 'error', message: 'Property values were not valid', category: 'VALIDATION_ERROR' });
    crm = mockHubspotDeals();
    return t.hub;
  }

  /** Queues the old job and starts the workers: order 1 lands in the CRM, order 2 is dead-lettered with its source. */
  async function pushOrders1And2(data: PushJobData) {
    const { hub } = t!;
    expect(JSON.stringify(data)).not.toContain('buyer1@example.com');
    await hub.pushQueue('crm').add('push', data, pushJobOptions(hub, 'crm'));
    t!.startWorkers();
    await eventually(() => crm!.deals.has('1'));
    expect(crm!.deals.get('1')!.properties).toMatchObject({ amount: '10.00', dealname: 'Order 1' });
    const dead = await eventually(async () => (await hub.store.listDeadLetters({ pipeline: 'orders' })).items[0]);
    expect(dead).toMatchObject({ step: 'push', key: 'order:shop:2', target: 'crm', error: { code: 'remote_rejected' } });
    expect(openJson(hub.config.keyring, dead.source, SOURCE_AAD)).toEqual(raws[1]);
  }

  it('opens their field-sealed records, pushes them and dead-letters a refused one with its source', async () => {
    const hub = await open();

    const srcKey = hub.store.k('src', 'crm', 'old-page');
    await hub.redis.hset(srcKey, { 0: sealJson(hub.config.keyring, raws[0], SOURCE_AAD), 1: sealJson(hub.config.keyring, raws[1], SOURCE_AAD) });
    const data: PushJobData = {
      pipeline: 'orders', target: 'crm', entity: 'order', sourceEntity: 'order', srcKey,
      items: [1, 2].map((n, i) => ({ key: `order:shop:${n}`, delivery: `old.${i}>crm`, version: 1, rec: encryptRecord(hub.config.keyring, 'order', order(n) as unknown as Record<string, unknown>), srcField: String(i) })),
    };
    await pushOrders1And2(data);
    // The pushed record's source is dropped; the dead-lettered one's stays until it expires.
    await eventually(async () => (await hub.redis.hkeys(srcKey)).join(',') === '1');
  });

  it('opens records sealed as text inside the job, pushes them and dead-letters a refused one with its source', async () => {
    const hub = await open();
    const page = 'ingest:old-event';
    await hub.store.redis.multi().set(hub.store.k('srcpage', page), sealJsonBytes(hub.config.keyring, { records: raws }, SOURCE_PAGE_AAD))
      .hset(hub.store.k('srcpage', page, 'pending'), { 'old.0>crm': '1', 'old.1>crm': '1' }).exec();
    const items = [1, 2].map((n, i) => ({ key: `order:shop:${n}`, delivery: `old.${i}>crm`, version: 1, srcIndex: i }));
    const data: PushJobData = {
      pipeline: 'orders', target: 'crm', entity: 'order', sourceEntity: 'order', items,
      records: sealJson(hub.config.keyring, [order(1), order(2)], pushRecordsAad('crm', items)), sources: { page, aad: SOURCE_PAGE_AAD },
    };
    await pushOrders1And2(data);
    // Both deliveries settled (the dead letter holds its copy): the source page is gone.
    await eventually(async () => (await hub.redis.exists(hub.store.k('srcpage', page))) === 0);
  });
});
