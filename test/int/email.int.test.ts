import { Writable } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { Hub } from '../../src/jobs/hub.js';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { startWorkers } from '../../src/jobs/workers.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, testRedisUrl, type TestHub } from '../helpers/hub.js';
import { shopifyOrders } from '../helpers/mock-apis.js';
import { selfSignedCert, startSmtp, type TestSmtp } from '../helpers/smtp.js';

const USER = 'synchub-relay';
const PASSWORD = 'smtp-password-0123';
let cert: { key: string; cert: string };
beforeAll(() => {
  cert = selfSignedCert();
});

function config(sink: Record<string, unknown>) {
  return testConfig({
    server: { adminToken: ADMIN_TOKEN },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat' } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], notify: [sink] } },
  });
}

const emailSink = (smtp: TestSmtp, extra: Record<string, unknown> = {}) => ({
  type: 'email',
  smtp: { host: '127.0.0.1', port: smtp.port, tls: 'starttls', user: USER, password: PASSWORD, ca: cert.cert },
  from: 'Shop orders <orders@shop.example>', to: ['ops@shop.example'], events: ['order.paid', 'order.cancelled'],
  attempts: 3, backoffMs: 20, ...extra,
});

/** An order of the Shopify fixture in EUR, with a name that is HTML. */
const order = (i: number, financial: string, at: string, total = '1234567.89') => ({
  ...shopifyOrders(i + 1)[i], currency: 'EUR', presentment_currency: 'EUR', total_price: total, subtotal_price: total, financial_status: financial, updated_at: at, processed_at: at,
  customer: { ...shopifyOrders(i + 1)[i].customer, first_name: '<b>Zoë & "Co"</b>', last_name: 'Ångström' },
});

