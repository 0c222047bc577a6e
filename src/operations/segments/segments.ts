import type { ChainableCommander } from 'ioredis';
import type { CanonicalCustomer, CanonicalOrder, OrderStatus } from '../../core/canonical/schemas.js';
import { openJsonBytes } from '../../core/crypto.js';
import { errorToJson } from '../../core/errors.js';
import { fromMinorUnits, toMinorUnits } from '../../core/money.js';
import type { Hub } from '../../jobs/hub.js';
import { SNAPSHOT_AAD } from '../../jobs/payments.js';
import type { HistoryEntry, SegmentRecord } from '../../state/segment-store.js';
import { customerIndex } from '../order-types.js';
import type { SegmentsConfig } from './config.js';
import { formatReporting, kmeans, normalise, populationCuts, scoresOf, toReportingMinor, type Cuts, type RfmScores, type RfmValues } from './rfm.js';

/**
 * Customer segments (客户分析): per customer, from the hub's own order history across sources,
 * recency, frequency and monetary value (in the reporting currency, converted exactly by the
 * configured rates; an order in a currency without a rate is counted as unconverted, never mixed
 * in), quantile scores, a named segment by the first matching rule, and optionally a k-means
 * cluster over the normalised values. A full computation runs on `segments.schedule` (recency
 * moves with time) and on POST /api/segments/recompute; an arriving order recomputes its
 * customer against the last full computation's cuts. A customer whose segment changed is pushed
 * to each `segments.push` connection through its customer out-mapping.
 */
const PAID: readonly OrderStatus[] = ['paid', 'shipped', 'completed', 'partially_refunded', 'refunded'];
const DAY = 86_400_000;
export const SEGMENTS_RECOMPUTE_JOB = 'segments-recompute';
export const SEGMENTS_CUSTOMERS_JOB = 'segments-customers';

interface Model { at: string; cuts: Cuts; spans?: { min: number[]; max: number[] }; centroids?: number[][] }

export interface CustomerSegment {
  customer: string;
  values: RfmValues;
  scores: RfmScores;
  segment: string;
  cluster?: number;
  /** Paid orders left out of the monetary value: their currency has no configured rate. */
  unconverted: number;
}

/** Ingest step 5a: each order's place in its customer's history (paid orders only). */
export function recordSegmentOrders(hub: Hub, tx: ChainableCommander, orders: { key: string; connection: string; order: CanonicalOrder; status: OrderStatus }[]): string[] {
  if (!hub.config.segments) return [];
  const touched = new Set<string>();
  for (const o of orders) {
    const customer = customerIndex(hub, o.connection, o.order);
    if (!customer) continue;
    const paid = PAID.includes(o.status);
    const entry: HistoryEntry | null = paid
      ? { at: o.order.paidAt ?? o.order.createdAt, total: o.order.total, currency: o.order.currency, ...(o.order.refundedAmount ? { refunded: o.order.refundedAmount } : {}) }
      : null;
    hub.store.segments.recordOrder(tx, customer, o.key, entry);
    touched.add(customer);
  }
  return [...touched];
}

/** After the ingest's transaction: the customers it touched are recomputed by a job (pushes are HTTP calls). */
export async function queueSegmentUpdates(hub: Hub, customers: string[]): Promise<void> {
  if (!customers.length || !hub.config.segments) return;
  await hub.ingestQueue.add(SEGMENTS_CUSTOMERS_JOB, { customers }, { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } });
}

export function rfmValues(cfg: SegmentsConfig, history: HistoryEntry[], now: number): { values?: RfmValues; unconverted: number } {
  let monetary = 0n;
  let unconverted = 0;
  let last = -Infinity;
  for (const h of history) {
    const net = toMinorUnits(h.total, h.currency) - (h.refunded ? toMinorUnits(h.refunded, h.currency) : 0n);
    const inReporting = convertMinor(net, h.currency, cfg);
    if (inReporting === undefined) unconverted++;
    else monetary += inReporting;
    last = Math.max(last, Date.parse(h.at));
  }
  if (!history.length) return { unconverted };
  return { values: { recencyDays: Math.max(0, Math.floor((now - last) / DAY)), frequency: history.length, monetaryMinor: monetary }, unconverted };
}

