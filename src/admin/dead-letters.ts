import { openJson } from '../core/crypto.js';
import type { Hub } from '../jobs/hub.js';
import { SOURCE_AAD } from '../jobs/ingest.js';
import type { DeadLetter } from '../state/store.js';
import { maskCanonical, maskRawRecord } from './mask.js';
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

/** Dead letters as admins see them: the sealed source stays out of lists. */
export function deadLetterSummary(dl: DeadLetter) {
  const { source: _sealed, ...rest } = dl;
  return rest;
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
    return { total, items: await load(hub, ids), scanned: ids.length };
  }
  const items: DeadLetter[] = [];
  let total = 0;
  let scanned = 0;
  for (let start = 0; scanned < SCAN_LIMIT; start += SCAN_CHUNK) {
    const ids = await byScore(start, SCAN_CHUNK);
    if (!ids.length) break;
    scanned += ids.length;
    for (const dl of await load(hub, ids)) {
      if (!narrow(dl)) continue;
      if (total >= f.offset && items.length < f.limit) items.push(dl);
      total++;
    }
  }
  return { total, items, scanned };
}

async function load(hub: Hub, ids: string[]): Promise<DeadLetter[]> {
  if (!ids.length) return [];
  const raws = await hub.redis.mget(ids.map((id) => hub.store.k('dlq', id)));
  return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as DeadLetter);
}

/**
 * One dead letter in full: its source record opened and masked, and what the
 * current in-mapping makes of it (masked as the canonical schema says), so an
 * admin sees whether a replay would now pass.
 */
export async function showDeadLetter(hub: Hub, dl: DeadLetter) {
  // A notification's event holds no personal data: shown as it is.
  if (dl.step === 'notify') return { ...deadLetterSummary(dl), source: openJson(hub.config.keyring, dl.source, NOTIFY_AAD) };
  const source = openJson(hub.config.keyring, dl.source, SOURCE_AAD);
  const pipeline = hub.config.pipelines.get(dl.pipeline);
  let canonical: unknown = null;
  let currentMapping: { ok: boolean; error?: unknown } = { ok: false, error: { code: 'not_found', message: `pipeline ${dl.pipeline} is not in the config` } };
  if (pipeline) {
    try {
      let rec = await pipeline.source.mapIn.evaluate(source);
      if (pipeline.transform) rec = await pipeline.transform.evaluate(rec);
      canonical = maskCanonical(dl.entity, rec);
      currentMapping = { ok: true };
    } catch (err) {
      currentMapping = { ok: false, error: (err as { toJSON?: () => unknown }).toJSON?.() ?? { message: (err as Error).message } };
    }
  }
  return { ...deadLetterSummary(dl), source: maskRawRecord(source), canonical, currentMapping };
}