describe('email notifications through a real SMTP server', () => {
  let t: TestHub | undefined;
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    await t?.close();
    t = undefined;
    for (const c of cleanup.splice(0)) await c();
  });

  it('mails an order event over STARTTLS: headers, both parts, escaping, the amount in the locale, the customer as recipient', async () => {
    const smtp = await startSmtp({ tls: 'starttls', cert, users: { [USER]: PASSWORD } });
    cleanup.push(smtp.close);
    t = await openTestHub(config(emailSink(smtp, { toCustomer: true, locale: 'de-DE', templates: { 'order.paid': { subject: 'Bezahlt: {{ orderNumber }} ({{ amount }})' } } })));
    t.startWorkers();
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'pending', '2025-03-01T10:00:00Z'), order(1, 'paid', '2025-03-01T10:00:00Z')]);

    const mail = await eventually(() => smtp.received[0]);
    expect(smtp.logins).toEqual([{ user: USER, secure: true }]);
    expect(mail.secure).toBe(true);
    expect(mail.envelope.to.sort()).toEqual(['buyer1@example.com', 'ops@shop.example']);
    const p = mail.parsed;
    expect(p.subject).toBe('Bezahlt: 1002 (1.234.567,89\u00a0€)');
    expect(p.from?.value).toEqual([{ name: 'Shop orders', address: 'orders@shop.example' }]);
    expect(p.messageId).toMatch(/^<synchub\.[A-Za-z0-9_-]{32}@shop\.example>$/);
    expect(p.headers.get('x-synchub-event-id')).toMatch(/^order:.*:paid:/);
    expect(p.headers.get('x-synchub-attempt')).toBe('1');
    expect(p.text).toContain('Order 1002 is now paid.');
    expect(p.text).toContain('1.234.567,89\u00a0€');
    expect(p.text).toContain('Customer: <b>Zoë & "Co"</b> Ångström <buyer1@example.com>');
    expect(p.html).toContain('&lt;b&gt;Zoë &amp; &quot;Co&quot;&lt;/b&gt; Ångström &lt;buyer1@example.com&gt;');
    expect(p.html).not.toContain('<b>Zoë');
    expect(p.html).toContain('<strong>1002</strong>');
    // Only order.paid and order.cancelled are mailed: the pending order sent nothing.
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.received).toHaveLength(1);
  });

  it('retries a 451 with the same Message-ID and sends one mail; a run of the job after acceptance sends nothing', async () => {
    const smtp = await startSmtp({ tls: 'starttls', cert, users: { [USER]: PASSWORD } });
    cleanup.push(smtp.close);
    smtp.plan.push(451);
    t = await openTestHub(config(emailSink(smtp)));
    t.startWorkers();
    const orders = t.hub.config.pipelines.get('orders')!;
    await ingestRecords(t.hub, orders, [order(0, 'paid', '2025-03-01T10:00:00Z')]);

    const mail = await eventually(() => smtp.received[0]);
    expect(mail.parsed.headers.get('x-synchub-attempt')).toBe('2');
    expect(smtp.refused).toHaveLength(1);
    expect(smtp.refused[0].messageId).toBe(mail.parsed.messageId);
    const done = await eventually(async () => (await t!.hub.notifyQueue.getCompleted()).find((j) => j.returnvalue?.sent));
    expect(done.returnvalue).toMatchObject({ sent: true, attempt: 2, accepted: 1, rejected: 0, response: expect.stringMatching(/^250/) });

    // The job run again (its worker killed after the server accepted and the hub recorded it, before the
    // queue marked it done; or the same event ingested again under a new job): nothing more is sent.
    const again = await t.hub.notifyQueue.add('email', done.data, { attempts: 1 });
    const rerun = await eventually(async () => (await t!.hub.notifyQueue.getJob(again.id!))?.returnvalue);
    expect(rerun).toMatchObject({ sent: false, reason: 'sent before', messageId: mail.parsed.messageId });
    await ingestRecords(t.hub, orders, [order(0, 'paid', '2025-03-01T10:00:00Z')]);
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.received).toHaveLength(1);
  });

  it('dead-letters a mail refused for good (5xx) at once, with the answer scrubbed; a replay sends it', async () => {
    const smtp = await startSmtp({ tls: 'starttls', cert, users: { [USER]: PASSWORD } });
    cleanup.push(smtp.close);
    smtp.plan.push(554);
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }) });
    const hub = await Hub.open(config(emailSink(smtp, { toCustomer: true })), logger, testRedisUrl());
    const workers = startWorkers(hub);
    cleanup.push(async () => { await workers.close(true); await hub.close(); });
    const api = adminClient(createApp(hub));
    await ingestRecords(hub, hub.config.pipelines.get('orders')!, [order(0, 'paid', '2025-03-01T10:00:00Z')]);

    const dl = await eventually(async () => (await api.get('/api/dead-letters?step=notify')).body.items[0]);
    expect(smtp.refused).toHaveLength(1);
    expect(dl).toMatchObject({ step: 'notify', connection: 'email', target: 'notify[0]', attempts: 1, error: { code: 'remote_rejected' } });
    expect(dl.error.message).toMatch(/^smtp 127\.0\.0\.1:\d+ DATA answered 554 5\.7\.1 Message refused for \[email\]/);
    const failed = await hub.notifyQueue.getFailed();
    const everything = JSON.stringify({ dl, failed: failed.map((j) => j.failedReason), logs: lines });
    expect(everything).not.toMatch(/bob@example\.com|buyer0@example\.com|Zoë|Ångström/);

    expect((await api.post(`/api/dead-letters/${dl.id}/replay`)).status).toBe(200);
    const mail = await eventually(() => smtp.received[0]);
    expect(mail.envelope.to.sort()).toEqual(['buyer0@example.com', 'ops@shop.example']);
    expect(mail.parsed.messageId).toBe(smtp.refused[0].messageId);
    expect(JSON.stringify(lines)).not.toMatch(/buyer0@example\.com|Zoë|Ångström/);
  });

  it('refuses to log in over a server that offers no STARTTLS, and sends over implicit TLS', async () => {
    const plain = await startSmtp({ tls: 'none', users: { [USER]: PASSWORD } });
    cleanup.push(plain.close);
    t = await openTestHub(config(emailSink(plain, { attempts: 1 })));
    t.startWorkers();
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'paid', '2025-03-01T10:00:00Z')]);
    const dl = await eventually(async () => (await t!.hub.store.listDeadLetters({})).items[0]);
    // The server cannot do STARTTLS: refused for good (5xx), dead-lettered without a login.
    expect(dl.error).toMatchObject({ code: 'remote_rejected', message: expect.stringMatching(/ STARTTLS answered 500 .*\(ETLS\)$/) });
    expect(plain.logins).toEqual([]);
    expect(plain.received).toEqual([]);
    await t.close();

    const tls = await startSmtp({ tls: 'implicit', cert, users: { [USER]: PASSWORD } });
    cleanup.push(tls.close);
    t = await openTestHub(config({ ...emailSink(tls), smtp: { host: '127.0.0.1', port: tls.port, tls: 'implicit', user: USER, password: PASSWORD, ca: cert.cert } }));
    t.startWorkers();
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'paid', '2025-03-01T10:00:00Z')]);
    const mail = await eventually(() => tls.received[0]);
    expect(mail.secure).toBe(true);
    expect(tls.logins).toEqual([{ user: USER, secure: true }]);
  });

  it('sends a local relay mail in plaintext without credentials', async () => {
    const relay = await startSmtp({ tls: 'none' });
    cleanup.push(relay.close);
    t = await openTestHub(config({ ...emailSink(relay), smtp: { host: '127.0.0.1', port: relay.port, tls: 'none' } }));
    t.startWorkers();
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [order(0, 'paid', '2025-03-01T10:00:00Z', '100.10')]);
    const mail = await eventually(() => relay.received[0]);
    expect(mail.secure).toBe(false);
    expect(mail.parsed.subject).toBe('Order 1001: paid');
    expect(mail.parsed.text).toContain('€100.10');
  });

  it('digest: events kept sealed in Redis survive a worker stop, then go in one mail', async () => {
    const smtp = await startSmtp({ tls: 'starttls', cert, users: { [USER]: PASSWORD } });
    cleanup.push(smtp.close);
    t = await openTestHub(config(emailSink(smtp, { events: ['order.*'], digest: { everyMinutes: 60 } })));
    t.startWorkers();
    const orders = t.hub.config.pipelines.get('orders')!;
    await ingestRecords(t.hub, orders, [order(0, 'pending', '2025-03-01T10:00:00Z', '10.00'), order(1, 'paid', '2025-03-01T10:01:00Z', '0.30')]);
    await ingestRecords(t.hub, orders, [order(0, 'paid', '2025-03-01T10:05:00Z', '10.00')]);
    await eventually(async () => (await t!.hub.notifyQueue.getCompleted()).filter((j) => j.name === 'email').length === 3);

    // Kept in Redis, sealed; the worker stops before the window closes.
    const pendingKeys = await t.hub.redis.keys(`${t.hub.config.redis.prefix}:notify:digest:*`);
    expect(pendingKeys).toHaveLength(1);
    const kept = await t.hub.redis.hvals(pendingKeys[0]);
    expect(kept).toHaveLength(3);
    for (const v of kept) expect(v).toMatch(/^enc:v1:/);
    await t.workers!.close();
    expect(smtp.received).toHaveLength(0);

    // A new worker; the window's flush (delayed to the window's end) is made due now.
    t.startWorkers();
    // One flush per window the events fell in: two when the run crossed a window's edge (an hour
    // here). The first takes every kept event; a later one finds nothing left and sends nothing.
    const flush = (await t.hub.notifyQueue.getDelayed()).filter((j) => j.name === 'digest');
    expect(flush.length).toBeGreaterThanOrEqual(1);
    expect(flush.length).toBeLessThanOrEqual(2);
    for (const j of flush) await j.promote();
    const mail = await eventually(() => smtp.received[0]);
    expect(mail.envelope.to).toEqual(['ops@shop.example']);
    expect(mail.parsed.subject).toBe('3 order events in orders');
    expect(mail.parsed.headers.get('x-synchub-events')).toBe('3');
    const text = mail.parsed.text!;
    expect(text.indexOf('order 1001  order pending payment  €10.00')).toBeGreaterThan(-1);
    expect(text.indexOf('order 1002  order paid  €0.30')).toBeGreaterThan(text.indexOf('order 1001  order pending payment'));
    expect(text).toContain('order 1001  order paid  €10.00');
    expect(mail.parsed.html).toContain('<td>1002</td>');
    expect(await t.hub.redis.keys(`${t.hub.config.redis.prefix}:notify:digest:*`)).toEqual([]);

    // The flush run again sends nothing more.
    await t.hub.notifyQueue.add('digest', flush[0].data, { attempts: 1 });
    await new Promise((r) => setTimeout(r, 500));
    expect(smtp.received).toHaveLength(1);
  });
});
