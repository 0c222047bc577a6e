import { currencyExponent, toMinorUnits, fromMinorUnits } from '../../core/money.js';
import { prng } from '../../core/prng.js';

/**
 * RFM arithmetic, pure: money converted exactly into the reporting currency, quantile scores,
 * named segments' inputs and k-means over the normalised values (deterministic seeding).
 */
export interface RfmValues {
  /** Whole days since the customer's last paid order. */
  recencyDays: number;
  /** Paid orders. */
  frequency: number;
  /** What they paid, net of refunds, in the reporting currency's minor units. */
  monetaryMinor: bigint;
}

export interface RfmScores { r: number; f: number; m: number }

/** A rate as a fraction: 1 unit of the currency is num/den units of the reporting currency. */
export interface Rate { num: bigint; den: bigint }

/** "1.0825" → 10825/10000 (exact, no float). */
export function parseRate(rate: string): Rate {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(rate.trim());
  if (!m) throw new Error(`exchange rate "${rate}" is not a positive decimal`);
  const frac = m[2] ?? '';
  const num = BigInt(m[1] + frac);
  if (num === 0n) throw new Error(`exchange rate "${rate}" is zero`);
  return { num, den: 10n ** BigInt(frac.length) };
}

/**
 * An amount in `currency` in the reporting currency's minor units, rounded half away from zero
 * once, at the end. Undefined when no rate is configured for the currency: the caller counts it
 * as unconverted rather than mixing currencies.
 */
export function toReportingMinor(amount: string, currency: string, reporting: string, rates: ReadonlyMap<string, Rate>): bigint | undefined {
  const minor = toMinorUnits(amount, currency);
  if (currency === reporting) return minor;
  const rate = rates.get(currency);
  if (!rate) return undefined;
  const shift = currencyExponent(reporting) - currencyExponent(currency);
  let num = minor * rate.num;
  let den = rate.den;
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  const neg = num < 0n;
  const abs = neg ? -num : num;
  const q = (abs * 2n + den) / (2n * den);
  return neg ? -q : q;
}

export const formatReporting = (minor: bigint, reporting: string) => fromMinorUnits(minor, reporting);

/**
 * Quantile cut points of values (ascending): cut i is the value at rank floor(n·i/q), i = 1…q-1.
 * A value's score is 1 + the cuts it reaches, 1…q; equal values always get equal scores.
 */
export function quantileCuts(values: number[], q: number): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return [];
  return Array.from({ length: q - 1 }, (_, i) => sorted[Math.floor((sorted.length * (i + 1)) / q)]);
}

export function scoreOf(value: number, cuts: number[]): number {
  let s = 1;
  for (const c of cuts) if (value >= c) s++;
  return s;
}

export interface Cuts { r: number[]; f: number[]; m: number[] }

/** Cuts of a population. Recency scores the other way (the more recent, the higher): its cuts are of -days. */
export function populationCuts(values: RfmValues[], q: number): Cuts {
  return {
    r: quantileCuts(values.map((v) => -v.recencyDays), q),
    f: quantileCuts(values.map((v) => v.frequency), q),
    m: quantileCuts(values.map((v) => Number(v.monetaryMinor)), q),
  };
}

export function scoresOf(v: RfmValues, cuts: Cuts): RfmScores {
  return { r: scoreOf(-v.recencyDays, cuts.r), f: scoreOf(v.frequency, cuts.f), m: scoreOf(Number(v.monetaryMinor), cuts.m) };
}

/** Min-max normalised R, F, M (recency inverted, so 1 is the most recent): each in 0…1. */
export function normalise(values: RfmValues[]): [number, number, number][] {
  const cols = [values.map((v) => -v.recencyDays), values.map((v) => v.frequency), values.map((v) => Number(v.monetaryMinor))];
  const span = cols.map((c) => [Math.min(...c), Math.max(...c)] as const);
  return values.map((_, i) => cols.map((c, j) => (span[j][1] === span[j][0] ? 0 : (c[i] - span[j][0]) / (span[j][1] - span[j][0]))) as [number, number, number]);
}

const dist2 = (a: number[], b: number[]) => a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0);

/**
 * k-means (Lloyd) with k-means++ seeding from a seeded PRNG. Clusters are numbered by their
 * centroid's R+F+M, highest first, so cluster 0 is always the best customers and the numbers
 * do not move between runs of the same data.
 */
export function kmeans(points: [number, number, number][], k: number, opts: { seed: number; iterations: number }): { assignment: number[]; centroids: number[][] } {
  if (!points.length) return { assignment: [], centroids: [] };
  const kk = Math.min(k, points.length);
  const rand = prng(opts.seed);
  const centroids: number[][] = [points[Math.floor(rand() * points.length)]];
  while (centroids.length < kk) {
    const d = points.map((p) => Math.min(...centroids.map((c) => dist2(p, c))));
    const sum = d.reduce((a, b) => a + b, 0);
    if (sum === 0) break;
    let pick = rand() * sum;
    let idx = 0;
    while (idx < d.length - 1 && pick >= d[idx]) pick -= d[idx++];
    centroids.push(points[idx]);
  }
  let assignment = points.map(() => 0);
  for (let it = 0; it < opts.iterations; it++) {
    const next = points.map((p) => {
      let best = 0;
      centroids.forEach((c, i) => { if (dist2(p, c) < dist2(p, centroids[best])) best = i; });
      return best;
    });
    const moved = next.some((a, i) => a !== assignment[i]);
    assignment = next;
    centroids.forEach((_, c) => {
      const members = points.filter((_, i) => assignment[i] === c);
      if (members.length) centroids[c] = [0, 1, 2].map((j) => members.reduce((s, p) => s + p[j], 0) / members.length);
    });
    if (!moved && it > 0) break;
  }
  const order = centroids.map((c, i) => ({ i, s: c[0] + c[1] + c[2] })).sort((a, b) => b.s - a.s || a.i - b.i);
  const rank = new Map(order.map((o, n) => [o.i, n]));
  return { assignment: assignment.map((a) => rank.get(a)!), centroids: order.map((o) => centroids[o.i]) };
}
