import { randomBytes } from 'node:crypto';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectors } from '../../src/connectors/registry.js';
import { classify, hubWebhookUrl } from '../../src/admin/webhook-subscriptions.js';
import { testConfig } from '../helpers/hub.js';
import { rsaKeys } from '../helpers/payment-signing.js';
import { webhooksCli } from '../helpers/webhook-subscriptions.js';

const keys = rsaKeys();

/** Sources whose API has no subscription the hub can make, with credentials that pass their schemas. */
const WITHOUT_API: Record<string, { entity: 'customer' | 'order' | 'payment'; connection: Record<string, unknown>; says: RegExp }> = {
  salesforce: { entity: 'customer', connection: { baseUrl: 'https://acme.my.salesforce.com', credentials: { accessToken: 'tok', organizationId: '00D000000000062EAA' } }, says: /Outbound Message.*Endpoint URL https:\/\/hub\.example\.com\/webhooks\/src/ },
  dynamics: { entity: 'order', connection: { baseUrl: 'https://acme.crm.dynamics.com', credentials: { tenantId: 't', clientId: 'c', clientSecret: 's', webhookKey: 'k'.repeat(20) } }, says: /Plug-in Registration Tool.*https:\/\/hub\.example\.com\/webhooks\/src.*WebhookKey/ },
  magento: { entity: 'order', connection: { baseUrl: 'https://shop.example.com', credentials: { accessToken: 'tok' } }, says: /System → Webhooks.*https:\/\/hub\.example\.com\/webhooks\/src.*webhookPublicKey/ },
  odoo: { entity: 'order', connection: { baseUrl: 'https://acme.odoo.com', credentials: { database: 'acme', username: 'bot', apiKey: 'key', webhookToken: 't'.repeat(20) } }, says: /automation rule.*https:\/\/hub\.example\.com\/webhooks\/src.*X-Synchub-Token/ },
  alipay: { entity: 'payment', connection: { credentials: { appId: '2021000000000001', privateKey: keys.privatePem, alipayPublicKey: keys.publicPem } }, says: /notify_url.*https:\/\/hub\.example\.com\/webhooks\/src/ },
  wechatpay: { entity: 'payment', connection: { credentials: { mchId: '1900000109', serialNo: '408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB', privateKey: keys.privatePem, apiV3Key: randomBytes(16).toString('hex'), platformPublicKey: keys.publicPem, platformSerial: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1' } }, says: /notify_url.*https:\/\/hub\.example\.com\/webhooks\/src/ },
};

describe('webhook subscriptions: connector metadata and the command', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => nock.enableNetConnect());

  it('every connector says how its subscriptions are made; exactly those with an API can list and create them', () => {
    const withApi = [...connectors.values()].filter((d) => d.webhookSubscriptions?.open).map((d) => d.id).sort();
    expect(withApi).toEqual(['hubspot', 'paypal', 'shopify', 'stripe', 'woocommerce', 'zoho']);
    for (const d of connectors.values()) expect(d.webhookSubscriptions?.howTo?.length ?? 0, d.id).toBeGreaterThan(60);
    for (const id of Object.keys(WITHOUT_API)) expect(connectors.get(id)?.webhookSubscriptions?.open, id).toBeUndefined();
  });

  for (const [id, c] of Object.entries(WITHOUT_API)) {
    it(`${id}: subscribe and list exit non-zero with not_supported saying how to set deliveries up`, async () => {
      const config = testConfig({
        server: { publicUrl: 'https://hub.example.com' },
        connections: { src: { connector: id, ...c.connection }, crm: { connector: 'hubspot', baseUrl: 'https://api.hubapi.com', credentials: { accessToken: 'pat-x' } } },
        pipelines: { p: { source: { connection: 'src', entity: c.entity }, targets: [{ connection: 'crm', entity: c.entity === 'payment' ? 'order' : c.entity }], webhooks: true } },
      });
      for (const action of ['subscribe', 'list']) {
        const out = await webhooksCli(config, action, 'src');
        expect(out.code).not.toBe(0);
        expect(out.error).toMatch(/^not_supported: webhook subscriptions through the .* API is not supported: /);
        expect(out.error).toMatch(c.says);
      }
    });
  }

  it('the hub URL is server.publicUrl (a path in it kept) plus /webhooks/<connection>', () => {
    const config = (publicUrl: string) => testConfig({
      server: { publicUrl },
      connections: { shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat_x' } } },
      pipelines: {},
    });
    expect(hubWebhookUrl(config('https://hub.example.com'), 'shop')).toBe('https://hub.example.com/webhooks/shop');
    expect(hubWebhookUrl(config('https://example.com/synchub/'), 'shop')).toBe('https://example.com/synchub/webhooks/shop');
  });

  it('classify: at the hub URL or elsewhere, covered, missing and unneeded topics', () => {
    const url = 'https://hub.example.com/webhooks/shop';
    const v = classify(url, ['A', 'B', 'C'], [
      { id: '1', topics: ['A'], url: 'https://HUB.example.com:443/webhooks/shop' },
      { id: '2', topics: ['B'], url: 'https://old.example.com/webhooks/shop' },
      { id: '3', topics: ['Z'], url },
    ]);
    expect(v.ours.map((s) => s.id)).toEqual(['1', '3']);
    expect(v.elsewhere.map((s) => s.id)).toEqual(['2']);
    expect(v.missing).toEqual(['B', 'C']);
    expect(v.unneeded).toEqual([{ topic: 'Z', subscription: v.ours[1] }]);
  });

  it('a connection that no pipeline takes webhooks from is refused by subscribe, naming what to set', async () => {
    const config = testConfig({
      server: { publicUrl: 'https://hub.example.com' },
      connections: { shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat_x' } }, crm: { connector: 'hubspot', baseUrl: 'https://api.hubapi.com', credentials: { accessToken: 'pat-x' } } },
      pipelines: { p: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] } },
    });
    const out = await webhooksCli(config, 'subscribe', 'shop');
    expect(out.code).not.toBe(0);
    expect(out.error).toContain('no pipeline takes webhooks from connection shop (set webhooks: true');
    const unknown = await webhooksCli(config, 'list', 'nope');
    expect(unknown.error).toContain('connections.nope: no such connection (have: shop, crm)');
  });
});
