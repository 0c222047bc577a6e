import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { startRun } from '../../src/jobs/pull.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';

const SHOP = 'https://acme.myshopify.com';

function config(server: Record<string, unknown> = { adminToken: ADMIN_TOKEN }) {
  return testConfig({
    server,
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: 'whsec-0123456789abcdef' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, http: { retryBaseMs: 1 } },
      erp: { connector: 'odoo', baseUrl: 'https://acme.odoo.com', credentials: { database: 'acme', username: 'sync@acme.com', apiKey: 'key' } },
    },
    pipelines: {
      orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true },
      payments: { source: { connection: 'erp', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }] },
    },
    jobs: { attempts: 1 },
  });
}

/** A Shopify order created at `created`, paid `paidAfterS` seconds later (or not paid). */
function order(i: number, currency: string, total: string, created: string, paidAfterS?: number) {
  const o = shopifyOrders(i + 1)[i];
  Object.assign(o, {
    currency, total_price: total, subtotal_price: total, total_tax: '0.00', total_discounts: '0.00', line_items: [],
    created_at: created, updated_at: created, financial_status: paidAfterS === undefined ? 'pending' : 'paid',
    processed_at: paidAfterS === undefined ? created : new Date(Date.parse(created) + paidAfterS * 1000).toISOString(),
  });
  return o;
}

function odooPayment(id: number, memo: string, state: string, amount: number, at: string) {
  return { id, name: `PBNK1/2025/${id}`, amount, currency_id: [2, 'USD'], state, payment_type: 'inbound', partner_id: [7, 'Buyer'], ref: false, memo, date: at.slice(0, 10), create_date: at, write_date: at };
}

