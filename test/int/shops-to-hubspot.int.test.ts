/**
 * WooCommerce, Magento and Odoo orders → HubSpot deals on real Redis: every order
 * arrives exactly once, with its exact amount and the right canonical status.
 * Each source is mocked as a server that really filters, sorts and pages.
 */
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import type { OrderStatus } from '../../src/core/canonical/schemas.js';
import { startRun } from '../../src/jobs/pull.js';
import { eventually, openTestHub, testConfig, type TestHub, runFinished } from '../helpers/hub.js';
import { fixture, mockHubspotDeals } from '../helpers/mock-apis.js';
import { loopbackOnly } from '../helpers/webhook-crm.js';

const N = 120;
const PAGE = 50;
const STAGES = Object.fromEntries(['pending_payment', 'paid', 'shipped', 'completed', 'cancelled', 'refunded', 'partially_refunded'].map((s) => [s, `stage_${s}`]));
/** Exact amounts with every cent pattern: 10.00, 11.07, 12.14, … */
const amount = (i: number) => `${10 + i}.${String((i * 7) % 100).padStart(2, '0')}`;
/** Several orders share each second, so page boundaries fall inside a timestamp. */
const stamp = (i: number) => new Date(Date.UTC(2025, 2, 1, 0, 0, Math.floor(i / 3))).toISOString().slice(0, 19);

interface Expected { number: string; total: string; status: OrderStatus }

async function syncAll(sourceConnection: Record<string, unknown>, expected: Expected[]) {
  const crm = mockHubspotDeals();
  const t = await openTestHub(testConfig({
    connections: {
      src: sourceConnection,
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' }, dealStages: STAGES, http: { rateLimit: { max: 1000, perMs: 1000 } } },
    },
    pipelines: { orders: { source: { connection: 'src', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], batchSize: PAGE } },
  }));
  t.startWorkers();
  const { runId } = await startRun(t.hub, 'orders', false);
  const run = await runFinished(t.hub, runId, 60_000);
  return { t, crm, run, check() {
    expect(run).toMatchObject({ expected: N, pushed: N, dead: 0 });
    expect(crm.deals.size).toBe(N);
    expect(crm.calls.reduce((a, b) => a + b, 0)).toBe(N); // each order pushed once
    for (const e of expected) {
      const deal = crm.deals.get(e.number);
      expect(deal?.properties.amount, `order ${e.number}`).toBe(e.total);
      expect(deal?.properties.dealstage, `order ${e.number}`).toBe(STAGES[e.status]);
    }
  } };
}

describe('e-commerce and ERP orders → HubSpot on real Redis', () => {
  let t: TestHub | undefined;
  loopbackOnly();
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('WooCommerce: pages by X-WP-TotalPages, every order once with its amount and status', async () => {
    const WOO: [string, OrderStatus][] = [['pending', 'pending_payment'], ['processing', 'paid'], ['completed', 'completed'], ['cancelled', 'cancelled'], ['refunded', 'refunded'], ['on-hold', 'pending_payment'], ['failed', 'cancelled']];
    const base = fixture<Record<string, unknown>>('woocommerce/order.json');
    const orders = Array.from({ length: N }, (_, i) => ({
      ...base, id: 1000 + i, number: String(1000 + i), status: WOO[i % WOO.length][0], total: amount(i),
      date_modified_gmt: stamp(i), date_created_gmt: stamp(i), line_items: [], refunds: [],
    }));
    nock('https://woo.example.com').persist().get('/wp-json/wc/v3/orders').query(true).reply((uri) => {
      const q = new URL(uri, 'https://x').searchParams;
      expect(q.get('dates_are_gmt')).toBe('true');
      const per = Number(q.get('per_page'));
      const page = Number(q.get('page'));
      return [200, orders.slice((page - 1) * per, page * per), { 'x-wp-total': String(N), 'x-wp-totalpages': String(Math.ceil(N / per)) }];
    });
    const s = await syncAll({ connector: 'woocommerce', baseUrl: 'https://woo.example.com', credentials: { consumerKey: 'ck', consumerSecret: 'cs' } },
      orders.map((o, i) => ({ number: o.number, total: amount(i), status: WOO[i % WOO.length][1] })));
    t = s.t;
    s.check();
    expect(s.run.pages).toBe(Math.ceil(N / PAGE));
  });

  it('Magento: keyset pages on (updated_at, entity_id) across shared timestamps, every order once', async () => {
    const MAGE: [string, OrderStatus][] = [['new', 'pending_payment'], ['processing', 'paid'], ['complete', 'completed'], ['canceled', 'cancelled'], ['closed', 'refunded'], ['holded', 'paid']];
    const base = fixture<Record<string, unknown>>('magento/order.json');
    const orders = Array.from({ length: N }, (_, i) => ({
      ...base, entity_id: 500 + i, increment_id: `0000${500 + i}`, state: MAGE[i % MAGE.length][0], status: MAGE[i % MAGE.length][0],
      grand_total: Number(amount(i)), total_paid: Number(amount(i)), updated_at: stamp(i).replace('T', ' '), items: [],
    }));
    nock('https://mage.example.com').persist().get('/rest/V1/orders').query(true).reply((uri) => [200, searchOrders(orders, new URL(uri, 'https://x').searchParams)]);
    const s = await syncAll({ connector: 'magento', baseUrl: 'https://mage.example.com', credentials: { accessToken: 'tok' } },
      orders.map((o, i) => ({ number: o.increment_id, total: amount(i), status: MAGE[i % MAGE.length][1] })));
    t = s.t;
    s.check();
  });

  it('Odoo: keyset pages on (write_date, id) through JSON-RPC, every order once with invoice-based status', async () => {
    const ODOO: [string, string | undefined, OrderStatus][] = [['draft', undefined, 'pending_payment'], ['sale', 'paid', 'paid'], ['sale', 'not_paid', 'pending_payment'], ['cancel', undefined, 'cancelled'], ['sent', undefined, 'pending_payment'], ['sale', 'in_payment', 'paid']];
    const orders = Array.from({ length: N }, (_, i) => ({
      ...fixture<Record<string, unknown>>('odoo/sale-order.json'), id: 300 + i, name: `S${300 + i}`, state: ODOO[i % ODOO.length][0],
      amount_total: Number(amount(i)), amount_untaxed: Number(amount(i)), amount_tax: 0, write_date: stamp(i).replace('T', ' '),
      order_line: [], invoice_ids: ODOO[i % ODOO.length][1] ? [9000 + i] : [],
    }));
    nock('https://erp.example.com').persist().post('/jsonrpc').reply((_uri, body: any) => {
      const { service, method, args } = body.params;
      if (service === 'common' && method === 'login') return [200, { jsonrpc: '2.0', id: body.id, result: 2 }];
      const [, , , model, , [domain], kwargs] = args;
      let result: unknown[] = [];
      if (model === 'sale.order') {
        result = orders.filter((o) => odooDomain(o, domain)).sort((a, b) => a.write_date.localeCompare(b.write_date) || a.id - b.id).slice(0, kwargs.limit);
      } else if (model === 'account.move') {
        const ids: number[] = domain[0][2];
        result = ids.map((id) => ({ id, state: 'posted', payment_state: ODOO[(id - 9000) % ODOO.length][1] }));
      }
      return [200, { jsonrpc: '2.0', id: body.id, result }];
    });
    const s = await syncAll({ connector: 'odoo', baseUrl: 'https://erp.example.com', credentials: { database: 'acme', username: 'sync', apiKey: 'k' } },
      orders.map((o, i) => ({ number: o.name, total: amount(i), status: ODOO[i % ODOO.length][2] })));
    t = s.t;
    s.check();
  });
});

