import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { verifyWebhookSignature } from '../../src/notify/webhook.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { shopifyOrders } from '../helpers/mock-apis.js';

const SECRET = 'whsec_synchub_test_0123456789';
const RABBIT = 'amqp://guest:guest@127.0.0.1:5672';

function config(notify: Record<string, unknown>[]) {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], notify } },
  });
}

const order = (i: number, financial: string, at: string, fulfilled = false) =>
  ({ ...shopifyOrders(i + 1)[i], financial_status: financial, fulfillment_status: fulfilled ? 'fulfilled' : null, updated_at: at, processed_at: at });

interface Received { headers: IncomingMessage['headers']; body: string }

/** A receiver that answers each delivery with the next status of `plan` (the last one repeats). */
async function receiver(plan: number[]) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(plan[Math.min(received.length - 1, plan.length - 1)], { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/synchub`, received, plan, close: () => new Promise((r) => server.close(r)) };
}

describe('notification sinks', () => {
  let t: TestHub | undefined;
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    await t?.close();
    t = undefined;
    for (const c of cleanup.splice(0)) await c();
  });

  it('posts signed events to a webhook, retrying with backoff until the receiver takes them', async () => {
    const hook = await receiver([500, 503, 200]);
    cleanup.push(hook.close);
    t = await openTestHub(config([{ type: 'webhook', url: hook.url, secret: SECRET, attempts: 4, backoffMs: 20 }]));
    t.startWorkers();
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'paid', '2025-03-01T10:00:00Z')]);

    await eventually(() => hook.received.length === 3);
    const ids = new Set(hook.received.map((r) => r.headers['x-synchub-event-id']));
    expect(ids.size).toBe(1);
    expect(hook.received.map((r) => r.headers['x-synchub-attempt'])).toEqual(['1', '2', '3']);
    const last = hook.received[2];
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers['x-synchub-event']).toBe('order.status');
    expect(last.headers['x-synchub-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, String(last.headers['x-synchub-signature']), last.body)).toBe(true);
    expect(verifyWebhookSignature('another-secret-of-16+', String(last.headers['x-synchub-signature']), last.body)).toBe(false);
    expect(verifyWebhookSignature(SECRET, String(last.headers['x-synchub-signature']), last.body.replace('1001', '1002'))).toBe(false);
    expect(JSON.parse(last.body)).toMatchObject({ type: 'order.status', pipeline: 'orders', order: { orderNumber: '1001', status: 'paid' } });
    expect(last.body).not.toMatch(/example\.com/);
    expect((await t.hub.store.listDeadLetters({})).total).toBe(0);
  });

  it('dead-letters an event after the last attempt; a replay delivers it once the receiver is back', async () => {
    const hook = await receiver([503]);
    cleanup.push(hook.close);
    t = await openTestHub(config([{ type: 'webhook', url: hook.url, secret: SECRET, attempts: 2, backoffMs: 20 }]));
    t.startWorkers();
    const api = adminClient(createApp(t.hub));
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'paid', '2025-03-01T10:00:00Z')]);

    const dl = await eventually(async () => (await api.get('/api/dead-letters?step=notify')).body.items[0]);
    expect(hook.received).toHaveLength(2);
    expect(dl).toMatchObject({ pipeline: 'orders', step: 'notify', target: 'notify[0]', attempts: 2, error: { code: 'remote_unavailable', message: expect.stringContaining('503') } });
    const shown = (await api.get(`/api/dead-letters/${dl.id}`)).body;
    expect(shown.source).toMatchObject({ type: 'order.status', order: { orderNumber: '1001' } });

    hook.plan.splice(0, hook.plan.length, 503, 503, 200);
    expect((await api.post(`/api/dead-letters/${dl.id}/replay`)).status).toBe(200);
    await eventually(() => hook.received.length === 3);
    expect(hook.received[2].headers['x-synchub-event-id']).toBe(hook.received[0].headers['x-synchub-event-id']);
    expect((await api.get('/api/dead-letters?step=notify')).body.total).toBe(0);
  });

  it('publishes to a RabbitMQ topic exchange with routing key order.<status>, confirmed by the broker', async () => {
    const run = randomUUID().slice(0, 8);
    const exchange = `synchub.test.${run}`;
    const conn = await amqp.connect(RABBIT);
    const ch = await conn.createChannel();
    cleanup.push(async () => {
      await ch.deleteQueue(`synchub.test.${run}.paid`).catch(() => {});
      await ch.deleteQueue(`synchub.test.${run}.all`).catch(() => {});
      await ch.deleteExchange(exchange).catch(() => {});
      await conn.close();
    });
    await ch.assertExchange(exchange, 'topic', { durable: true });
    const paidQ = (await ch.assertQueue(`synchub.test.${run}.paid`, { exclusive: true })).queue;
    const allQ = (await ch.assertQueue(`synchub.test.${run}.all`, { exclusive: true })).queue;
    await ch.bindQueue(paidQ, exchange, 'order.paid');
    await ch.bindQueue(allQ, exchange, 'order.*');
    const got: Record<string, amqp.ConsumeMessage[]> = { paid: [], all: [] };
    await ch.consume(paidQ, (m) => m && got.paid.push(m), { noAck: true });
    await ch.consume(allQ, (m) => m && got.all.push(m), { noAck: true });

    t = await openTestHub(config([{ type: 'rabbitmq', url: RABBIT, exchange, backoffMs: 20 }]));
    t.startWorkers();
    const orders = t.hub.config.pipelines.get('orders')!;
    await ingestRecords(t.hub, orders, [order(0, 'pending', '2025-03-01T10:00:00Z'), order(1, 'paid', '2025-03-01T10:00:00Z')]);
    await ingestRecords(t.hub, orders, [order(0, 'paid', '2025-03-01T10:05:00Z')]);
    await ingestRecords(t.hub, orders, [order(0, 'paid', '2025-03-01T11:00:00Z', true)]);

    await eventually(() => got.all.length === 4);
    expect(got.all.map((m) => m.fields.routingKey).sort()).toEqual(['order.paid', 'order.paid', 'order.pending_payment', 'order.shipped']);
    expect(got.paid.map((m) => JSON.parse(m.content.toString()).order.orderNumber).sort()).toEqual(['1001', '1002']);
    const shipped = got.all.find((m) => m.fields.routingKey === 'order.shipped')!;
    expect(shipped.properties).toMatchObject({ contentType: 'application/json', type: 'order.status', deliveryMode: 2 });
    expect(JSON.parse(shipped.content.toString())).toMatchObject({ id: shipped.properties.messageId, order: { orderNumber: '1001', previousStatus: 'paid', status: 'shipped' } });
    // The hub declared the exchange durable and topic-typed (a passive check fails otherwise).
    await ch.checkExchange(exchange);
  });
});
