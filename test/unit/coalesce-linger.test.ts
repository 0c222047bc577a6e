import { describe, expect, it } from 'vitest';
import { fillsSoon, stillArriving } from '../../src/jobs/coalesce.js';

/**
 * A part batch waits up to 4 lingers only while its own records keep coming fast enough to
 * fill it by then (src/jobs/coalesce.ts): decided from the pipeline's own list, so a light
 * pipeline's record is not held because another pipeline is busy.
 */
describe('how long a part batch of coalesced records waits', () => {
  const linger = 250;
  const cap = 100;

  it('a trickle (one record in the list) goes after one linger, however busy the rest of the hub is', () => {
    expect(fillsSoon([10_000], cap, linger, 10_250)).toBe(false);
  });

  it('records that came in one append and stopped: no more are on the way', () => {
    expect(fillsSoon(Array(30).fill(10_000), cap, linger, 10_250)).toBe(false);
  });

  it('records arriving at a rate that fills the batch within 4 lingers: the batch waits for them', () => {
    // 60 records over 120 ms, in appends of 10 every 20 ms: 40 more take 80 ms.
    const ats = Array.from({ length: 60 }, (_, i) => 10_000 + Math.floor(i / 10) * 20);
    expect(fillsSoon(ats, cap, linger, 10_250)).toBe(true);
  });

  it('records arriving too slowly to fill the batch within 4 lingers: it goes after one', () => {
    // 5 records, one every 50 ms: 95 more would take 4.75 s.
    expect(fillsSoon([10_000, 10_050, 10_100, 10_150, 10_200], cap, linger, 10_250)).toBe(false);
  });

  it('a trickle and a pipeline whose records stopped arriving are not taken as still arriving (another pipeline\'s backlog does not hold them)', () => {
    expect(stillArriving([10_000], linger, 10_250)).toBe(false);
    expect(stillArriving(Array(30).fill(10_000), linger, 10_250)).toBe(false);
    expect(stillArriving([10_000, 10_100], linger, 10_400)).toBe(false);
    expect(stillArriving([10_000, 10_100], linger, 10_250)).toBe(true);
  });

  it('a burst that has stopped (its newest record older than a linger) does not hold the batch', () => {
    const ats = Array.from({ length: 60 }, (_, i) => 10_000 + Math.floor(i / 10) * 20);
    expect(fillsSoon(ats, cap, linger, 10_100 + linger + 1)).toBe(false);
  });
});
