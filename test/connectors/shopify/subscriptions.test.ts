import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testConfig } from '../../helpers/hub.js';
import { webhooksCli } from '../../helpers/webhook-subscriptions.js';

/**
 * Shapes from shopify.dev: queries/webhookSubscriptions (a connection of WebhookSubscription with
 * `uri`, `topic`, `format`), mutations/webhookSubscriptionCreate (payload `webhookSubscription`
 * and `userErrors { field message }`), every answer with `extensions.cost`.
 */
const SHOP = 'https://acme.myshopify.com';
const GQL = '/admin/api/2026-10/graphql.json';
const HUB = 'https://hub.example.com/webhooks/shop';
const cost = { cost: { requestedQueryCost: 10, actualQueryCost: 10, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1990, restoreRate: 100 } } };

interface Sub { id: string; topic: string; uri: string; format: string }

function config(over: { publicUrl?: string | null; api?: string; credentials?: Record<string, string> } = {}) {
  return testConfig({
    server: over.publicUrl === null ? {} : { publicUrl: over.publicUrl ?? 'https://hub.example.com' },
    connections: {
      shop: { connector: 'shopify', baseUrl: SHOP, credentials: over.credentials ?? { accessToken: 'shpat_test', webhookSecret: 'shpss_test' }, api: over.api ?? 'rest' },
      crm: { connector: 'hubspot', baseUrl: 'https://api.hubapi.com', credentials: { accessToken: 'pat-x' } },
    },
    pipelines: {
      orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true },
      customers: { source: { connection: 'shop', entity: 'customer' }, targets: [{ connection: 'crm', entity: 'customer' }], webhooks: true },
    },
  });
}

/** A shop's subscriptions, answered like the GraphQL Admin API; creations are kept. */
function mockShop(subs: Sub[], opts: { refuse?: (topic: string, uri: string) => string | undefined; pageSize?: number } = {}) {
  const queries: { query: string; variables: Record<string, any> }[] = [];
  let next = 9000;
  nock(SHOP).persist().post(GQL).reply(200, (_uri, body: any) => {
    queries.push(body);
    if (body.query.includes('webhookSubscriptionCreate(')) {
      const { topic, webhookSubscription } = body.variables;
      const refused = opts.refuse?.(topic, webhookSubscription.uri);
      if (refused) return { data: { webhookSubscriptionCreate: { webhookSubscription: null, userErrors: [{ field: ['webhookSubscription', 'callbackUrl'], message: refused }] } }, extensions: cost };
      const sub = { id: `gid://shopify/WebhookSubscription/${next++}`, topic, uri: webhookSubscription.uri, format: webhookSubscription.format };
      subs.push(sub);
      return { data: { webhookSubscriptionCreate: { webhookSubscription: sub, userErrors: [] } }, extensions: cost };
    }
    const size = opts.pageSize ?? body.variables.first;
    const start = body.variables.after ? Number(body.variables.after) : 0;
    const nodes = subs.slice(start, start + size);
    const end = start + nodes.length;
    return { data: { webhookSubscriptions: { nodes, pageInfo: { hasNextPage: end < subs.length, endCursor: nodes.length ? String(end) : null } } }, extensions: cost };
  });
  return queries;
}

