import { describe, expect, it } from 'vitest';
import { batchRecordsBytes } from '../../src/state/push-records.js';

describe('a push batch\'s records as bytes', () => {
  it('are the bytes of the records\' JSON joined into an array, any slice of them', () => {
    const records = [{ a: 1 }, { name: 'Zoë 🎉 \u2028', lone: '\ud800x' }, [], 'text', { n: -0.5 }].map((r) => JSON.stringify(r));
    for (let from = 0; from <= records.length; from++) {
      for (let to = from; to <= records.length; to++) {
        expect(batchRecordsBytes(records, from, to).equals(Buffer.from(`[${records.slice(from, to).join(',')}]`, 'utf8'))).toBe(true);
      }
    }
  });
});
