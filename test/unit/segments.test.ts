import { describe, expect, it } from 'vitest';
import { compileMapping } from '../../src/mappings/engine.js';
import { DEFAULT_SEGMENT_RULES, type SegmentsConfig } from '../../src/operations/segments/config.js';
import { kmeans, normalise, parseRate, populationCuts, quantileCuts, scoreOf, scoresOf, toReportingMinor, type RfmValues } from '../../src/operations/segments/rfm.js';
import { rfmValues } from '../../src/operations/segments/segments.js';

const rates = new Map([['EUR', parseRate('1.0825')], ['JPY', parseRate('0.0067')]]);
const cfg: SegmentsConfig = {
  reportingCurrency: 'USD', rates, quantiles: 5, schedule: '* * * * *', push: [],
  rules: DEFAULT_SEGMENT_RULES.map((r) => ({ name: r.name, when: compileMapping(r.when, r.name) })),
};

describe('money in the reporting currency', () => {
  it('converts exactly, rounding once half away from zero, across minor-unit sizes', () => {
    expect(toReportingMinor('10.00', 'EUR', 'USD', rates)).toBe(1083n); // 10.825 → 10.83
    expect(toReportingMinor('0.10', 'EUR', 'USD', rates)).toBe(11n); // 0.10825 → 0.11
    expect(toReportingMinor('1000', 'JPY', 'USD', rates)).toBe(670n); // 6.70
    expect(toReportingMinor('19.99', 'USD', 'USD', rates)).toBe(1999n);
    // A currency with no rate is not converted (the caller counts it), never taken at par.
    expect(toReportingMinor('5.00', 'GBP', 'USD', rates)).toBeUndefined();
    expect(() => parseRate('1e3')).toThrow();
  });

  it('a customer\'s values: days since the last paid order, paid orders, money net of refunds; unconverted orders counted apart', () => {
    const now = Date.parse('2025-06-30T12:00:00Z');
    const { values, unconverted } = rfmValues(cfg, [
      { at: '2025-06-20T09:00:00Z', total: '100.00', currency: 'USD' },
      { at: '2025-05-01T09:00:00Z', total: '50.00', refunded: '10.00', currency: 'EUR' },
      { at: '2025-04-01T09:00:00Z', total: '30.00', currency: 'GBP' },
    ], now);
    expect(values).toEqual({ recencyDays: 10, frequency: 3, monetaryMinor: 14330n }); // 100.00 + 40 × 1.0825
    expect(unconverted).toBe(1);
  });
});

describe('quantile scores', () => {
  it('cuts at ranks n·i/q; equal values get equal scores; recency scores the other way', () => {
    expect(quantileCuts([5, 1, 4, 2, 3], 5)).toEqual([2, 3, 4, 5]);
    expect([1, 2, 3, 4, 5].map((v) => scoreOf(v, [2, 3, 4, 5]))).toEqual([1, 2, 3, 4, 5]);
    expect(scoreOf(1, quantileCuts([1, 1, 2, 4, 5], 5))).toBe(2);
    const values: RfmValues[] = [
      { recencyDays: 1, frequency: 5, monetaryMinor: 50000n }, { recencyDays: 400, frequency: 1, monetaryMinor: 1000n },
    ];
    const cuts = populationCuts(values, 2);
    expect(scoresOf(values[0], cuts)).toEqual({ r: 2, f: 2, m: 2 });
    expect(scoresOf(values[1], cuts)).toEqual({ r: 1, f: 1, m: 1 });
  });
});

describe('k-means', () => {
  it('the same points and seed give the same clusters, numbered best first', () => {
    const values: RfmValues[] = [
      { recencyDays: 1, frequency: 9, monetaryMinor: 90000n }, { recencyDays: 2, frequency: 8, monetaryMinor: 85000n },
      { recencyDays: 300, frequency: 1, monetaryMinor: 1000n }, { recencyDays: 320, frequency: 1, monetaryMinor: 1500n },
      { recencyDays: 40, frequency: 3, monetaryMinor: 20000n }, { recencyDays: 45, frequency: 3, monetaryMinor: 21000n },
    ];
    const points = normalise(values);
    const a = kmeans(points, 3, { seed: 7, iterations: 50 });
    expect(kmeans(points, 3, { seed: 7, iterations: 50 })).toEqual(a);
    expect(a.assignment).toEqual([0, 0, 2, 2, 1, 1]);
  });
});