describe('metrics and order figures', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    nock.cleanAll();
  });

  it('reports order counts, exact totals and averages per currency, payment success and created → paid per day', async () => {
    t = await openTestHub(config());
    const api = adminClient(createApp(t.hub));
    const orders = t.hub.config.pipelines.get('orders')!;
    await ingestRecords(t.hub, orders, [
      order(0, 'USD', '10.10', '2025-03-01T10:00:00Z', 60),
      order(1, 'USD', '0.20', '2025-03-01T11:00:00Z', 180),
      order(2, 'USD', '0.01', '2025-03-01T12:00:00Z'),
      order(3, 'JPY', '1000', '2025-03-01T13:00:00Z', 600),
      // A subscription renewal (Shopify's source_name for orders of a subscription contract).
      { ...order(4, 'EUR', '5.55', '2025-03-02T09:00:00Z', 120), source_name: 'subscription_contract' },
      // The customer of order 1001 again: a returning customer's order.
      { ...order(5, 'USD', '3.33', '2025-03-02T09:30:00Z', 30), email: 'buyer0@example.com', customer: { id: 300_000, email: 'buyer0@example.com' } },
    ]);
    // Order 1003 was unpaid in the shop; a first payment for it failed, the second (15 minutes after creation) went through.
    await ingestRecords(t.hub, t.hub.config.pipelines.get('payments')!, [odooPayment(2, '1003', 'rejected', 0.01, '2025-03-01 12:10:00')]);
    await ingestRecords(t.hub, t.hub.config.pipelines.get('payments')!, [odooPayment(1, '1003', 'posted', 0.01, '2025-03-01 12:15:00')]);

    const report = await api.get('/api/reports/orders?from=2025-03-01&to=2025-03-02');
    expect(report.status).toBe(200);
    const byName = Object.fromEntries(report.body.pipelines.map((p: any) => [p.pipeline, p]));
    const day1 = byName.orders.days[0];
    expect(day1).toMatchObject({
      day: '2025-03-01',
      orders: { count: 4, byCurrency: { USD: { count: 3, total: '10.31', average: '3.44' }, JPY: { count: 1, total: '1000', average: '1000' } } },
      payments: { succeeded: 4, failed: 0, successRate: 1 },
    });
    const usd = (count: number, total: string, average: string) => ({ count, byCurrency: { USD: { count, total, average } } });
    expect(byName.orders.totals).toEqual({
      orders: {
        count: 6, byCurrency: { EUR: { count: 1, total: '5.55', average: '5.55' }, JPY: { count: 1, total: '1000', average: '1000' }, USD: { count: 4, total: '13.64', average: '3.41' } },
        byCustomerType: {
          new: { count: 5, byCurrency: { EUR: { count: 1, total: '5.55', average: '5.55' }, JPY: { count: 1, total: '1000', average: '1000' }, USD: { count: 3, total: '10.31', average: '3.44' } } },
          returning: usd(1, '3.33', '3.33'),
          unknown: { count: 0, byCurrency: {} },
        },
        byRecurring: {
          true: { count: 1, byCurrency: { EUR: { count: 1, total: '5.55', average: '5.55' } } },
          false: { count: 5, byCurrency: { JPY: { count: 1, total: '1000', average: '1000' }, USD: { count: 4, total: '13.64', average: '3.41' } } },
        },
      },
      payments: { succeeded: 6, refunded: 0, failed: 0, successRate: 1 },
      // 30, 60, 120, 180, 600, 900 s: nearest-rank median and p95
      createdToPaid: { count: 6, medianSeconds: 120, p95Seconds: 900 },
    });
    expect(byName.payments.totals.payments).toEqual({ succeeded: 1, refunded: 0, failed: 1, successRate: 0.5 });

    // The same report as CSV: a row per pipeline, day (and total), split and currency, exact amounts.
    const csv = await createApp(t.hub).request('/api/reports/orders?from=2025-03-01&to=2025-03-02&format=csv', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('pipeline,entity,day,dimension,value,currency,orders,total,average,payments_succeeded,payments_refunded,payments_failed,created_to_paid_median_seconds');
    expect(lines).toContain('orders,order,2025-03-01,all,,USD,3,10.31,3.44,4,0,0,180');
    expect(lines).toContain('orders,order,total,customerType,returning,USD,1,3.33,3.33,,,,');
    expect(lines).toContain('orders,order,total,recurring,true,EUR,1,5.55,5.55,,,,');
    expect(lines).toContain('payments,payment,total,all,,,0,,,1,0,1,');
    expect((await api.get('/api/reports/orders?format=xml')).body.error.code).toBe('invalid_request');

    const one = await api.get('/api/reports/orders?from=2025-03-02&to=2025-03-02&pipeline=orders');
    expect(one.body.pipelines).toHaveLength(1);
    expect(one.body.pipelines[0].totals.orders.count).toBe(2);
    expect((await api.get('/api/reports/orders?from=2025-03-02&to=2025-03-01')).body.error.code).toBe('invalid_request');
    expect((await api.get('/api/reports/orders?from=2020-01-01&to=2025-01-01')).body.error.code).toBe('invalid_request');
    expect((await api.get('/api/reports/orders?pipeline=nope')).status).toBe(404);
  });

  it('serves Prometheus metrics from Redis behind the admin token', async () => {
    const orders = shopifyOrders(6);
    orders[5].currency = 'dollars';
    mockShopifyOrders(SHOP, orders);
    nock('https://api.hubapi.com').post('/crm/objects/2026-09/deals/batch/upsert').reply(429, { status: 'error', category: 'RATE_LIMITS' }, { 'retry-after': '1' });
    mockHubspotDeals();
    t = await openTestHub(config());
    t.startWorkers();
    const app = createApp(t.hub);
    const { runId } = await startRun(t.hub, 'orders', false);
    await eventually(async () => (await t!.hub.store.getRun(runId))?.finishedAt);
    await app.request('/webhooks/shop', { method: 'POST', body: '{}', headers: { 'x-shopify-hmac-sha256': 'forged', 'x-shopify-topic': 'orders/updated', 'content-type': 'application/json' } });
    await app.request('/webhooks/made-up-name', { method: 'POST', body: '{}' });

    expect((await app.request('/metrics')).status).toBe(401);
    const res = await app.request('/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value('synchub_webhooks_received_total{connection="shop",result="webhook_signature"}')).toBe(1);
    expect(value('synchub_webhooks_received_total{connection="(unknown)",result="webhook_unknown_connection"}')).toBe(1);
    expect(value('synchub_records_total{pipeline="orders",outcome="pushed"}')).toBe(5);
    expect(value('synchub_records_total{pipeline="orders",outcome="dead"}')).toBe(1);
    expect(value('synchub_push_duration_seconds_count{connection="crm"}')).toBe(1);
    expect(value('synchub_push_duration_seconds_bucket{le="+Inf",connection="crm"}') ?? value('synchub_push_duration_seconds_bucket{connection="crm",le="+Inf"}')).toBe(1);
    expect(value('synchub_rate_limit_waits_total{connection="crm",where="inline"}')).toBe(1);
    expect(value('synchub_rate_limit_wait_seconds_total{connection="crm",where="inline"}')).toBe(1);
    expect(value('synchub_breaker_state{connection="crm",state="closed"}')).toBe(1);
    expect(value('synchub_breaker_state{connection="crm",state="open"}')).toBe(0);
    expect(value('synchub_dead_letters{pipeline="orders"}')).toBe(1);
    expect(value('synchub_queue_jobs{queue="{push-crm}",state="completed"}')).toBe(1);
    expect(text).toContain('# TYPE synchub_push_duration_seconds histogram');
    expect(text).toContain('synchub_process_nodejs_version_info');

    await t.close();
    t = await openTestHub(config({}));
    expect((await createApp(t.hub).request('/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(404);
  });
});