describe('synchub webhooks for shopify', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('subscribe creates exactly the missing topics at the hub URL; a second run creates nothing', async () => {
    const subs: Sub[] = [
      { id: 'gid://shopify/WebhookSubscription/1', topic: 'ORDERS_CREATE', uri: HUB, format: 'JSON' },
      { id: 'gid://shopify/WebhookSubscription/2', topic: 'ORDERS_UPDATED', uri: 'https://old-hub.example.com/webhooks/shop', format: 'JSON' },
      { id: 'gid://shopify/WebhookSubscription/3', topic: 'APP_UNINSTALLED', uri: HUB, format: 'XML' },
    ];
    const queries = mockShop(subs, { pageSize: 2 });
    const cfg = config();
    const first = await webhooksCli(cfg, 'subscribe', 'shop');
    expect(first.error).toBe('');
    expect(first.code).toBe(0);
    const creates = queries.filter((q) => q.query.includes('webhookSubscriptionCreate('));
    expect(creates.map((q) => q.variables.topic)).toEqual(['ORDERS_UPDATED', 'ORDERS_DELETE', 'CUSTOMERS_CREATE', 'CUSTOMERS_UPDATE', 'CUSTOMERS_DELETE']);
    // The 2026-10 input: uri (callbackUrl is deprecated), JSON bodies.
    expect(creates[0].variables.webhookSubscription).toEqual({ uri: HUB, format: 'JSON' });
    expect(first.out).toContain(`shop (shopify) → ${HUB}`);
    expect(first.out).toMatch(/created +ORDERS_UPDATED +gid:\/\/shopify\/WebhookSubscription\/9000/);
    expect(first.out).toMatch(/exists +ORDERS_CREATE +gid:\/\/shopify\/WebhookSubscription\/1/);
    expect(first.out).toMatch(/elsewhere +ORDERS_UPDATED +gid:\/\/shopify\/WebhookSubscription\/2 .*→ https:\/\/old-hub\.example\.com\/webhooks\/shop +\(left as is\)/);
    expect(first.out).toMatch(/unneeded +APP_UNINSTALLED +gid:\/\/shopify\/WebhookSubscription\/3/);
    expect(first.out).toContain('note: gid://shopify/WebhookSubscription/3 (APP_UNINSTALLED) delivers format XML: the hub takes JSON only');
    expect(first.out).toContain('created 5, updated 0, renewed 0, already there 2, pointing elsewhere 1, topics no pipeline needs 1');
    // Nothing pointing elsewhere or unneeded was touched.
    expect(subs.map((s) => s.id).slice(0, 3)).toEqual(['gid://shopify/WebhookSubscription/1', 'gid://shopify/WebhookSubscription/2', 'gid://shopify/WebhookSubscription/3']);

    queries.length = 0;
    const second = await webhooksCli(cfg, 'subscribe', 'shop');
    expect(second.code).toBe(0);
    expect(queries.filter((q) => q.query.includes('webhookSubscriptionCreate('))).toHaveLength(0);
    expect(second.out).toContain('created 0, updated 0, renewed 0, already there 7');
  });

  it('list shows what is subscribed and what is missing; REST-path connections use the GraphQL endpoint too', async () => {
    mockShop([
      { id: 'gid://shopify/WebhookSubscription/1', topic: 'ORDERS_CREATE', uri: HUB, format: 'JSON' },
      { id: 'gid://shopify/WebhookSubscription/2', topic: 'CUSTOMERS_CREATE', uri: 'https://elsewhere.example.com/hook', format: 'JSON' },
    ]);
    const out = await webhooksCli(config({ api: 'rest' }), 'list', 'shop');
    expect(out.code).toBe(0);
    expect(out.out).toContain(`shop (shopify): 2 subscription(s); the hub receives at ${HUB}`);
    expect(out.out).toMatch(/hub +ORDERS_CREATE +gid:\/\/shopify\/WebhookSubscription\/1/);
    expect(out.out).toMatch(/elsewhere +CUSTOMERS_CREATE .*→ https:\/\/elsewhere\.example\.com\/hook/);
    expect(out.out).toContain('missing: ORDERS_UPDATED, ORDERS_DELETE, CUSTOMERS_CREATE, CUSTOMERS_UPDATE, CUSTOMERS_DELETE (synchub webhooks subscribe shop creates them)');
  });

  it('userErrors from webhookSubscriptionCreate are a clear error with a non-zero exit, naming what was created before', async () => {
    const subs: Sub[] = [];
    mockShop(subs, { refuse: (topic) => (topic === 'CUSTOMERS_CREATE' ? 'Address for this topic has already been taken' : undefined) });
    const out = await webhooksCli(config(), 'subscribe', 'shop');
    expect(out.code).not.toBe(0);
    expect(out.error).toContain('remote_rejected: shop: webhookSubscriptionCreate CUSTOMERS_CREATE refused: webhookSubscription.callbackUrl: Address for this topic has already been taken');
    expect(out.error).toContain('created before this: ORDERS_CREATE');
    expect(subs.map((s) => s.topic)).toEqual(['ORDERS_CREATE', 'ORDERS_UPDATED', 'ORDERS_DELETE']);
  });

  it('without server.publicUrl the command stops naming the path, before calling Shopify', async () => {
    const out = await webhooksCli(config({ publicUrl: null }), 'subscribe', 'shop');
    expect(out.code).not.toBe(0);
    expect(out.error).toMatch(/server\.publicUrl: is required by `synchub webhooks`/);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('a connection without a webhook secret gets its subscriptions and a note that deliveries would be refused', async () => {
    mockShop([]);
    const out = await webhooksCli(config({ credentials: { accessToken: 'shpat_test' } }), 'subscribe', 'shop');
    expect(out.code).toBe(0);
    expect(out.out).toContain('note: set connections.shop.credentials.webhookSecret');
    expect(out.out).not.toContain('shpat_test');
  });
});
