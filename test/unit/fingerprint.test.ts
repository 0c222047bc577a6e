/**
 * Fingerprints are stored (`<version>:<mac>` per record and target): the text they are a MAC of
 * must never change, or every record's link and fingerprint would look changed.
 */
import { describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/core/crypto.js';
import { payloadMac, stableStringify } from '../../src/jobs/fingerprint.js';

/** stableStringify as it was first written (sorted keys, key by key): the text fingerprints are MACs of. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${reference((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

const payload = {
  properties: { dealname: 'Order 1002', amount: '52.59', deal_currency_code: 'USD', dealstage: 'closedwon', pipeline: 'default', closedate: '2026-12-07T11:15:32.324Z', synchub_order_number: '1002' },
  associations: [{ to: { id: 7 }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 3 }] }],
  '10': 1, '9': [null, 'é\u2028"\\'], b: { z: true, a: -0 },
};

describe('fingerprints', () => {
  it('keeps the MAC a known payload had (computed before stableStringify wrote plain data with JSON.stringify)', () => {
    const keyring = createKeyring(`k1:${Buffer.alloc(32, 7).toString('base64')}`);
    expect(payloadMac(keyring, payload)).toBe('m7wCU-pn3nfGPmTvmMmMAgPXH4PVbV27gR-H7YkDT-Y');
    expect(stableStringify(payload)).toBe('{"10":1,"9":[null,"é\u2028\\"\\\\"],"associations":[{"to":{"id":7},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":3}]}],"b":{"a":0,"z":true},"properties":{"amount":"52.59","closedate":"2026-12-07T11:15:32.324Z","deal_currency_code":"USD","dealname":"Order 1002","dealstage":"closedwon","pipeline":"default","synchub_order_number":"1002"}}');
  });

  it('writes what it always wrote for values that are not plain data', () => {
    class Thing { constructor(readonly x = 1) {} }
    const nullProto = Object.assign(Object.create(null), { b: 1, a: { toString: 'x' } });
    const withProtoKey = JSON.parse('{"__proto__": {"y": 1}, "a": {"b": 2}}');
    const values: unknown[] = [
      undefined, null, 1, 'x', true, [], {}, [undefined, () => 1, Symbol('s'), NaN, -0, Infinity], { a: undefined, b: 1 }, { f: () => 1, b: 2 },
      { d: new Date(0), e: [new Date(1)] }, { s: Object('text') }, { m: new Map([[1, 2]]) }, { t: new Thing() }, nullProto, withProtoKey,
      { constructor: 'c', toString: 1, a: { valueOf: [1] } }, { hasOwnProperty: { b: 1 }, nested: { b: 2 } }, [[[{ b: 1, a: [2, { d: 3, c: 4 }] }]]],
      { '2': 'b', '10': 'a', '-1': 'c', '1.5': 'd', ä: 1, Z: 2, a: 3, '': 4 }, { deep: { deeper: { deepest: [{ x: null }] } } },
    ];
    // Many keys (past the few a payload has), some in several objects.
    const many = (from: number, to: number) => Object.fromEntries(Array.from({ length: to - from }, (_, i) => [`k${(from + i) * 7919 % 1000}`, i]));
    values.push({ ...many(0, 100), nested: many(50, 180), list: [many(60, 64), many(170, 260)] });
    for (const value of values) expect(stableStringify(value)).toBe(reference(value));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => stableStringify(cyclic)).toThrow();
  });

  it('writes what it always wrote for generated plain data', () => {
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const KEYS = ['a', 'b', 'B', '_', 'é', '1', '01', '10', '2', 'x y', 'id', 'amount', '"q"', '\u2028', 'z'];
    const make = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.3) return [null, true, false, 0, -1.5, 1e21, 'text', '', 'é"\\\n'][Math.floor(rand() * 9)];
      if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => make(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 6); i > 0; i--) o[KEYS[Math.floor(rand() * KEYS.length)]] = make(depth + 1);
      return o;
    };
    for (let i = 0; i < 3000; i++) {
      const value = make(0);
      expect(stableStringify(value)).toBe(reference(value));
    }
  });
});
