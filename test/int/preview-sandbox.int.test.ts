import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { openTestHub, testConfig, type TestHub } from '../helpers/hub.js';

const config = () => testConfig({
  server: { adminToken: ADMIN_TOKEN },
  connections: {
    shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
    crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
  },
  pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
  jobs: { mappingTimeoutMs: 500 },
});

describe('mapping preview of an arbitrary expression', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('stops a runaway expression at its time limit while the server goes on answering', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const api = adminClient(app);
    // One regex test that backtracks quadratically (200,000 spaces, then no end of string after them: minutes) inside one
    // call, where the mapping timeout, checked between nodes, cannot stop it.
    let answered = false;
    const runaway = api.post('/api/mappings/preview', { entity: 'order', expression: '$contains($pad("", 200000) & "x", /\\s+$/)', input: {} }).finally(() => {
      answered = true;
    });
    // Other requests keep being answered the whole time the expression runs.
    let others = 0;
    while (!answered) {
      expect((await app.request('/healthz')).status).toBe(200);
      expect((await api.get('/api/pipelines')).status).toBe(200);
      others++;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(others).toBeGreaterThan(5);
    const res = await runaway;
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'mapping_failed', message: '<expression>: the evaluation ran past its time limit after 1000 ms and was stopped' });

    // A preview that ends answers as before, its errors with their position.
    const ok = await api.post('/api/mappings/preview', { entity: 'payment', expression: '$merge([$, {"amount": $money(amount, currency)}])', input: { externalId: 'p1', provider: 'x', orderNumber: '1', status: 'succeeded', amount: '10', currency: 'EUR', occurredAt: '2025-01-01T00:00:00Z' } });
    expect(ok.body).toMatchObject({ output: { amount: '10.00' }, validation: { valid: true } });
    const bad = await api.post('/api/mappings/preview', { entity: 'order', expression: '{\n "n": $number(x)\n}', input: { x: 'abc' } });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toMatchObject({ code: 'mapping_failed', details: { line: 2, column: expect.any(Number) } });
    const big = await api.post('/api/mappings/preview', { entity: 'order', expression: '$pad("", 100000000)', input: {} });
    expect(big.body.error.message).toMatch(/\$pad would make a string of 100000000 characters, over mappings\.maxStringLength/);
  });
});
