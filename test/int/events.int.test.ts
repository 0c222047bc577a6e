import { afterEach, describe, expect, it } from 'vitest';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { createApp, startServer } from '../../src/server.js';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { shopifyOrders } from '../helpers/mock-apis.js';
import { sseReader } from '../helpers/sse.js';

function config() {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      erp: { connector: 'odoo', baseUrl: 'https://acme.odoo.com', credentials: { database: 'acme', username: 'sync@acme.com', apiKey: 'key' } },
    },
    pipelines: {
      orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] },
      payments: { source: { connection: 'erp', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }] },
    },
  });
}

/** Shopify order `i` in a given state at a given time. */
function order(i: number, financial: string, at: string, fulfilled = false) {
  const o = shopifyOrders(i + 1)[i];
  return { ...o, financial_status: financial, fulfillment_status: fulfilled ? 'fulfilled' : null, updated_at: at, processed_at: at };
}

const open = (t: TestHub, headers: Record<string, string> = {}) =>
  createApp(t.hub).request('/api/events', { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers } });

describe('live order events', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('streams status changes and payment results as applied, and resumes after Last-Event-ID', async () => {
    t = await openTestHub(config());
    const orders = t.hub.config.pipelines.get('orders')!;
    await ingestRecords(t.hub, orders, [order(0, 'pending', '2025-03-01T10:00:00Z')]); // before anyone listens

    const res = await open(t);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const live = sseReader(res);
    expect((await live.next()).event).toBe('ready');

    await ingestRecords(t.hub, orders, [order(0, 'paid', '2025-03-01T10:05:00Z')]);
    await ingestRecords(t.hub, orders, [order(0, 'paid', '2025-03-01T10:06:00Z')]);         // same status: no event
    await ingestRecords(t.hub, orders, [order(0, 'pending', '2025-03-01T09:00:00Z')]);      // stale: not applied, no event
    await ingestRecords(t.hub, orders, [order(0, 'paid', '2025-03-01T11:00:00Z', true)]);
    await ingestRecords(t.hub, t.hub.config.pipelines.get('payments')!, [
      { id: 71, name: 'PBNK1/71', amount: 598.94, currency_id: [2, 'USD'], state: 'rejected', payment_type: 'inbound', partner_id: [7, 'B'], ref: false, memo: '1001', date: '2025-03-01', create_date: '2025-03-01 10:01:00', write_date: '2025-03-01 10:01:00' },
    ]);

    const first = await live.next();
    expect(first.event).toBe('order.status');
    expect(JSON.parse(first.data)).toMatchObject({ type: 'order.status', pipeline: 'orders', at: '2025-03-01T10:05:00.000Z', order: { orderNumber: '1001', previousStatus: 'pending_payment', status: 'paid', currency: 'USD' } });
    const second = await live.next();
    expect(JSON.parse(second.data).order).toMatchObject({ previousStatus: 'paid', status: 'shipped' });
    const third = await live.next();
    expect(third.event).toBe('payment.result');
    expect(JSON.parse(third.data)).toMatchObject({ payment: { externalId: '71', orderNumber: '1001', status: 'failed', amount: '598.94' } });
    expect(first.data + second.data + third.data).not.toMatch(/example\.com|Norman|Chestnut/);
    await live.close();

    // A client that saw only the first event resumes from its id and gets the other two.
    const resumed = sseReader(await open(t, { 'last-event-id': first.id! }));
    expect((await resumed.next()).event).toBe('ready');
    expect((await resumed.next()).id).toBe(second.id);
    expect((await resumed.next()).id).toBe(third.id);
    await resumed.close();
  });

  it('announces the order status a payment result moves, once, with the payment result', async () => {
    t = await openTestHub(config());
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'pending', '2025-03-01T10:00:00Z')]);
    const s = sseReader(await open(t));
    expect((await s.next()).event).toBe('ready');
    const payment = { id: 72, name: 'PBNK1/72', amount: 598.94, currency_id: [2, 'USD'], state: 'posted', payment_type: 'inbound', partner_id: [7, 'B'], ref: false, memo: '1001', date: '2025-03-01', create_date: '2025-03-01 10:02:00', write_date: '2025-03-01 10:02:00' };
    const payments = t.hub.config.pipelines.get('payments')!;
    await ingestRecords(t.hub, payments, [payment]);
    await ingestRecords(t.hub, payments, [payment]); // the same result again: nothing new to announce
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'pending', '2025-03-01T10:03:00Z')]); // the shop still says pending: the payment keeps it paid
    const orderEvent = await s.next();
    expect(orderEvent.event).toBe('order.status');
    expect(JSON.parse(orderEvent.data)).toMatchObject({ pipeline: 'payments', order: { orderNumber: '1001', previousStatus: 'pending_payment', status: 'paid' } });
    const paymentEvent = await s.next();
    expect(JSON.parse(paymentEvent.data)).toMatchObject({ type: 'payment.result', payment: { orderNumber: '1001', status: 'succeeded' } });
    // Nothing else was announced: the next event is the one written now.
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'paid', '2025-03-01T11:00:00Z', true)]);
    expect(JSON.parse((await s.next()).data).order).toMatchObject({ previousStatus: 'paid', status: 'shipped' });
    await s.close();
  });

  it('says when events after Last-Event-ID were trimmed away', async () => {
    t = await openTestHub(config());
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'pending', '2025-03-01T10:00:00Z')]);
    const s = sseReader(await open(t, { 'last-event-id': '1-0' }));
    const gap = await s.next();
    expect(gap.event).toBe('gap');
    expect(JSON.parse(gap.data)).toMatchObject({ lastEventId: '1-0', oldestKept: expect.stringMatching(/^\d+-\d+$/) });
    expect((await s.next()).event).toBe('ready');
    expect((await s.next()).event).toBe('order.status');
    await s.close();
  });

  it('ends open streams when the server closes, instead of waiting for their clients', async () => {
    t = await openTestHub(config());
    const server = await startServer(t.hub, { port: 0, host: '127.0.0.1' });
    const res = await fetch(`http://127.0.0.1:${server.port}/api/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const s = sseReader(res);
    expect((await s.next()).event).toBe('ready');
    expect(res.headers.get('connection')).toBe('close');
    const closed = server.close();
    await expect(s.next()).rejects.toThrow(/ended/);
    await closed;
  });

  it('needs the admin token', async () => {
    t = await openTestHub(config());
    expect((await createApp(t.hub).request('/api/events')).status).toBe(401);
  });
});
