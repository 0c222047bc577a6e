import { openJson } from '../core/crypto.js';
import type { Hub } from '../jobs/hub.js';
import { SOURCE_AAD } from '../jobs/source-pages.js';
import type { DeadLetter } from '../state/store.js';
import { DEAD_LETTER_ERROR_AAD, PersonalValues } from '../core/redact.js';
import { maskCanonicalRecord, maskRawRecord, maskText, personalValuesOf } from './mask.js';
import { NOTIFY_AAD } from '../notify/worker.js';

export interface DeadLetterFilter {
  pipeline?: string;
  step?: string;
  target?: string;
  /** Error code, e.g. mapping_failed. */
  code?: string;
  /** createdAt bounds, ISO. */
  from?: string;
  to?: string;
  offset: number;
  limit: number;
}

/**
 * Dead letters as admins see them: the sealed source and sealed error stay out of lists;
 * the reason was scrubbed when written (and is scrubbed again, for letters written before).
 */
export function deadLetterSummary(dl: DeadLetter) {
  const { source: _sealed, errorSealed: _sealedError, ...rest } = dl;
  return { ...rest, error: maskText(rest.error, { values: new PersonalValues() }) };
}

const SCAN_CHUNK = 500;
/** Filters other than the pipeline read the letters themselves; a bound keeps one request cheap. */
const SCAN_LIMIT = 20_000;

/** Newest first. */
export async function queryDeadLetters(hub: Hub, f: DeadLetterFilter): Promise<{ total: number; items: DeadLetter[]; scanned: number }> {
  const { store, redis } = hub;
  const index = f.pipeline ? store.k('dlq', 'p', f.pipeline) : store.k('dlq', 'all');
  const min = f.from ? Date.parse(f.from) : -Infinity;
  const max = f.to ? Date.parse(f.to) : Infinity;
  const narrow = (dl: DeadLetter) => (!f.step || dl.step === f.step) && (!f.target || dl.target === f.target) && (!f.code || dl.error.code === f.code);
  const byScore = (start: number, count: number) => redis.zrevrangebyscore(index, max === Infinity ? '+inf' : max, min === -Infinity ? '-inf' : min, 'LIMIT', start, count);
  if (!f.step && !f.target && !f.code) {
    const [total, ids] = await Promise.all([
      redis.zcount(index, min === -Infinity ? '-inf' : min, max === Infinity ? '+inf' : max),
      byScore(f.offset, f.limit),
    ]);
    return { total, items: await hub.store.deadLetters(ids), scanned: ids.length };
  }
  const items: DeadLetter[] = [];
  let total = 0;
  let scanned = 0;
  for (let start = 0; scanned < SCAN_LIMIT; start += SCAN_CHUNK) {
    const ids = await byScore(start, SCAN_CHUNK);
    if (!ids.length) break;
    scanned += ids.length;
    for (const dl of await hub.store.deadLetters(ids)) {
      if (!narrow(dl)) continue;
      if (total >= f.offset && items.length < f.limit) items.push(dl);
      total++;
    }
  }
  return { total, items, scanned };
}

/**
 * One dead letter in full: its source record opened and masked, what the current
 * in-mapping makes of it (masked), so an admin sees whether a replay would now pass,
 * and the remote system's own error (opened from its sealed copy), masked by the
 * record's personal values like the rest.
 */
export async function showDeadLetter(hub: Hub, dl: DeadLetter) {
  // Erased with its person: only the mark is left.
  if (dl.erased) return { ...deadLetterSummary(dl), source: null };
  // A notification's event holds no personal data: shown as it is.
  if (dl.step === 'notify') return { ...deadLetterSummary(dl), source: openJson(hub.config.keyring, dl.source, NOTIFY_AAD) };
  const { keyring } = hub.config;
  const source = dl.source ? openJson(keyring, dl.source, SOURCE_AAD) : null;
  const pipeline = hub.config.pipelines.get(dl.pipeline);
  const paths = pipeline ? hub.config.connectorOf(pipeline.source.connection).personalFields : [];
  const values = personalValuesOf(source, paths);
  let rec: unknown;
  let canonical: unknown = null;
  let currentMapping: { ok: boolean; error?: unknown } = { ok: false, error: { code: 'not_found', message: `pipeline ${dl.pipeline} is not in the config` } };
  if (pipeline) {
    try {
      rec = await pipeline.source.mapIn.evaluate(source);
      if (pipeline.transform) rec = await pipeline.transform.evaluate(rec);
      values.addCanonical(dl.entity, rec);
      currentMapping = { ok: true };
    } catch (err) {
      currentMapping = { ok: false, error: (err as { toJSON?: () => unknown }).toJSON?.() ?? { message: (err as Error).message } };
    }
  }
  const scope = { values, paths };
  if (rec !== undefined) canonical = maskCanonicalRecord(dl.entity, rec, scope);
  const remoteError = dl.errorSealed ? maskText(openJson(keyring, dl.errorSealed, DEAD_LETTER_ERROR_AAD), scope) : undefined;
  return {
    ...deadLetterSummary(dl), error: maskText(dl.error, scope), remoteError,
    source: maskRawRecord(source, scope), canonical, currentMapping: maskText(currentMapping, scope),
  };
}
