/**
 * npm run attacks — re-runs the attacks of the hardening review (issue 15) against a hub
 * in this process and prints what each one got and how long the process was busy with it.
 *
 * It starts its own redis-server on a free port (and stops it), serves nothing on the
 * network (requests go through the app in memory) and calls no external API. Exits 1 when
 * an attack gets an answer other than the refusal it should get.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildConfig } from '../src/config/load.js';
import { hubspotWebhooks } from '../src/connectors/hubspot/webhooks.js';
import { generateKeySpec } from '../src/core/crypto.js';
import { createLogger } from '../src/core/logger.js';
import { normalizeAmount } from '../src/core/money.js';
import { Hub } from '../src/jobs/hub.js';
import { freePort, startRedisServer } from '../src/runtime/redis-server.js';
import { createApp } from '../src/server.js';

const ORG = '00D000000000062EAA';
const SHOP_SECRET = 'attack-shop-secret';
const ADMIN = 'attack-admin-token-0123456789abcdef';

interface Result { attack: string; expected: string; got: string; ms: number; ok: boolean }
const results: Result[] = [];

async function attack(name: string, expected: string, run: () => Promise<string>, accept: (got: string) => boolean): Promise<void> {
  const started = performance.now();
  let got: string;
  try {
    got = await run();
  } catch (err) {
    got = `threw: ${(err as Error).message}`;
  }
  const ms = performance.now() - started;
  results.push({ attack: name, expected, got, ms, ok: accept(got) });
}

const status = async (res: Response | Promise<Response>) => {
  const r = await res;
  const text = await r.text();
  let code = '';
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    code = text.includes('faultcode') ? 'soap fault' : '';
  }
  return `${r.status}${code ? ` ${code}` : ''}`;
};

function shopifyPost(body: string, id: string, topic = 'orders/create'): RequestInit {
  const hmac = createHmac('sha256', SHOP_SECRET).update(body).digest('base64');
  return {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-shopify-hmac-sha256': hmac, 'x-shopify-topic': topic, 'x-shopify-webhook-id': id, 'x-shopify-shop-domain': 'acme.myshopify.com' },
  };
}

function sfEnvelope(org: string, notifications: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>${org}</OrganizationId><ActionId>04k5A000000CaBcQAK</ActionId>${notifications}</notifications></soapenv:Body></soapenv:Envelope>`;
}
const sfNotification = (i: number) => `<Notification><Id>04l5A${String(i).padStart(10, '0')}QAK</Id><sObject xsi:type="sf:Order" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>8015A${String(i).padStart(10, '0')}QAS</sf:Id></sObject></Notification>`;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-attacks-'));
  const redis = await startRedisServer({ port: await freePort(), dir });
  const logger = createLogger({ level: 'silent' });
  const raw = {
    redis: { url: redis.url, prefix: 'attacks' },
    encryption: { keys: generateKeySpec('a1') },
    server: { adminToken: ADMIN, publicUrl: 'https://hub.example.com' },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat_x', webhookSecret: SHOP_SECRET } },
      sf: { connector: 'salesforce', baseUrl: 'https://acme.my.salesforce.com', credentials: { accessToken: '00D!tok', organizationId: ORG } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: {
      orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true },
      sforders: { source: { connection: 'sf', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true },
    },
  };
  const hub = await Hub.open(buildConfig(raw, path.resolve('config/attacks.yaml'), { env: {} }), logger, redis.url);
  const app = createApp(hub);
  const bearer = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const refused = (prefix: string) => (got: string) => got.startsWith(prefix);
  try {
    // 1. Salesforce: ~1 MB of unclosed tags, no credential (was ~70 s of regex backtracking).
    await attack('Salesforce: "<OrganizationId " × 65,000', '400', () => status(app.request('/webhooks/sf', { method: 'POST', body: `<notifications>${'<OrganizationId '.repeat(65_000)}`, headers: { 'content-type': 'text/xml' } })), refused('400'));
    const whole = sfEnvelope(ORG, sfNotification(1));
    await attack('Salesforce: envelope cut inside a Notification', '400', () => status(app.request('/webhooks/sf', { method: 'POST', body: whole.slice(0, whole.indexOf('</sObject>')), headers: { 'content-type': 'text/xml' } })), refused('400'));
    await attack('Salesforce: 1,000 notifications, org id the only credential', '413', () => status(app.request('/webhooks/sf', { method: 'POST', body: sfEnvelope(ORG, Array.from({ length: 1000 }, (_, i) => sfNotification(i)).join('')), headers: { 'content-type': 'text/xml' } })), refused('413'));
    // 1b. Money: "10." + 60,000 zeros + "10" (was 10 s in a quadratic regex).
    await attack('money: "10." + 60,000 zeros + "10"', 'refused fast', async () => normalizeAmount(`10.${'0'.repeat(60_000)}10`, 'USD'), (got) => got.startsWith('threw'));
    // 4. Mapping built-ins, through the preview (worker thread) and its limits.
    const preview = (expression: string, input: unknown = {}) => status(app.request('/api/mappings/preview', { method: 'POST', headers: bearer, body: JSON.stringify({ entity: 'order', expression, input }) }));
    await attack('preview: $match(30 × "a" + "!", /^(a+)+$/)', '422', () => preview('$match(s, /^(a+)+$/)', { s: `${'a'.repeat(30)}!` }), refused('422'));
    await attack('preview: $pad("", 100000000)', '422', () => preview('$pad("", 100000000)'), refused('422'));
    await attack('preview: 100 MB $join', '422', () => preview('$join([1..100000].$pad("", 1000))'), refused('422'));
    // 3. The @ bypass of masking (no sample is captured here: the answer must not echo the input's email either way).
    // 5. Admin routes from another origin.
    await attack('admin: cross-origin POST (text/plain, Origin evil)', '403', () => status(app.request('/api/pipelines/orders/run', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, origin: 'https://evil.example.net', 'content-type': 'text/plain' }, body: '{}' })), refused('403'));
    await attack('admin: adminToken "a" at start-up', 'config error', async () => { buildConfig({ ...raw, server: { adminToken: 'a' } }, path.resolve('config/attacks.yaml'), { env: {} }); return 'accepted'; }, (got) => got.includes('server.adminToken'));
    let last = '';
    await attack('admin: 11 wrong Bearer tokens from one address', '429', async () => {
      for (let i = 0; i < 11; i++) last = await status(app.request('/api/pipelines', { headers: { authorization: 'Bearer wrong-token-000000000000000000' } }));
      return last;
    }, refused('429'));
    // 11. Bodies and headers.
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    await attack('Shopify: signed body nested 10,000 deep', '400', () => status(app.request('/webhooks/shop', shopifyPost(deep, 'deep-1'))), refused('400'));
    const order = JSON.stringify({ id: 820982911946154500, order_number: 1001, name: '#1001', total_price: '10.00', currency: 'USD', financial_status: 'paid', line_items: [], updated_at: '2026-12-01T10:00:00Z', created_at: '2026-12-01T10:00:00Z' });
    await attack('Shopify: first delivery of a signed order', '200, stored', async () => { const r = await app.request('/webhooks/shop', shopifyPost(order, 'first-id')); return `${r.status} ${await r.text()}`; }, (got) => got.startsWith('200') && got.includes('"stored":1'));
    await attack('Shopify: same signed body replayed under a new webhook id', '200 (duplicate, not stored)', async () => {
      const r = await app.request('/webhooks/shop', shopifyPost(order, 'replayed-id'));
      return `${r.status} ${await r.text()}`;
    }, (got) => got.startsWith('200') && got.includes('"duplicates":1'));
    await attack('Shopify: duplicated X-Shopify-Topic', '400', async () => {
      const init = shopifyPost(order.replace('1001', '1002'), 'dup-topic');
      const headers = new Headers(init.headers as Record<string, string>);
      headers.append('x-shopify-topic', 'customers/create');
      return status(app.request('/webhooks/shop', { ...init, headers }));
    }, refused('400'));
    await attack('HubSpot: timestamp one year ahead', 'refused', async () => {
      const handler = hubspotWebhooks('client-secret');
      const body = '[]';
      const ts = Date.now() + 365 * 86_400_000;
      const uri = 'https://hub.example.com/webhooks/crm';
      const sig = createHmac('sha256', 'client-secret').update(`POST${uri}${body}${ts}`).digest('base64');
      await handler.verify({ method: 'POST', url: uri, rawBody: Buffer.from(body), headers: { 'x-hubspot-signature-v3': sig, 'x-hubspot-request-timestamp': String(ts), 'content-type': 'application/json' } });
      return 'accepted';
    }, (got) => got.startsWith('threw'));
  } finally {
    await hub.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
  console.log(`${pad('attack', 58)} ${pad('expected', 28)} ${'ms'.padStart(8)}  got`);
  for (const r of results) console.log(`${pad(r.attack, 58)} ${pad(r.expected, 28)} ${r.ms.toFixed(1).padStart(8)}  ${r.ok ? '' : 'NOT AS EXPECTED: '}${pad(r.got.replace(/\s+/g, ' '), 110)}`);
  const bad = results.filter((r) => !r.ok).length;
  console.log(`${results.length - bad} refused as expected, ${bad} not`);
  process.exit(bad ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
