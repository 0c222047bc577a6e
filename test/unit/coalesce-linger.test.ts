import { describe, expect, it } from 'vitest';
import { fillsSoon, MAX_LINGER_UNDER_LOAD, partBatchLook, stillArriving } from '../../src/jobs/coalesce.js';

/**
 * A part batch waits up to 4 lingers only while more of its own records are likely on the way
 * (arriving fast enough to fill it, or a stream that paused while webhook events still wait to
 * be ingested) or push jobs wait for its target (src/jobs/coalesce.ts): decided from the
 * pipeline's own list, so a trickle is not held because another pipeline is busy.
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

  describe('a part batch whose oldest record has waited a linger (partBatchLook)', () => {
    const idle = { ingesting: 0, pushing: 0 };
    const burst = Array.from({ length: 60 }, (_, i) => 10_000 + Math.floor(i / 10) * 20);
    const until = 10_000 + MAX_LINGER_UNDER_LOAD * linger;

    it('a trickle goes, even while other pipelines\' events wait to be ingested', () => {
      expect(partBatchLook([10_000], cap, linger, 10_250, idle)).toBeUndefined();
      expect(partBatchLook([10_000], cap, linger, 10_250, { ingesting: 500, pushing: 0 })).toBeUndefined();
    });

    it('a burst still filling it is looked at again a linger after its newest record, and goes then if that was the last', () => {
      expect(partBatchLook(burst, cap, linger, 10_250, idle)).toBe(10_100 + linger + 1);
      expect(partBatchLook(burst, cap, linger, 10_100 + linger + 1, idle)).toBeUndefined();
    });

    it('a stream whose appends paused while events still wait to be ingested (the hub behind) waits, a linger at a time, up to the longest wait', () => {
      expect(partBatchLook(burst, cap, linger, 10_500, { ingesting: 40, pushing: 0 })).toBe(10_750);
      expect(partBatchLook(burst, cap, linger, 10_900, { ingesting: 40, pushing: 0 })).toBe(until);
      expect(partBatchLook(burst, cap, linger, until, { ingesting: 40, pushing: 0 })).toBeUndefined();
    });

    it('push jobs waiting for the target (its rate limit) hold it to the longest wait: going sooner would spend a call for nothing', () => {
      expect(partBatchLook([10_000], cap, linger, 10_250, { ingesting: 0, pushing: 3 })).toBe(until);
      expect(partBatchLook([10_000], cap, linger, until + 1, { ingesting: 0, pushing: 3 })).toBeUndefined();
    });
  });
});
