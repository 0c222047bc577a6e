/**
 * Mapping: the default Shopify order → canonical → HubSpot deal mappings over 20,000
 * realistic orders, through JSONata, against the same transformation written by hand in
 * TypeScript (the baseline); one record at a time, and a page of 250 at a time.
 */
import { shopify } from '../src/connectors/shopify/index.js';
import { addAmounts, fromMinorUnits, normalizeAmount, toMinorUnits } from '../src/core/money.js';
import { compileMapping, defaultMappingFile, loadMapping } from '../src/mappings/engine.js';
import { makeCustomer, makeOrder, prng } from '../src/sandbox/data.js';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { fmt, ratio, timed, type Row } from './util.js';

export function orders(n: number): Record<string, any>[] {
  const rand = prng(7);
  const customers = Array.from({ length: 500 }, (_, i) => makeCustomer(i, new Date(Date.UTC(2025, 0, 1))));
  return Array.from({ length: n }, (_, i) => makeOrder(i, customers[i % customers.length], new Date(Date.UTC(2025, 0, 1) + i * 1000), rand));
}

const STATUS: Record<string, string> = { pending: 'pending_payment', authorized: 'pending_payment', partially_paid: 'pending_payment', paid: 'paid', partially_refunded: 'partially_refunded', refunded: 'refunded', voided: 'cancelled', expired: 'cancelled' };
const STAGES: Record<string, string> = { pending_payment: 'contractsent', paid: 'closedwon', shipped: 'closedwon', completed: 'closedwon', partially_refunded: 'closedwon', refunded: 'closedlost', cancelled: 'closedlost' };

/** The two mappings written by hand: what JSONata is measured against. */
export function byHand(o: Record<string, any>): Record<string, unknown> {
  const cur = o.currency;
  const fin = o.financial_status;
  const status = fin === 'refunded' ? 'refunded' : fin === 'partially_refunded' ? 'partially_refunded' : o.cancelled_at ? 'cancelled'
    : fin === 'paid' ? (o.fulfillment_status === 'fulfilled' ? (o.closed_at ? 'completed' : 'shipped') : 'paid') : STATUS[fin];
  const refunded = addAmounts(cur, ...o.refunds.flatMap((r: any) => r.transactions.filter((t: any) => t.kind === 'refund' && t.status === 'success').map((t: any) => t.amount)));
  const canonical = {
    externalId: String(o.id), orderNumber: String(o.order_number), status, currency: cur,
    subtotal: normalizeAmount(o.subtotal_price, cur), taxTotal: normalizeAmount(o.total_tax, cur), total: normalizeAmount(o.total_price, cur),
    refundedAmount: toMinorUnits(refunded, cur) > 0n ? refunded : undefined,
    lineItems: o.line_items.map((l: any) => ({ title: l.name, quantity: l.quantity, unitPrice: normalizeAmount(l.price, cur), total: fromMinorUnits(toMinorUnits(l.price, cur) * BigInt(l.quantity), cur) })),
    createdAt: new Date(o.created_at).toISOString(), updatedAt: new Date(o.updated_at).toISOString(),
  };
  return { properties: { dealname: `Order ${canonical.orderNumber}`, amount: canonical.total, deal_currency_code: cur, dealstage: STAGES[canonical.status], pipeline: 'default', synchub_order_number: canonical.orderNumber } };
}

export async function mappingBench(n = 20_000): Promise<Row[]> {
  const data = orders(n);
  const shop = { connector: 'shopify', statusMap: shopify.statusMap };
  const crm = { connector: 'hubspot', options: {} };
  const pair = (engine: 'compiled' | 'interpreter') => ({
    in: loadMapping(defaultMappingFile('shopify', 'order', 'in'), shop, { timeoutMs: 60_000, engine }),
    out: loadMapping(defaultMappingFile('hubspot', 'order', 'out'), crm, { timeoutMs: 60_000, engine }),
  });
  const compiled = pair('compiled');
  const interpreted = pair('interpreter');
  // Page at a time: one evaluation over 250 records, the same mapping text applied to each.
  const pageOf = (file: string, ctx: object) => compileMapping(`$map($, function($r) { $r.(${readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')}) })`, file, ctx, { timeoutMs: 60_000, engine: 'compiled' });
  const inPage = pageOf(defaultMappingFile('shopify', 'order', 'in'), shop);
  const outPage = pageOf(defaultMappingFile('hubspot', 'order', 'out'), crm);

  // The two evaluators must agree on every order before their speeds mean anything.
  let differ = 0;
  for (const o of data) {
    const a = await compiled.out.evaluate(await compiled.in.evaluate(o));
    const b = await interpreted.out.evaluate(await interpreted.in.evaluate(o));
    if (!isDeepStrictEqual(a, b)) differ++;
  }
  if (differ) throw new Error(`compiled and interpreted mappings differ on ${differ} of ${n} orders`);

  const hand = await timed(async () => { for (const o of data) byHand(o); });
  const single = (p: typeof compiled) => timed(async () => { for (const o of data) await p.out.evaluate(await p.in.evaluate(o)); });
  const before = await single(interpreted);
  const after = await single(compiled);
  const page = await timed(async () => {
    for (let i = 0; i < data.length; i += 250) await outPage.evaluate(await inPage.evaluate(data.slice(i, i + 250)));
  });
  const rate = (ms: number) => (n / ms) * 1000;
  const base = `${fmt(rate(hand.ms))} (TypeScript by hand)`;
  return [
    { benchmark: 'mapping', measure: `records/s, jsonata's interpreter, one at a time (${fmt(n)} orders, in + out) — before`, value: fmt(rate(before.ms)), baseline: base, ratio: ratio(rate(before.ms), rate(hand.ms)) },
    { benchmark: 'mapping', measure: 'records/s, compiled evaluator, one at a time (same outputs on every order)', value: fmt(rate(after.ms)), baseline: base, ratio: ratio(rate(after.ms), rate(hand.ms)) },
    { benchmark: 'mapping', measure: 'records/s, compiled evaluator, a page of 250 at a time', value: fmt(rate(page.ms)), baseline: base, ratio: ratio(rate(page.ms), rate(hand.ms)) },
  ];
}