/** Magento's searchCriteria as a server applies it: filter groups (AND of ORs), sort orders, page. */
function searchOrders(orders: Record<string, any>[], q: URLSearchParams) {
  const groups: { field: string; value: string; cond: string }[][] = [];
  for (const [k, v] of q) {
    const m = /^searchCriteria\[filter_groups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(field|value|condition_type)\]$/.exec(k);
    if (!m) continue;
    const g = (groups[Number(m[1])] ??= []);
    const f = (g[Number(m[2])] ??= { field: '', value: '', cond: 'eq' });
    if (m[3] === 'field') f.field = v; else if (m[3] === 'value') f.value = v; else f.cond = v;
  }
  const test = (o: Record<string, any>, f: { field: string; value: string; cond: string }) => {
    const a = o[f.field];
    const c = typeof a === 'number' ? a - Number(f.value) : String(a).localeCompare(f.value);
    return f.cond === 'eq' ? c === 0 : f.cond === 'gt' ? c > 0 : f.cond === 'gteq' ? c >= 0 : f.cond === 'lt' ? c < 0 : c <= 0;
  };
  const sorts: string[] = [];
  for (let k = 0; q.has(`searchCriteria[sortOrders][${k}][field]`); k++) sorts.push(q.get(`searchCriteria[sortOrders][${k}][field]`)!);
  const hits = orders.filter((o) => groups.every((g) => g.some((f) => test(o, f))))
    .sort((a, b) => { for (const s of sorts) { const c = typeof a[s] === 'number' ? a[s] - b[s] : String(a[s]).localeCompare(String(b[s])); if (c) return c; } return 0; });
  const size = Number(q.get('searchCriteria[pageSize]'));
  const page = Number(q.get('searchCriteria[currentPage]'));
  return { items: hits.slice((page - 1) * size, page * size), total_count: hits.length, search_criteria: {} };
}

/** An Odoo domain in Polish notation ('|', '&' prefix operators; leaves [field, op, value]). */
function odooDomain(rec: Record<string, any>, domain: unknown[]): boolean {
  if (!domain.length) return true;
  let pos = 0;
  const next = (): boolean => {
    const t = domain[pos++];
    if (t === '|') { const a = next(); const b = next(); return a || b; }
    if (t === '&') { const a = next(); const b = next(); return a && b; }
    const [f, op, v] = t as [string, string, any];
    const a = rec[f];
    const c = typeof a === 'number' ? a - v : String(a).localeCompare(String(v));
    return op === '=' ? c === 0 : op === '>' ? c > 0 : op === '>=' ? c >= 0 : op === '<' ? c < 0 : op === 'in' ? (v as unknown[]).includes(a) : c <= 0;
  };
  let ok = next();
  while (pos < domain.length) ok = ok && next();
  return ok;
}
