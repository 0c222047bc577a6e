import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../src/sandbox/hubspot.js';

const post = (sb: HubspotSandbox, path: string, body: unknown) =>
  sb.app().request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('HubSpot sandbox', () => {
  it('serves the dated paths beside v3 with the same store and answers', async () => {
    const sb = new HubspotSandbox();
    const input = (amount: string) => ({ inputs: [{ idProperty: 'synchub_order_number', id: '1001', properties: { amount } }] });
    const dated = await post(sb, '/crm/objects/2026-09/deals/batch/upsert', input('10.00'));
    const v3 = await post(sb, '/crm/v3/objects/deals/batch/upsert', input('12.50'));
    const a = await dated.json() as any;
    const b = await v3.json() as any;
    expect([dated.status, v3.status]).toEqual([200, 200]);
    expect(a.results[0]).toMatchObject({ new: true, properties: { amount: '10.00' } });
    expect(b.results[0]).toMatchObject({ id: a.results[0].id, new: false, properties: { amount: '12.50' } });
    const found = await (await post(sb, '/crm/objects/2026-03/deals/search', { limit: 10 })).json() as any;
    expect(found.results.map((r: any) => r.properties.amount)).toEqual(['12.50']);
    const read = await sb.app().request(`/crm/objects/2026-09/deals/${a.results[0].id}`);
    expect(read.status).toBe(200);
    expect(Object.fromEntries(sb.versionCalls)).toEqual({ '2026-09': 2, v3: 1, '2026-03': 1 });
    expect((await sb.app().request('/crm/objects/latest/deals/1')).status).toBe(404);
  });

  it('enforces the rate limit on dated paths as on v3: 429 with Retry-After past the window', async () => {
    const sb = new HubspotSandbox();
    sb.faults = { limit: { max: 2, perMs: 10_000 } };
    const body = { inputs: [{ idProperty: 'email', id: 'a@example.com', properties: {} }] };
    const statuses = [];
    for (const path of ['/crm/objects/2026-09/contacts/batch/upsert', '/crm/v3/objects/contacts/batch/upsert', '/crm/objects/2026-09/contacts/batch/upsert']) {
      const res = await post(sb, path, body);
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await res.json()).toMatchObject({ policyName: 'TEN_SECONDLY_ROLLING' });
      }
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect((await post(sb, '/crm/objects/2026-09/contacts/batch/upsert', { inputs: Array.from({ length: 101 }, () => body.inputs[0]) })).status).toBe(400);
  });
});
