import { mkdirSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHOPIFY_API_VERSION } from '../../src/connectors/shopify/client.js';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { recomputeSegments } from '../../src/operations/segments/segments.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { ADMIN_TOKEN } from '../helpers/admin.js';
import { eventually, openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { mockHubspotDeals, shopifyOrders } from '../helpers/mock-apis.js';
import { ARTIFACTS, openChromium, type TestBrowser } from '../helpers/browser.js';

/** The admin page's approvals in headless Chromium (as admin-page.int.test.ts): approve one held order, reject another; segment sizes shown. */
const SHOP = 'https://acme.myshopify.com';

describe('approvals on the admin page', () => {
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
      pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], approval: { when: '$number(total) > 1000' } } },
      segments: { reportingCurrency: 'USD' },
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

  it('lists the held orders; Approve pushes one to the CRM, Reject cancels the other in the shop', async () => {
    const crm = mockHubspotDeals();
    const orders: Record<string, any>[] = shopifyOrders(2).map((o) => ({ ...o, total_price: '2500.00', subtotal_price: '2500.00', created_at: new Date().toISOString() }));
    const cancel = nock(SHOP).get(`/admin/api/${SHOPIFY_API_VERSION}/orders/${orders[1].id}.json`).reply(200, { order: { ...orders[1], cancelled_at: null } })
      .post(`/admin/api/${SHOPIFY_API_VERSION}/orders/${orders[1].id}/cancel.json`).reply(200, { order: { ...orders[1], cancelled_at: '2025-01-02T10:00:00-05:00' } });
    await ingestRecords(t.hub, t.hub.config.pipelines.get('orders')!, orders);

    await page.goto(`${base}/admin/login`);
    await page.fill('input[name=token]', ADMIN_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/admin`);

    const rows = page.locator('#approvals tbody tr');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(2);
    expect(await page.locator('#ap-total').textContent()).toBe('(2)');
    // Segments: two customers with one recent order each (equal values: the top scores), computed once.
    await recomputeSegments(t.hub);
    await page.reload();
    await expect.poll(() => page.locator('#segments tbody tr').first().locator('[data-segment="champions"]').textContent()).toBe('2');
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-segments.png'), fullPage: true });
    // The figures count the two orders by type (two customers' first orders).
    await expect.poll(() => page.locator('#order-types').textContent()).toBe('Customers: new 2, returning 0, unknown 0 · recurring 0 of 2');
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-approvals.png'), fullPage: true });

    // No name given: the API refuses and the page says why.
    const first = page.locator('#approvals tr[data-order="1001"]');
    await first.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('by (who decides) is required');

    await page.fill('#approver', 'ops@acme');
    await first.locator('.reason').fill('called the customer');
    await first.getByRole('button', { name: 'Approve' }).click();
    await eventually(() => crm.deals.has('1001'));
    // As a person would: act on the next row once the table shows the first decided (its rows are redrawn then).
    await expect.poll(() => rows.count()).toBe(1);

    const second = page.locator('#approvals tr[data-order="1002"]');
    // A redraw under way as the reason is typed (the first decision's) carries typed text over to
    // the new row, but one landing between Playwright finding the input and filling it leaves the
    // text in a row no longer shown: the reason is typed again until the row shown holds it.
    const secondReason = second.locator('.reason');
    await eventually(async () => {
      if ((await secondReason.inputValue()) !== 'fraud check failed') await secondReason.fill('fraud check failed');
      return (await secondReason.inputValue()) === 'fraud check failed';
    });
    await second.getByRole('button', { name: 'Reject' }).click();
    // The rejection is recorded first, then the cancel goes to the shop.
    await eventually(async () => (await t.hub.store.approvals.list('decided', 0, 10)).items.some((a) => a.cancel))
      .catch(async (err) => { throw new Error(`${err.message}; the page says: ${await page.locator('#ap-error').textContent()}`); });
    expect(cancel.isDone()).toBe(true);
    await expect.poll(() => rows.count()).toBe(0);
    expect(crm.deals.has('1002')).toBe(false);

    const decided = (await t.hub.store.approvals.list('decided', 0, 10)).items.map((a) => ({ order: a.orderNumber, state: a.state, cancel: a.cancel }));
    expect(decided).toEqual(expect.arrayContaining([{ order: '1001', state: 'approved', cancel: undefined }, { order: '1002', state: 'rejected', cancel: 'cancelled' }]));
    // The live events show both decisions.
    await expect.poll(() => page.locator('#events').textContent()).toMatch(/order 1002: awaiting_approval → rejected/);
  });
});
