import type { Entity } from '../core/canonical/schemas.js';
import type { PushItemData } from './queues.js';

/**
 * One record waiting in a coalesce list (coalesce.ts), and, copied inside Redis, in a coalesced
 * push batch's records list (`recordsEach`, push.ts): the push item, its source entity, when it
 * was appended, and its canonical record sealed alone (AAD coalescedEntryAad).
 */
export interface CoalescedEntry { item: PushItemData; sourceEntity: Entity; sealed: Buffer; /** When it was appended (ms since the epoch). */ at: number }

export const coalescedEntryAad = (target: string, delivery: string) => `coalesce:${target}:${delivery}`;

const NEWLINE = 0x0a;

/**
 * An entry as bytes: its JSON header (item, sourceEntity, at; JSON.stringify leaves no raw
 * newline in it), a newline, then the sealed record's bytes as they are. Entries appended before
 * December 2026 were one JSON object with the sealed record in base64 (a third larger, and
 * encoded, escaped and decoded on every append and flush); those are still read.
 */
export function coalescedEntryBytes(header: Omit<CoalescedEntry, 'sealed'>, sealed: Buffer): Buffer {
  return Buffer.concat([coalescedEntryHead(header), sealed]);
}

/** An entry's header line (its JSON and the newline): sealing the record behind it (Keyring.encryptBytes' prefix) makes the entry in one buffer. */
export function coalescedEntryHead(header: Omit<CoalescedEntry, 'sealed'>): Buffer {
  return Buffer.from(`${JSON.stringify(header)}\n`, 'utf8');
}

/**
 * Only an entry's sealed record, for push: its job carries each item already, and the record's
 * AAD names its delivery, so the header is not parsed again for every record pushed.
 */
export function coalescedEntrySealed(raw: Buffer): Buffer {
  const nl = raw.indexOf(NEWLINE);
  return nl < 0 ? parseCoalescedEntry(raw).sealed : raw.subarray(nl + 1);
}

export function parseCoalescedEntry(raw: Buffer): CoalescedEntry {
  const nl = raw.indexOf(NEWLINE);
  if (nl < 0) {
    const legacy = JSON.parse(raw.toString('utf8')) as Omit<CoalescedEntry, 'sealed'> & { sealed: string };
    return { ...legacy, sealed: Buffer.from(legacy.sealed, 'base64') };
  }
  return { ...(JSON.parse(raw.subarray(0, nl).toString('utf8')) as Omit<CoalescedEntry, 'sealed'>), sealed: raw.subarray(nl + 1) };
}
