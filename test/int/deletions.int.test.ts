import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals } from '../helpers/mock-apis.js';

describe('deletions reported by a source', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    nock.cleanAll();
  });

  it('an incremental Zoho run records deleted records as tombstones, counts them on the run and pushes nothing for them', async () => {
    nock('https://accounts.zoho.com').persist().post('/oauth/v2/token').reply(200, { access_token: '1000.t', expires_in: 3600 });
    nock('https://www.zohoapis.com')
      .get('/crm/v8/Deals').query(true).reply(200, { data: [{ id: '57001', Deal_Name: 'Order 1', Stage: 'Closed Won', Amount: 12.5, Synchub_Order_Number: '1', Created_Time: '2025-03-02T09:00:00+00:00', Modified_Time: '2025-03-02T09:00:00+00:00' }], info: { more_records: false } })
      .get('/crm/v8/Deals/deleted').query(true).reply(200, { data: [
        { id: '57002', display_name: 'Order 2', type: 'recycle', deleted_time: '2025-03-02T10:00:00+00:00' },
        { id: '57003', display_name: 'Order 3', type: 'permanent', deleted_time: '2025-03-02T11:00:00+00:00' },
      ], info: { more_records: false } });
    const crm = mockHubspotDeals();
    t = await openTestHub(testConfig({
      connections: {
        zc: { connector: 'zoho', orderModule: 'Deals', credentials: { clientId: 'c', clientSecret: 's', refreshToken: 'r' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { deals: { source: { connection: 'zc', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    }));
    await t.hub.store.setCursor('deals', { since: '2025-03-01T00:00:00+00:00' });
    t.startWorkers();
    const { runId } = await startRun(t.hub, 'deals', false);
    const run = await eventually(async () => {
      const r = await t!.hub.store.getRun(runId);
      return r?.finishedAt ? r : undefined;
    });
    expect(run).toMatchObject({ expected: 1, pushed: 1, dead: 0, deleted: 2 });
    expect(crm.deals.size).toBe(1);
    expect((await t.hub.store.tombstones('zc', 'order')).map((d) => d.id).sort()).toEqual(['57002', '57003']);
    expect(await t.hub.store.getCursor('deals')).toEqual({ since: '2025-03-02T08:59:59+00:00' });
  });
});
