import type { PullPage } from '../connectors/types.js';
import { DecryptError } from '../core/errors.js';
import { ciphertextBytes, openBytes, sealJsonBytes, type Keyring } from '../core/crypto.js';
import { getConnector } from '../connectors/registry.js';
import { webhookAad } from './webhook-sealing.js';

/**
 * Source pages: the records of a pulled page (or of a webhook event, a replay) in their API's
 * shape, sealed as one document while pushes from them are pending (StateStore.keepSources).
 *
 * Two forms. A page whose connector kept its answer's bytes (PullPage.raw) is sealed as those
 * bytes behind a header line, with no JSON written again:
 *
 *   #synchub-page 1\n{"cursor":…,"done":…,"recordsAt":"orders"}\n<the body as received>
 *   #synchub-page 1\n{"cursor":…,"done":…,"connector":"shopify","format":"bulk-order"}\n<the bytes>
 *
 * and its records are the body's `recordsAt` array, or what the connector's
 * `pageFormats[format]` reads from the bytes. Any other page is its JSON (`{ records, … }`).
 * A '#' cannot start JSON, so the two forms never mix up.
 *
 * A webhook event's page (SOURCE_PAGE_AAD, one record) may also be the event's record as the
 * route sealed it (AAD `webhook:<connection>`), kept as it is behind a line naming its
 * connection, not opened and sealed again (eventSourcePage):
 *
 *   #synchub-event 1 <connection>\n<the record sealed, bytes form>
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
  if ('recordsAt' in raw) return keyring.encryptBytes([FRAME, JSON.stringify({ ...rest, recordsAt: raw.recordsAt }), '\n', raw.body], aad);
  return keyring.encryptBytes([FRAME, JSON.stringify({ ...rest, connector: raw.connector, format: raw.format }), '\n', ...raw.body], aad);
}

const EVENT_FRAME = Buffer.from('#synchub-event 1 ', 'latin1');

/** A webhook event's source page: its record as the route sealed it (`sealed`, enc:v1 text, AAD webhookAad(connection)). */
export function eventSourcePage(connection: string, sealed: string): Buffer {
  let frame = eventFrames.get(connection);
  if (!frame) eventFrames.set(connection, (frame = Buffer.concat([EVENT_FRAME, Buffer.from(`${connection}\n`, 'utf8')])));
  return ciphertextBytes(sealed, frame);
}

/** Each connection's page frame, made once (a handful: one per configured connection). */
const eventFrames = new Map<string, Buffer>();

export function openSourcePage(keyring: Keyring, sealed: Buffer, aad: string): SourcePage {
  if (sealed.subarray(0, EVENT_FRAME.length).equals(EVENT_FRAME)) {
    // Only ingest keeps such pages, and only under SOURCE_PAGE_AAD: anywhere else one was moved there.
    if (aad !== SOURCE_PAGE_AAD) throw new DecryptError(`${aad}: a webhook event's page is kept where a page of other associated data was`);
    const end = sealed.indexOf(0x0a, EVENT_FRAME.length);
    if (end < 0) throw new DecryptError(`${aad}: the kept webhook event's page names no connection`);
    const connection = sealed.subarray(EVENT_FRAME.length, end).toString('utf8');
    return { records: [JSON.parse(keyring.decryptBytes(sealed.subarray(end + 1), webhookAad(connection)).toString('utf8'))] };
  }
  const plain = openBytes(keyring, sealed, aad);
  if (!plain.subarray(0, FRAME.length).equals(FRAME)) return JSON.parse(plain.toString('utf8')) as SourcePage;
  const end = plain.indexOf(0x0a, FRAME.length);
  const { recordsAt, connector, format, ...header } = JSON.parse(plain.subarray(FRAME.length, end).toString('utf8')) as Omit<PullPage, 'records' | 'raw'> & { recordsAt?: string; connector?: string; format?: string };
  const body = plain.subarray(end + 1);
  if (format !== undefined) {
    const read = connector === undefined ? undefined : getConnector(connector)?.pageFormats?.[format];
    if (!read) throw new DecryptError(`${aad}: the kept page is in a format no connector reads (${connector}/${format})`);
    return { ...header, records: read(body) };
  }
  const records = (JSON.parse(body.toString('utf8')) as Record<string, unknown> | null)?.[recordsAt!];
  if (!Array.isArray(records)) throw new DecryptError(`${aad}: the kept page has no "${recordsAt}" array`);
  return { ...header, records };
}
