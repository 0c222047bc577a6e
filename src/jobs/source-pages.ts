import type { PullPage } from '../connectors/types.js';
import { DecryptError } from '../core/errors.js';
import { openBytes, sealJsonBytes, type Keyring } from '../core/crypto.js';

/**
 * Source pages: the records of a pulled page (or of a webhook event, a replay) in their API's
 * shape, sealed as one document while pushes from them are pending (StateStore.keepSources).
 *
 * Two forms. A page whose connector kept its answer's body (PullPage.raw) is sealed as that
 * body's bytes behind a header line, with no JSON written again:
 *
 *   #synchub-page 1\n{"cursor":…,"done":…,"recordsAt":"orders"}\n<the body as received>
 *
 * and its records are the body's `recordsAt` array. Any other page is its JSON
 * (`{ records, … }`). A '#' cannot start JSON, so the two forms never mix up.
 */
/** Associated data of a record's sealed source (dead letters, legacy jobs). */
export const SOURCE_AAD = 'source';
/** A source page sealed by ingest (webhook events, replays); pulled pages carry their own. */
export const SOURCE_PAGE_AAD = 'source-page';

const FRAME = Buffer.from('#synchub-page 1\n', 'latin1');

export type SourcePage = Partial<Omit<PullPage, 'raw'>> & { records: unknown[] };

export function sealPulledPage(keyring: Keyring, page: PullPage, aad: string): Buffer {
  const { raw, records, ...rest } = page;
  if (!raw) return sealJsonBytes(keyring, { records, ...rest }, aad);
  return keyring.encryptBytes([FRAME, JSON.stringify({ ...rest, recordsAt: raw.recordsAt }), '\n', raw.body], aad);
}

export function openSourcePage(keyring: Keyring, sealed: Buffer, aad: string): SourcePage {
  const plain = openBytes(keyring, sealed, aad);
  if (!plain.subarray(0, FRAME.length).equals(FRAME)) return JSON.parse(plain.toString('utf8')) as SourcePage;
  const end = plain.indexOf(0x0a, FRAME.length);
  const { recordsAt, ...header } = JSON.parse(plain.subarray(FRAME.length, end).toString('utf8')) as Omit<PullPage, 'records' | 'raw'> & { recordsAt: string };
  const records = (JSON.parse(plain.subarray(end + 1).toString('utf8')) as Record<string, unknown> | null)?.[recordsAt];
  if (!Array.isArray(records)) throw new DecryptError(`${aad}: the kept page has no "${recordsAt}" array`);
  return { ...header, records };
}
