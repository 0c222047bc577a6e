import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from '../../src/jobs/pull.js';
import { installSchedules } from '../../src/jobs/workers.js';
import { OPENAPI_PATHS } from '../../src/routes/openapi.js';
import { pino } from 'pino';
import { Hub } from '../../src/jobs/hub.js';
import { createApp, startServer } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, testRedisUrl, type TestHub, runFinished } from '../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';

function config(server: Record<string, unknown> = { adminToken: ADMIN_TOKEN }, pipeline: Record<string, unknown> = {}) {
  return testConfig({
    server,
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: 10, ...pipeline } },
    jobs: { attempts: 1 },
  });
}

async function finished(t: TestHub, runId: string) {
  return runFinished(t.hub, runId);
}

describe('admin API', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('does not exist without an admin token: every admin path answers 404', async () => {
    t = await openTestHub(config({}));
    const app = createApp(t.hub);
    for (const path of ['/api/pipelines', '/api/openapi.json', '/api/dead-letters', '/api/nothing']) {
      const res = await app.request(path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    }
    expect((await app.request('/healthz')).status).toBe(200);
  });

  it('says at start-up why the admin surface is off', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const hub = await Hub.open(config({}), logger, testRedisUrl());
    const server = await startServer(hub, { port: 0, host: '127.0.0.1' });
    await server.close();
    await hub.close();
    const warning = lines.map((l) => JSON.parse(l)).find((l) => l.level === 40);
    expect(warning.msg).toMatch(/admin API, admin page, queue dashboard and \/metrics are off \(they answer 404\): set server\.adminToken/);
  });

  it('refuses a missing or wrong token with 401 and the error shape, on known and unknown paths alike', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer nope' }, { authorization: `Bearer ${ADMIN_TOKEN}x` }, { authorization: ADMIN_TOKEN }]) {
      for (const path of ['/api/pipelines', '/api/unknown']) {
        const res = await app.request(path, { headers });
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
      }
    }
    expect((await adminClient(app).get('/api/unknown')).body.error.code).toBe('not_found');
  });

  it('lists pipelines with last run, next run, cursor, counts and breaker state; runs, pauses, resumes and resets the cursor', async () => {
    const orders = shopifyOrders(12);
    orders[2].currency = 'dollars'; // dead-lettered by the mapping
    mockShopifyOrders(SHOP, orders);
    const crm = mockHubspotDeals();
    t = await openTestHub(config(undefined, { schedule: '0 3 * * *' }));
    await installSchedules(t.hub);
    t.startWorkers();
    const api = adminClient(createApp(t.hub));

    let list = await api.get('/api/pipelines');
    expect(list.status).toBe(200);
    expect(list.body.pipelines[0]).toMatchObject({
      name: 'orders', paused: false, cursor: null, lastRun: null, counts: { pushed: 0, skipped: 0, deadLettered: 0 },
      targets: [{ connection: 'crm', entity: 'order', breaker: { state: 'closed', failures: 0 } }],
    });
    expect(Date.parse(list.body.pipelines[0].nextRun)).toBeGreaterThan(Date.now());

    const run = await api.post('/api/pipelines/orders/run');
    expect(run.status).toBe(202);
    await finished(t, run.body.runId);
    expect(crm.deals.size).toBe(11);
    list = await api.get('/api/pipelines');
    expect(list.body.pipelines[0]).toMatchObject({
      counts: { pushed: 11, skipped: 0, deadLettered: 1 },
      lastRun: { id: run.body.runId, expected: 12, pushed: 11, dead: 1, finishedAt: expect.any(String) },
      cursor: expect.anything(),
    });

    // Pause: no run now, no scheduled run; resume lets it run again.
    const paused = await api.post('/api/pipelines/orders/pause');
    expect(paused.body).toMatchObject({ paused: true, nextRun: null });
    const refused = await api.post('/api/pipelines/orders/run');
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('pipeline_paused');
    expect((await api.post('/api/pipelines/orders/resume')).body.paused).toBe(false);
    const again = await api.post('/api/pipelines/orders/run');
    expect(again.status).toBe(202);
    await finished(t, again.body.runId);

    // Reset cursor: needs the pipeline name as confirmation.
    for (const path of ['/api/pipelines/orders/reset-cursor', '/api/pipelines/orders/reset-cursor?confirm=yes']) {
      const r = await api.post(path);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'confirmation_required', details: { confirm: 'orders' } });
    }
    expect(await t.hub.store.getCursor('orders')).not.toBeNull();
    const reset = await api.post('/api/pipelines/orders/reset-cursor?confirm=orders');
    expect(reset.status).toBe(200);
    expect(await t.hub.store.getCursor('orders')).toBeNull();

    expect((await api.post('/api/pipelines/nope/run')).body.error.code).toBe('not_found');
  });

  it('lists dead letters with filters and paging, shows one masked, replays and discards', async () => {
    const orders = shopifyOrders(6);
    orders[0].currency = 'dollars';              // map_in
    orders[1].currency = 'dollars';              // map_in
    orders[2].line_items[0].quantity = -1;       // validate
    mockShopifyOrders(SHOP, orders);
    mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const api = adminClient(createApp(t.hub));
    await finished(t, (await startRun(t.hub, 'orders', false)).runId);

    const all = await api.get('/api/dead-letters');
    expect(all.body.total).toBe(3);
    expect(all.body.items[0]).not.toHaveProperty('source');
    const mapIn = await api.get('/api/dead-letters?step=map_in&limit=1');
    expect(mapIn.body.total).toBe(2);
    expect(mapIn.body.items).toHaveLength(1);
    const page2 = await api.get('/api/dead-letters?step=map_in&limit=1&offset=1');
    expect(page2.body.items[0].id).not.toBe(mapIn.body.items[0].id);
    expect((await api.get('/api/dead-letters?code=validation_failed')).body.total).toBe(1);
    expect((await api.get('/api/dead-letters?pipeline=other')).body.total).toBe(0);
    expect((await api.get('/api/dead-letters?to=2000-01-01')).body.total).toBe(0);
    expect((await api.get('/api/dead-letters?limit=0')).body.error.code).toBe('invalid_request');
    expect((await api.get('/api/dead-letters?from=yesterday')).body.error.code).toBe('invalid_request');

    const invalid = (await api.get('/api/dead-letters?step=validate')).body.items[0];
    const shown = await api.get(`/api/dead-letters/${invalid.id}`);
    expect(shown.status).toBe(200);
    const text = JSON.stringify(shown.body);
    expect(text).not.toContain('buyer2@example.com');
    expect(text).not.toContain('Chestnut Street');
    expect(shown.body.source.email).toBe('b***@example.com');
    expect(shown.body.source.total_price).toBe(orders[2].total_price);
    expect(shown.body.canonical).toMatchObject({ orderNumber: '1003', total: orders[2].total_price, customer: { email: 'b***@example.com' } });
    expect(shown.body.currentMapping).toEqual({ ok: true });

    const discarded = await api.del(`/api/dead-letters/${invalid.id}`);
    expect(discarded.body).toEqual({ discarded: invalid.id });
    expect((await api.get(`/api/dead-letters/${invalid.id}`)).status).toBe(404);

    // Replay: the mapping still refuses the currency, so it comes back as a new dead letter with the same reason.
    const first = mapIn.body.items[0];
    expect((await api.post(`/api/dead-letters/${first.id}/replay`)).body).toEqual({ replayed: first.id });
    await eventually(async () => {
      const l = (await api.get('/api/dead-letters?step=map_in')).body;
      return l.total === 2 && !l.items.some((d: any) => d.id === first.id);
    });
    expect((await api.post('/api/dead-letters/nope/replay')).status).toBe(404);
  });

  it('previews mappings on captured samples and on given input: output, validation, timing, errors with position', async () => {
    const orders = shopifyOrders(7);
    mockShopifyOrders(SHOP, orders);
    mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const api = adminClient(createApp(t.hub));
    await finished(t, (await startRun(t.hub, 'orders', false)).runId);

    // The last 5 records the source sent, kept sealed in Redis and shown masked.
    const samples = (await api.get('/api/pipelines/orders/samples')).body.samples;
    expect(samples).toHaveLength(5);
    expect(samples.map((s: any) => s.record.order_number)).toEqual([1007, 1006, 1005, 1004, 1003]);
    expect(samples[0].record.email).toBe('b***@example.com');
    const stored = await t.hub.redis.lrange(t.hub.store.k('samples', 'orders'), 0, -1);
    expect(stored.join()).not.toContain('example.com');

    // The pipeline's own in-mapping on sample 0: valid canonical output, personal fields masked.
    const own = await api.post('/api/mappings/preview', { pipeline: 'orders', sample: 0 });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({
      stage: 'in', entity: 'order', masked: true, validation: { of: 'output', valid: true, problems: [] },
      output: { orderNumber: '1007', total: orders[6].total_price, currency: 'USD', customer: { email: 'b***@example.com' } },
      timing: { compileMs: expect.any(Number), evaluateMs: expect.any(Number) },
    });

    // An expression being edited: the output follows it; the canonical check says what is missing.
    const edited = await api.post('/api/mappings/preview', { pipeline: 'orders', sample: 0, expression: '{ "externalId": $string(id), "orderNumber": $string(order_number), "total": total_price }' });
    expect(edited.body.output).toEqual({ externalId: String(orders[6].id), orderNumber: '1007', total: orders[6].total_price });
    expect(edited.body.validation.valid).toBe(false);
    expect(edited.body.validation.problems).toContainEqual({ path: '/', message: "must have required property 'status'" });

    // Out stage on a sample: the sample goes through map-in first, then the target's mapping.
    const out = await api.post('/api/mappings/preview', { pipeline: 'orders', stage: 'out', sample: 1 });
    expect(out.body).toMatchObject({ stage: 'out', validation: { of: 'input', valid: true } });
    expect(JSON.stringify(out.body.output)).toContain(orders[5].total_price);
    // Personal data of a real record stays masked at every stage, even copied into other fields.
    const copied = await api.post('/api/mappings/preview', { pipeline: 'orders', sample: 0, expression: '{ "orderNumber": $string(order_number), "note": "for " & $uppercase(email), "tags": [customer.last_name] }' });
    expect(copied.body.output).toEqual({ orderNumber: '1007', note: 'f***', tags: ['[redacted]'] });
    // Nor by hiding them behind an "@" (a masked email keeps its domain), nor in the error a mapping raises.
    const behindAt = await api.post('/api/mappings/preview', { pipeline: 'orders', sample: 0, expression: '{"s": "x@" & $string($)}' });
    expect(behindAt.status).toBe(200);
    expect(JSON.stringify(behindAt.body.output)).toContain(String(orders[6].id));
    const quoted = await api.post('/api/mappings/preview', { pipeline: 'orders', sample: 0, expression: '{"n": $number(email), "m": $number(customer.last_name)}' });
    expect(quoted.status).toBe(422);
    expect(quoted.body.error.code).toBe('mapping_failed');
    const whole = await api.post('/api/mappings/preview', { pipeline: 'orders', sample: 0, expression: '$number($string($))' });
    expect(whole.status).toBe(422);
    for (const r of [own, edited, out, copied, behindAt, quoted, whole]) expect(JSON.stringify(r.body)).not.toMatch(/buyer\d@example\.com|Norman|Chestnut|Louisville|6136120707/);

    // Given input, no pipeline: nothing masked.
    const given = await api.post('/api/mappings/preview', { entity: 'payment', expression: '$merge([$, {"amount": $money(amount, currency)}])', input: { externalId: 'p1', provider: 'x', orderNumber: '1', status: 'succeeded', amount: '10', currency: 'EUR', occurredAt: '2025-01-01T00:00:00Z', payerEmail: 'a@b.c' } });
    expect(given.body).toMatchObject({ masked: false, output: { amount: '10.00', payerEmail: 'a@b.c' }, validation: { valid: true } });

    // A syntax error: 422 mapping_failed with line and column.
    const broken = await api.post('/api/mappings/preview', { pipeline: 'orders', sample: 0, expression: '{\n  "a": total_price +\n}' });
    expect(broken.status).toBe(422);
    expect(broken.body.error).toMatchObject({ code: 'mapping_failed', details: { line: 3, column: expect.any(Number), position: expect.any(Number) } });

    // A file of the config, by path.
    const files = (await api.get('/api/mappings')).body.mappings;
    expect(files.map((m: any) => `${m.pipeline}/${m.stage}`)).toEqual(['orders/in', 'orders/out']);
    expect(files[0].source).toContain('orderNumber');
    const byFile = await api.post('/api/mappings/preview', { file: files[0].file, pipeline: 'orders', sample: 2 });
    expect(byFile.body.output.orderNumber).toBe('1005');
    expect((await api.post('/api/mappings/preview', { file: '/etc/passwd', entity: 'order', input: {} })).body.error.code).toBe('not_found');
    expect((await api.post('/api/mappings/preview', { pipeline: 'orders', sample: 9 })).status).toBe(404);
    // Any expression without a pipeline or entity: evaluated and shown, not validated.
    const free = await api.post('/api/mappings/preview', { expression: '$sumMoney(lines.price, "JPY")', input: { lines: [{ price: '1200' }, { price: '35' }] } });
    expect(free.status).toBe(200);
    expect(free.body).toMatchObject({ output: '1235', validation: null, masked: false });
    expect((await api.post('/api/mappings/preview', { expression: '$', entity: 'invoice', input: {} })).body.error.code).toBe('invalid_request');
    expect((await api.post('/api/mappings/preview', { input: {} })).body.error.code).toBe('invalid_request');
  });

  it('documents every admin route in /api/openapi.json, and documents none that does not exist', async () => {
    t = await openTestHub(config());
    const app = createApp(t.hub);
    const doc = (await adminClient(app).get('/api/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const served = new Set(app.routes
      .filter((r) => r.path.startsWith('/api/') && r.method !== 'ALL' && !r.path.includes('*'))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`));
    const documented = new Set(Object.entries(OPENAPI_PATHS).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
    expect([...served].sort()).toEqual([...documented].sort());
    expect(doc.paths).toEqual(JSON.parse(JSON.stringify(OPENAPI_PATHS)));
  });
});