/** Minor units of `currency` in the reporting currency's minor units (undefined: no rate). */
function convertMinor(minor: bigint, currency: string, cfg: SegmentsConfig): bigint | undefined {
  const neg = minor < 0n;
  const v = toReportingMinor(fromMinorUnits(neg ? -minor : minor, currency), currency, cfg.reportingCurrency, cfg.rates);
  return v === undefined ? undefined : neg ? -v : v;
}

async function segmentName(cfg: SegmentsConfig, values: RfmValues, scores: RfmScores): Promise<string> {
  const input = { ...scores, recencyDays: values.recencyDays, frequency: values.frequency, monetary: formatReporting(values.monetaryMinor, cfg.reportingCurrency) };
  for (const rule of cfg.rules) if (await rule.when.evaluate(input)) return rule.name;
  return 'other';
}

function nearest(point: number[], centroids: number[][]): number {
  let best = 0;
  centroids.forEach((c, i) => {
    const d = c.reduce((s, x, j) => s + (x - point[j]) ** 2, 0);
    const b = centroids[best].reduce((s, x, j) => s + (x - point[j]) ** 2, 0);
    if (d < b) best = i;
  });
  return best;
}

const recordFields = (s: CustomerSegment, cfg: SegmentsConfig, at: string): Record<string, string> => ({
  recencyDays: String(s.values.recencyDays), frequency: String(s.values.frequency),
  monetary: formatReporting(s.values.monetaryMinor, cfg.reportingCurrency), currency: cfg.reportingCurrency,
  r: String(s.scores.r), f: String(s.scores.f), m: String(s.scores.m), segment: s.segment,
  ...(s.cluster !== undefined ? { cluster: String(s.cluster) } : {}), unconverted: String(s.unconverted), computedAt: at,
});

export interface RecomputeSummary { at: string; customers: number; sizes: Record<string, number>; clusters?: Record<string, number>; unconverted: number; pushed: number; pushFailed: number }

/** The full computation: every customer, new cuts (and clusters), pushes where the segment changed. */
export async function recomputeSegments(hub: Hub, now = Date.now()): Promise<RecomputeSummary> {
  const cfg = hub.config.segments!;
  const customers = await hub.store.segments.customers();
  const histories = await hub.store.segments.histories(customers);
  const rows: { customer: string; values: RfmValues; unconverted: number }[] = [];
  customers.forEach((customer, i) => {
    const { values, unconverted } = rfmValues(cfg, histories[i], now);
    if (values) rows.push({ customer, values, unconverted });
  });
  const cuts = populationCuts(rows.map((r) => r.values), cfg.quantiles);
  const model: Model = { at: new Date(now).toISOString(), cuts };
  let clusters: number[] | undefined;
  if (cfg.kmeans && rows.length) {
    const points = normalise(rows.map((r) => r.values));
    const cols = [rows.map((r) => -r.values.recencyDays), rows.map((r) => r.values.frequency), rows.map((r) => Number(r.values.monetaryMinor))];
    model.spans = { min: cols.map((c) => Math.min(...c)), max: cols.map((c) => Math.max(...c)) };
    const km = kmeans(points, cfg.kmeans.k, cfg.kmeans);
    clusters = km.assignment;
    model.centroids = km.centroids;
  }
  const result: CustomerSegment[] = [];
  for (const [i, r] of rows.entries()) {
    const scores = scoresOf(r.values, cuts);
    result.push({ customer: r.customer, values: r.values, scores, segment: await segmentName(cfg, r.values, scores), unconverted: r.unconverted, ...(clusters ? { cluster: clusters[i] } : {}) });
  }
  const sizes: Record<string, number> = {};
  const clusterSizes: Record<string, number> = {};
  for (const s of result) {
    sizes[s.segment] = (sizes[s.segment] ?? 0) + 1;
    if (s.cluster !== undefined) clusterSizes[s.cluster] = (clusterSizes[s.cluster] ?? 0) + 1;
  }
  const tx = hub.store.redis.multi();
  for (const s of result) hub.store.segments.saveRecord(tx, s.customer, recordFields(s, cfg, model.at));
  hub.store.segments.saveModel(tx, model, now, { segments: sizes, ...(clusters ? { clusters: clusterSizes } : {}) });
  await tx.exec();
  const unconverted = result.reduce((n, s) => n + s.unconverted, 0);
  if (unconverted) hub.logger.warn({ unconverted, reportingCurrency: cfg.reportingCurrency }, 'paid orders in currencies without an exchange rate were left out of the monetary values (segments.exchangeRates)');
  const pushes = await pushChanged(hub, result);
  return { at: model.at, customers: result.length, sizes, ...(clusters ? { clusters: clusterSizes } : {}), unconverted, ...pushes };
}

