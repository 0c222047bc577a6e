import { mkdirSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { oneTimeLoginLink } from '../../src/routes/admin-session.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals, mockShopifyOrders, shopifyOrders } from '../helpers/mock-apis.js';
import { ARTIFACTS, openChromium, type TestBrowser } from '../helpers/browser.js';

/**
 * The admin page end to end in headless Chromium (Debian's package; .ci/run installs it):
 * log in, see a pipeline, run it, replay a dead letter, edit a mapping and see the result change, log out.
 */
const SHOP = 'https://acme.myshopify.com';
const cents = (a: string) => BigInt(a.replace('.', ''));
const money = (c: bigint) => `${c / 100n}.${String(c % 100n).padStart(2, '0')}`;
const sumCents = (xs: string[]) => money(xs.reduce((s, x) => s + cents(x), 0n));
const avg = (xs: string[]) => money((xs.reduce((s, x) => s + cents(x), 0n) * 2n + BigInt(xs.length)) / (2n * BigInt(xs.length)));

describe('admin page in a browser', () => {
  let t: TestHub;
  let server: RunningServer;
  let context: BrowserContext;
  let page: Page;
  let browser: TestBrowser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await openTestHub(testConfig({
      server: { adminToken: ADMIN_TOKEN },
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, api: 'rest', credentials: { accessToken: 'shpat' } },
        crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
      },
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
      jobs: { attempts: 1 },
    }));
    t.startWorkers();
    server = await startServer(t.hub, { port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${server.port}`;
    browser = await openChromium();
    ({ context, page } = browser);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await t?.close();
    nock.cleanAll();
  });

  it('logs in, runs a pipeline, replays a dead letter, previews an edited mapping and erases a customer', async () => {
    // Created over the last days, so the figures chart has them.
    const orders = shopifyOrders(5).map((o, i): Record<string, any> => ({ ...o, created_at: new Date(Date.now() - (i % 3) * 86_400_000).toISOString() }));
    mockShopifyOrders(SHOP, orders);
    // HubSpot refuses order 1002 for good, once for the batch and once alone: it is dead-lettered.
    nock('https://api.hubapi.com').post('/crm/objects/2026-09/deals/batch/upsert', (b) => b.inputs.some((i: any) => i.id === '1002')).times(2)
      .reply(400, { status: 'error', message: 'Property values were not valid', category: 'VALIDATION_ERROR' });
    const crm = mockHubspotDeals();

    // Log in.
    await page.goto(`${base}/admin`);
    expect(page.url()).toBe(`${base}/admin/login`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-login.png') });
    await page.fill('input[name=token]', 'wrong-token');
    await page.click('button[type=submit]');
    await page.getByRole('alert').waitFor();
    await page.fill('input[name=token]', ADMIN_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/admin`);

    // See the pipeline and run it.
    const row = page.locator('tr[data-pipeline="orders"]');
    await row.waitFor();
    await expect.poll(() => row.locator('.last-run').textContent()).toBe('never');
    await row.getByRole('button', { name: 'Run now' }).click();
    await expect.poll(() => row.locator('.counts').textContent(), { timeout: 20_000 }).toBe('4 / 0 / 1');
    expect(crm.deals.size).toBe(4);

    // Replay the dead letter (HubSpot takes it now).
    nock.cleanAll();
    const crm2 = mockHubspotDeals();
    const letter = page.locator('#dead-letters tbody tr');
    await expect.poll(() => letter.count(), { timeout: 10_000 }).toBe(1);
    expect(await letter.textContent()).toContain('remote_rejected');
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-pipelines.png'), fullPage: true });
    await letter.getByRole('button', { name: 'Replay' }).click();
    await eventually(() => crm2.deals.has('1002'));
    await expect.poll(() => letter.count()).toBe(0);

    // Mapping playground: the pipeline's own mapping on the newest sample, then an edit.
    const output = page.locator('#pg-output');
    await page.reload(); // the samples list is read when the page loads: now it has what the run read
    expect(await page.locator('#pg-mapping option:checked').textContent()).toMatch(/^orders · in/);
    await expect.poll(() => output.textContent()).toContain('"orderNumber": "1005"');
    expect(await output.textContent()).toContain('"email": "b***@example.com"');
    expect(await page.locator('#pg-validation').textContent()).toContain('valid canonical order');
    await page.fill('#pg-expression', '{ "orderNumber": "X-" & $string(order_number), "total": total_price }');
    await expect.poll(() => output.textContent()).toContain('"orderNumber": "X-1005"');
    expect(await page.locator('#pg-validation').textContent()).toContain("must have required property 'externalId'");
    await page.fill('#pg-expression', '{ "orderNumber": ');
    await expect.poll(() => output.textContent()).toMatch(/mapping_failed at line 1, column \d+/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-playground.png'), fullPage: true });

    // Any expression, with no pipeline: evaluated on the input typed in, validated only once an entity is chosen.
    await page.selectOption('#pg-mapping', 'free');
    await page.fill('#pg-input', '{ "items": [ { "price": "9.99", "qty": 3 }, { "price": "0.01", "qty": 1 } ] }');
    await page.fill('#pg-expression', '{ "total": $sumMoney(items.$fromMinor($toMinor(price, "USD") * qty, "USD"), "USD") }');
    await expect.poll(() => output.textContent()).toContain('"total": "29.98"');
    expect(await page.locator('#pg-validation').textContent()).toContain('not validated');
    await page.selectOption('#pg-entity', 'order');
    await expect.poll(() => page.locator('#pg-validation').textContent()).toContain("must have required property 'externalId'");
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-playground-free.png'), fullPage: true });

    // The figures chart and totals have this run's orders (exact total of the five).
    expect(await page.locator('#chart svg rect').count()).toBe(14);
    const heights = await page.locator('#chart svg rect').evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))));
    expect(heights.filter((h) => h > 0)).toHaveLength(3);
    const totals = await page.locator('#totals tbody tr').first().textContent();
    expect(totals).toBe(`ordersUSD5${sumCents(orders.map((o) => o.total_price))}${avg(orders.map((o) => o.total_price))}`);

    // A status change applied now shows up in the live events.
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, [{ ...orders[0], fulfillment_status: 'fulfilled', updated_at: new Date().toISOString() }]);
    await expect.poll(() => page.locator('#events li').first().textContent()).toMatch(/orders order 1001: paid → shipped \(\d+\.\d\d USD\)/);

    // Find order 1002 by its number: its timeline has the refusal, the replay and the push after it.
    await page.fill('#rec-q', '#1002');
    await page.getByRole('button', { name: 'Search' }).click();
    const steps = page.locator('#rec-steps tbody tr');
    await expect.poll(() => page.locator('#rec-title').textContent()).toBe(`order order:shop:${orders[1].id}`);
    const stepNames = async () => steps.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-step')));
    expect(await stepNames()).toEqual(['received', 'mapped', 'validated', 'status', 'queued', 'dead_lettered', 'replayed', 'received', 'mapped', 'validated', 'queued', 'pushed']);
    expect(await steps.filter({ hasText: 'dead lettered' }).textContent()).toContain('push → crm: remote_rejected');
    expect(await steps.last().textContent()).toContain(`crm: ${crm2.deals.get('1002')!.id}`);
    expect(await page.locator('#rec-links').textContent()).toContain(`shop: ${orders[1].id}`);
    // By a customer's email, through its blind index: the result lists the one order; the page shows no address.
    await page.fill('#rec-q', 'BUYER0@example.com');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#rec-results li').first().getAttribute('data-key')).toBe(`order:shop:${orders[0].id}`);
    await expect.poll(() => stepNames()).toContain('status');
    expect(await steps.filter({ hasText: '→ shipped' }).textContent()).toContain('paid → shipped');
    expect(await page.locator('#records-section').textContent()).not.toContain('buyer0');
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-record-timeline.png'), fullPage: true });

    // Erase one customer from the form: a dry run first changes nothing, then (confirmed) the erasure is in the history.
    await page.fill('#erase-email', 'buyer2@example.com');
    await page.check('#erase-dry');
    await page.click('#erase-form button[type=submit]');
    await expect.poll(() => page.locator('#erase-result').textContent()).toMatch(/^erased \(dry run, nothing changed\): .*orderSnapshots 1/);
    expect(await t.hub.store.orders.orderSnapshot(`order:shop:${orders[2].id}`)).not.toBeNull();
    page.once('dialog', (d) => void d.accept());
    await page.uncheck('#erase-dry');
    await page.click('#erase-form button[type=submit]');
    await expect.poll(() => page.locator('#erasures tbody tr').count()).toBe(1);
    expect(await page.locator('#erasures tbody tr').textContent()).toMatch(/erased.*orderSnapshots 1.*api/);
    expect(await page.locator('#erase-email').inputValue()).toBe('');
    expect(await t.hub.store.orders.orderSnapshot(`order:shop:${orders[2].id}`)).toBeNull();
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-erasure.png'), fullPage: true });

    // A data request a shop sent (its record as the ingest job keeps it: no personal values) is listed with its report.
    const report = { found: true, records: [{ entity: 'order', count: 2, fields: ['email', 'total'], firstSeen: '2026-11-01T00:00:00.000Z' }], systems: [{ connection: 'crm', connector: 'hubspot', entity: 'order', records: 2 }], deadLetters: 0 };
    const pr = { id: 'a'.repeat(32), connection: 'shop', topic: 'customers/data_request', kind: 'customer_data_request', requestId: '9999', receivedAt: new Date().toISOString(), handledAt: new Date().toISOString(), report };
    await t.hub.redis.multi().set(t.hub.store.k('privacy', pr.id), JSON.stringify(pr)).zadd(t.hub.store.k('privacy', 'all'), Date.now(), pr.id).exec();
    // And an order the shop reported deleted (a tombstone, as an orders/delete webhook leaves it).
    await t.hub.store.recordDeletions(undefined, 'shop', 'order', [{ id: '450789469', deletedAt: new Date().toISOString() }]);
    await page.reload();
    await expect.poll(() => page.locator('#deletions tbody tr').count()).toBe(1);
    expect(await page.locator('#deletions tbody tr').textContent()).toMatch(/shop order.*450789469.*webhook/);
    await expect.poll(() => page.locator('#privacy-requests tbody tr').count()).toBe(1);
    expect(await page.locator('#privacy-requests tbody tr').textContent()).toMatch(/customers\/data_request.*9999.*holds 2 order; systems crm/);
    await page.locator('#privacy-requests tbody tr').getByRole('button', { name: 'Report' }).click();
    await expect.poll(() => page.locator('#privacy-report').textContent()).toContain('"connector": "hubspot"');

    // The queue dashboard opens with the same login.
    await page.goto(`${base}/admin/queues`);
    await page.getByText('{push-crm}').first().click();
    await page.getByText(/read-only/i).first().waitFor();
    await page.getByText('Completed').first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-queues.png'), fullPage: true });

    // Log out from the page: the session is revoked, so the same cookie sent again opens nothing.
    const [session] = (await context.cookies(base)).filter((c) => c.name === 'synchub_admin');
    await page.goto(`${base}/admin`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${base}/admin/login`);
    expect((await fetch(`${base}/api/pipelines`, { headers: { cookie: `synchub_admin=${session.value}` } })).status).toBe(401);
  });

  it('the one-time login link the demo prints opens the admin page once, and is refused the second time', async () => {
    await context.clearCookies();
    const link = await oneTimeLoginLink(t.hub, base);
    expect(link).not.toContain(ADMIN_TOKEN);
    await page.goto(link);
    await page.waitForURL(`${base}/admin`);
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.getByText('orders').first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-login-link.png') });

    // The same link again, from a browser without a session: the login form with the reason, no session.
    await context.clearCookies();
    const second = await page.goto(link);
    expect(second?.status()).toBe(401);
    await page.getByRole('alert').filter({ hasText: 'used already or has expired' }).waitFor();
    expect((await context.cookies(base)).filter((c) => c.name === 'synchub_admin')).toEqual([]);
    await page.goto(`${base}/admin`);
    expect(page.url()).toBe(`${base}/admin/login`);
  });
});
