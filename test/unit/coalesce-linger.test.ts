import { describe, expect, it } from 'vitest';
import { fillsSoon, nextLook, stillArriving } from '../../src/jobs/coalesce.js';

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

  it('a batch held for a burst is looked at again a linger after its newest record, so the burst\'s end waits one linger, not four', () => {
    const ats = Array.from({ length: 60 }, (_, i) => 10_000 + Math.floor(i / 10) * 20);
    const due = 10_000 + 4 * linger;
    // Still arriving at 10,150: look again at 10,100 + linger, not at 11,000.
    expect(nextLook(ats, due, linger, 10_150)).toBe(10_100 + linger + 1);
    // Looked at again then, the burst has stopped: fillsSoon no longer holds it, and it goes.
    expect(fillsSoon(ats, cap, linger, 10_100 + linger + 1)).toBe(false);
    // A batch whose records stopped arriving (held for push jobs waiting, or one linger) keeps its due time.
    expect(nextLook([10_000], 10_000 + linger, linger, 10_100)).toBe(10_000 + linger);
    expect(nextLook(Array(30).fill(10_000), due, linger, 10_300)).toBe(due);
    // Never earlier than the due time, never in the past.
    expect(nextLook([10_000, 10_900], 10_500, linger, 10_400)).toBe(10_500);
    expect(nextLook([10_000, 10_100], due, linger, 10_350)).toBe(10_351);
  });
});