/** Customers an order touched, against the last full computation's cuts (a first computation when there is none). */
export async function updateCustomerSegments(hub: Hub, customers: string[], now = Date.now()): Promise<void> {
  const cfg = hub.config.segments!;
  const model = await hub.store.segments.model<Model>();
  if (!model) {
    await recomputeSegments(hub, now);
    return;
  }
  const histories = await hub.store.segments.histories(customers);
  const result: CustomerSegment[] = [];
  for (const [i, customer] of customers.entries()) {
    const { values, unconverted } = rfmValues(cfg, histories[i], now);
    if (!values) continue;
    const scores = scoresOf(values, model.cuts);
    let cluster: number | undefined;
    if (model.centroids && model.spans) {
      const raw = [-values.recencyDays, values.frequency, Number(values.monetaryMinor)];
      const point = raw.map((v, j) => (model.spans!.max[j] === model.spans!.min[j] ? 0 : Math.min(1, Math.max(0, (v - model.spans!.min[j]) / (model.spans!.max[j] - model.spans!.min[j])))));
      cluster = nearest(point, model.centroids);
    }
    result.push({ customer, values, scores, segment: await segmentName(cfg, values, scores), unconverted, ...(cluster !== undefined ? { cluster } : {}) });
  }
  const tx = hub.store.redis.multi();
  const at = new Date(now).toISOString();
  for (const s of result) hub.store.segments.saveRecord(tx, s.customer, recordFields(s, cfg, at));
  await tx.exec();
  await pushChanged(hub, result);
}

/**
 * Each customer whose segment differs from what a push connection last got is pushed there:
 * a canonical customer made from the contact data of their latest order (its sealed snapshot)
 * and the segment, through the connection's customer out-mapping. A failed push is logged by
 * its code and tried again at the next computation.
 */
async function pushChanged(hub: Hub, segments: CustomerSegment[]): Promise<{ pushed: number; pushFailed: number }> {
  const cfg = hub.config.segments!;
  let pushed = 0;
  let pushFailed = 0;
  if (!cfg.push.length || !segments.length) return { pushed, pushFailed };
  const records = await hub.store.segments.records(segments.map((s) => s.customer));
  for (const [i, s] of segments.entries()) {
    const rec: SegmentRecord = records[i];
    const due = cfg.push.filter((conn) => rec[`pushed:${conn}`] !== s.segment);
    if (!due.length) continue;
    const contact = await contactOf(hub, s.customer);
    if (!contact) continue;
    for (const connection of due) {
      try {
        const mapping = hub.config.echoMapping(connection, 'customer');
        if (!mapping) throw new Error('no customer out-mapping');
        const key = `customer:${s.customer}`;
        const [externalId] = await hub.store.externalIdsFor(connection, [key]);
        const payload = (await mapping.evaluate({ ...contact, segment: s.segment })) as Record<string, unknown>;
        const [outcome] = await hub.client(connection).push('customer', [{ key, externalId: externalId ?? undefined, payload }]);
        if (!outcome?.ok) throw outcome?.error ?? new Error('no answer');
        const tx = hub.store.tx();
        hub.store.link(tx, key, connection, 'customer', outcome.externalId);
        await tx.exec();
        await hub.store.segments.markPushed(s.customer, connection, s.segment);
        pushed++;
      } catch (err) {
        pushFailed++;
        hub.logger.warn({ connection, code: errorToJson(err).code }, 'a customer\'s segment could not be pushed; tried again at the next computation');
      }
    }
  }
  return { pushed, pushFailed };
}

/** The customer's contact data from their latest order (sealed snapshot), as a canonical customer. */
async function contactOf(hub: Hub, customer: string): Promise<CanonicalCustomer | null> {
  const orderKey = await hub.store.segments.contactOrder(customer);
  const sealed = orderKey ? await hub.store.orders.orderSnapshot(orderKey) : null;
  if (!sealed) return null;
  const order = openJsonBytes<CanonicalOrder>(hub.config.keyring, sealed, SNAPSHOT_AAD);
  const c = order.customer;
  if (!c?.email) return null;
  return { externalId: c.externalId ?? customer, email: c.email, firstName: c.firstName, lastName: c.lastName, phone: c.phone, updatedAt: order.updatedAt } as CanonicalCustomer;
}
