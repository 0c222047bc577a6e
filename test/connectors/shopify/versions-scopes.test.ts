/**
 * Versions and scopes (issue 16, item 6), with nock answers shaped like shopify.dev's:
 * - `X-Shopify-API-Version` names the version that executed a request; an unsupported one
 *   "falls forward" to the oldest supported (api/usage/versioning): warned once per connection;
 * - `currentAppInstallation { accessScopes { handle } }` (objects/AppInstallation), against what
 *   the pipelines need (write implies read: api/usage/access-scopes);
 * - without read_all_orders only 60 days of orders are visible (objects/Order): said on a full pull;
 * - withheld protected customer data (apps/launch/protected-customer-data): data with nulls and
 *   errors naming each withheld field; reported once, no empty contacts.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shopify } from '../../../src/connectors/shopify/index.js';
import { SIXTY_DAYS } from '../../../src/connectors/shopify/scopes.js';
import { describeChecks, inspectConnections } from '../../../src/admin/connection-check.js';
import { RemoteRejectedError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/core/logger.js';
import { testConfig } from '../../helpers/hub.js';
import { fixture } from '../../helpers/mock-apis.js';
import { testConnection } from '../../helpers/connection.js';

const SHOP = 'https://acme.myshopify.com';
const cost = { cost: { requestedQueryCost: 12, actualQueryCost: 12, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1988, restoreRate: 100 } } };
const scopes = (...handles: string[]) => ({ data: { currentAppInstallation: { accessScopes: handles.map((handle) => ({ handle })) } }, extensions: cost });
const isScopes = (b: any) => /currentAppInstallation/.test(b.query);
const isOrders = (b: any) => /orders\(first: \$first/.test(b.query);
const isCustomers = (b: any) => /customers\(first: \$first/.test(b.query);

function capture() {
  const lines: any[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (s: string) => { lines.push(JSON.parse(s)); } } });
  return { logger, warnings: () => lines.filter((l) => l.level === 40) };
}

function client(logger: ReturnType<typeof createLogger>, apiVersion = '2026-10') {
  return shopify.create(testConnection({ name: 'shop', connector: 'shopify', baseUrl: SHOP, credentials: { accessToken: 'shpat_test' }, options: { apiVersion, api: 'graphql', backfill: 'pages' } }), { logger });
}
const page = (field: string, nodes: unknown[]) => ({ data: { [field]: { nodes, pageInfo: { hasNextPage: false, endCursor: null } } }, extensions: cost });

describe('shopify API version, scopes and protected data', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('warns once per connection when Shopify answers with another version than asked (fall-forward), and says so in inspect', async () => {
    const { logger, warnings } = capture();
    nock(SHOP).persist().post('/admin/api/2025-01/graphql.json').reply(200, (_u, b: any) => (isScopes(b) ? scopes('read_orders', 'read_all_orders') : page('customers', [])), { 'x-shopify-api-version': '2025-04' });
    const c = client(logger, '2025-01');
    for (let i = 0; i < 3; i++) await c.pull('customer', { cursor: { since: '2025-01-01T00:00:00Z' }, pageSize: 10 });
    const inspection = await c.inspect!([{ pipeline: 'orders', entity: 'order', role: 'source' }]);
    const falls = warnings().filter((w) => w.notice === 'api-version:2025-01:2025-04');
    expect(falls).toHaveLength(1);
    expect(falls[0]).toMatchObject({ connection: 'shop', asked: '2025-01', served: '2025-04' });
    expect(falls[0].msg).toContain('Shopify answered with API version 2025-04, not 2025-01 as asked');
    expect(inspection).toEqual({ problems: [], notices: [expect.stringContaining('API version 2025-04, not 2025-01')] });

    // The version asked is the version that answers: no warning at all.
    nock.cleanAll();
    const quiet = capture();
    nock(SHOP).post('/admin/api/2026-10/graphql.json').reply(200, page('customers', []), { 'x-shopify-api-version': '2026-10' });
    await client(quiet.logger).pull('customer', { cursor: { since: '2025-01-01T00:00:00Z' }, pageSize: 10 });
    expect(quiet.warnings()).toEqual([]);
  });

  it('says which missing scope breaks which pipeline; write scopes cover reading; read_all_orders missing is a notice', async () => {
    nock(SHOP).post('/admin/api/2026-10/graphql.json', isScopes).reply(200, scopes('read_orders', 'write_customers'), { 'x-shopify-api-version': '2026-10' });
    const c = client(capture().logger);
    const report = await c.inspect!([
      { pipeline: 'orders', entity: 'order', role: 'source' },
      { pipeline: 'customers', entity: 'customer', role: 'source' },
      { pipeline: 'payments', entity: 'order', role: 'target' },
      { pipeline: 'contacts', entity: 'customer', role: 'target' },
    ]);
    expect(report.problems).toEqual(['missing scope write_orders: pipeline payments cannot write back orders']);
    expect(report.notices).toEqual([`${SIXTY_DAYS} (pipeline orders)`]);
  });

  it('synchub check prints the report and fails on a missing scope; an unreachable shop is said, not a failure', async () => {
    const config = testConfig({
      connections: {
        shop: { connector: 'shopify', baseUrl: SHOP, credentials: { accessToken: 'shpat_x' }, api: 'graphql', backfill: 'pages' },
        stripe: { connector: 'stripe', credentials: { secretKey: 'sk_test_x', webhookSecret: 'whsec_x' } },
      },
      pipelines: {
        payments: { source: { connection: 'stripe', entity: 'payment' }, targets: [{ connection: 'shop', entity: 'order' }], webhooks: true },
      },
    });
    nock(SHOP).post('/admin/api/2026-10/graphql.json', isScopes).reply(200, scopes('read_orders'), { 'x-shopify-api-version': '2026-10' });
    const checks = await inspectConnections(config, capture().logger);
    expect(describeChecks(checks)).toEqual({ lines: ['  shop: PROBLEM: missing scope write_orders: pipeline payments cannot write back orders'], broken: true });

    nock(SHOP).post('/admin/api/2026-10/graphql.json').times(3).reply(503, 'Service Unavailable');
    const down = describeChecks(await inspectConnections(config, capture().logger));
    expect(down.broken).toBe(false);
    expect(down.lines).toEqual([expect.stringMatching(/^ {2}shop: could not ask the remote system: .*503/)]);
  });

  it('a full order pull without read_all_orders says it could see only 60 days, once in the log; an increment asks nothing', async () => {
    const { logger, warnings } = capture();
    const asked: string[] = [];
    nock(SHOP).persist().post('/admin/api/2026-10/graphql.json').reply(200, (_u, b: any) => {
      asked.push(isScopes(b) ? 'scopes' : isOrders(b) ? 'orders' : 'other');
      return isScopes(b) ? scopes('read_orders', 'write_orders') : page('orders', []);
    });
    const c = client(logger);
    const full = await c.pull('order', { cursor: null, pageSize: 10 });
    expect(full.notices).toEqual([SIXTY_DAYS]);
    expect((await c.pull('order', { cursor: null, pageSize: 10 })).notices).toEqual([SIXTY_DAYS]);
    expect(warnings().filter((w) => w.notice === 'read_all_orders')).toHaveLength(1);
    expect((await c.pull('order', { cursor: { since: '2025-01-01T00:00:00Z' }, pageSize: 10 })).notices).toBeUndefined();
    // Scopes are read once and kept; the increment reads none.
    expect(asked).toEqual(['orders', 'scopes', 'orders', 'orders']);

    nock.cleanAll();
    nock(SHOP).persist().post('/admin/api/2026-10/graphql.json').reply(200, (_u, b: any) => (isScopes(b) ? scopes('read_orders', 'read_all_orders') : page('orders', [])));
    expect((await client(capture().logger).pull('order', { cursor: null, pageSize: 10 })).notices).toBeUndefined();
  });

  it('does not push customers whose protected data Shopify withheld as empty contacts, keeps the rest, and reports it once', async () => {
    const { logger, warnings } = capture();
    const visible = fixture('shopify/graphql-customer.json');
    const withheld = { ...fixture('shopify/graphql-customer.json'), id: 'gid://shopify/Customer/2', legacyResourceId: '2', firstName: null, lastName: null, defaultEmailAddress: null, defaultPhoneNumber: null, defaultAddress: null, addressesV2: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } };
    const denied = (field: string) => ({
      message: `This app is not approved to use the ${field} field. See https://partners.shopify.com/1/apps/2/customer_data for more details.`,
      locations: [{ line: 3, column: 5 }], path: ['customers', 'nodes', 1, field], extensions: { code: 'ACCESS_DENIED' },
    });
    const answer = { ...page('customers', [visible, withheld]), errors: [denied('firstName'), denied('lastName'), denied('defaultEmailAddress'), denied('defaultPhoneNumber')] };
    nock(SHOP).post('/admin/api/2026-10/graphql.json', isCustomers).times(2).reply(200, answer);
    const c = client(logger);
    for (let i = 0; i < 2; i++) {
      const p = await c.pull('customer', { cursor: { since: '2025-01-01T00:00:00Z' }, pageSize: 10 });
      expect(p.records.map((r: any) => r.id)).toEqual(['207119551']);
    }
    const reported = warnings().filter((w) => w.notice === 'protected-customer-data:customer');
    expect(reported).toHaveLength(1);
    expect(reported[0].msg).toContain('lacks protected customer data access');

    // An order keeps its amounts and names no contact; one record fetched alone fails (replayable) rather than going out empty.
    const order = { ...fixture('shopify/graphql-order.json'), customer: { legacyResourceId: '2', firstName: null, lastName: null, defaultEmailAddress: null, defaultPhoneNumber: null }, email: null, phone: null };
    order.lineItems.pageInfo = { hasNextPage: false, endCursor: null };
    nock(SHOP).post('/admin/api/2026-10/graphql.json', isOrders).reply(200, { ...page('orders', [order]), errors: [{ ...denied('email'), path: ['orders', 'nodes', 0, 'customer', 'defaultEmailAddress'] }] })
      .post('/admin/api/2026-10/graphql.json', (b) => /customer\(id: \$id\)/.test(b.query)).reply(200, { data: { customer: withheld }, errors: [{ ...denied('firstName'), path: ['customer', 'firstName'] }], extensions: cost });
    const o = await c.pull('order', { cursor: { since: '2025-01-01T00:00:00Z' }, pageSize: 10 });
    expect(o.records).toMatchObject([{ id: '450789469', customer: null, total_price: expect.any(String) }]);
    await expect(c.fetch('customer', '2')).rejects.toBeInstanceOf(RemoteRejectedError);

    // Any other error still fails the query.
    nock(SHOP).post('/admin/api/2026-10/graphql.json').reply(200, { ...page('customers', [visible]), errors: [{ message: 'Access denied for customers field. Required access: `read_customers` access scope.', path: ['customers'], extensions: { code: 'ACCESS_DENIED' } }] });
    await expect(c.pull('customer', { cursor: { since: '2025-01-01T00:00:00Z' }, pageSize: 10 })).rejects.toThrow(/Access denied for customers field/);
  });
});
