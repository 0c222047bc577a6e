import { describe, expect, it } from 'vitest';
import { createKeyring, generateKeySpec } from '../../src/core/crypto.js';
import { coalescedEntryAad, coalescedEntryBytes, coalescedEntryHead, coalescedEntrySealed, parseCoalescedEntry } from '../../src/jobs/coalesced-entry.js';

const ring = createKeyring(generateKeySpec('k1'));
const header = { item: { key: 'order:shop:1', delivery: 'wh_shop_e1_p>crm', version: 1, srcIndex: 0, srcPage: 'ingest:wh_shop_e1_p' }, sourceEntity: 'order' as const, at: 1_700_000_000_000 };
const record = JSON.stringify({ id: '1', customer: { email: 'bob@example.com' } });

describe('coalesce list entries', () => {
  it("push reads an entry's sealed record alone, in the bytes form and in the JSON form of entries appended before", () => {
    const sealed = ring.encryptBytes(record, coalescedEntryAad('crm', header.item.delivery));
    const entry = coalescedEntryBytes(header, sealed);
    expect(coalescedEntrySealed(entry).equals(sealed)).toBe(true);
    expect(parseCoalescedEntry(entry)).toEqual({ ...header, sealed });
    // Sealed behind its header in one buffer (as coalesce.ts appends it): the same entry.
    const inOne = ring.encryptBytes(record, coalescedEntryAad('crm', header.item.delivery), coalescedEntryHead(header));
    expect(parseCoalescedEntry(inOne).item).toEqual(header.item);
    expect(ring.decryptBytes(coalescedEntrySealed(inOne), coalescedEntryAad('crm', header.item.delivery)).toString('utf8')).toBe(record);
    const legacy = Buffer.from(JSON.stringify({ ...header, sealed: sealed.toString('base64') }));
    expect(coalescedEntrySealed(legacy).equals(sealed)).toBe(true);
    expect(ring.decryptBytes(coalescedEntrySealed(legacy), coalescedEntryAad('crm', header.item.delivery)).toString('utf8')).toBe(record);
  });
});
