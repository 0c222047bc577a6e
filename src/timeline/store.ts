import type { ChainableCommander, Redis } from 'ioredis';
import type { TimelineSettings } from '../config/load.js';
import type { Keyring } from '../core/crypto.js';
import { DecryptError } from '../core/errors.js';
import { dayOf, emptyRows, rowSteps, sheetAad, TIMELINE_APPEND, TimelineSheet, type SheetJson, type SheetWriter } from './sheet.js';
import type { TimelineEntry, TimelineStep } from './steps.js';

/**
 * Where record timelines live in Redis (all under the hub's prefix):
 *
 * - `tl:sheet:<id>`: the steps one batch took (an ingest call, a push job's commit, one
 *   notification), sealed together with the keyring (AAD `timeline:<id>`): a row per record
 *   (SheetJson, ./sheet.ts). One seal per batch, not per step or record. Expires after
 *   timeline.retentionDays.
 * - `tl:day:<day>` (days since the epoch, UTC): the index of the sheets written that day, a
 *   hash: record key → its entries of the day (`<sheet id>#<row>` pointers, no content), at
 *   most timeline.maxEntries, the oldest dropped first. Expires timeline.retentionDays after
 *   its day ends. A batch writes one sheet and one index, whatever its number of records
 *   (./sheet.ts); reading one record reads one field of each day within the retention, in one
 *   round trip.
 * - Before 2026-12-07: `tl:rec:<key>` (a list of the record's pointers) and `tl:email:<blind
 *   index>` (a set of order keys), a key per record and per email; then, until branch
 *   tlcheap2, `@<blind index>` fields in the day's index (the orders that named that customer
 *   email that day, at most 50). None is written any more (search finds orders by email
 *   through the person index, ./search.ts); they are read beside the days until they expire
 *   (they had the same retention), and erased with them.
 *
 * A pointer whose sheet expired is counted, not shown. A sheet and its day's index are written
 * by one script call on the transaction the batch commits with (no round trip of its own); in
 * a Redis Cluster both carry the hub's state hash tag, like the state store's other multi-key
 * scripts (src/state/key-layout.ts). Both are per batch / per day, so they could later take a
 * per-shard tag of their own with the batch's records.
 */
export class TimelineStore implements SheetWriter {
  constructor(
    private readonly redis: Redis,
    private readonly k: (...parts: string[]) => string,
    private readonly keyring: Keyring,
    readonly settings: TimelineSettings,
  ) {
    redis.defineCommand('synchubTimelineAppend', { lua: TIMELINE_APPEND });
  }

  /** A new sheet for one batch's steps. */
  sheet(pipeline?: string): TimelineSheet {
    return new TimelineSheet(this, pipeline);
  }

  sheetKey(id: string): string {
    return this.k('tl', 'sheet', id);
  }

  dayKey(day: number): string {
    return this.k('tl', 'day', String(day));
  }

  seal(json: string, id: string): Buffer {
    return this.keyring.encryptBytes(json, sheetAad(id));
  }

  /** The days whose index may still hold entries, oldest first (one more each side for clocks). */
  private days(): number[] {
    const today = dayOf(Date.now());
    const out: number[] = [];
    for (let d = today - this.settings.retentionDays - 1; d <= today + 1; d++) out.push(d);
    return out;
  }

  /** Writes a few steps now, in their own round trip (off the data path: notifications, replays). */
  async append(pipeline: string | undefined, steps: { key: string; step: TimelineStep }[]): Promise<void> {
    const sheet = this.sheet(pipeline);
    for (const s of steps) sheet.add(s.key, s.step);
    const tx = this.redis.multi();
    sheet.write(tx);
    await tx.exec();
  }

  /** Each record's pointers, oldest first: the former list, then each day's (one round trip). */
  private async pointersOf(keys: string[]): Promise<string[][]> {
    const days = this.days();
    const pipe = this.redis.pipeline();
    for (const key of keys) pipe.lrange(this.k('tl', 'rec', key), 0, -1);
    for (const day of days) pipe.hmget(this.dayKey(day), ...keys);
    const res = (await pipe.exec()) ?? [];
    for (const [err] of res) if (err) throw err;
    return keys.map((_, i) => {
      const out = [...(res[i][1] as string[])];
      for (let d = 0; d < days.length; d++) {
        const v = (res[keys.length + d][1] as (string | null)[])[i];
        if (v) out.push(...v.split(' '));
      }
      return out;
    });
  }

  /**
   * Erasure (src/operations/erasure.ts): the records' entries are deleted on `tx`, and their
   * rows in the sealed sheets emptied (sealed again in place with their time to live); the
   * email index of `blindIndex` is deleted. Answers how many rows were emptied.
   */
  async erase(tx: ChainableCommander, keys: string[], blindIndex?: string): Promise<number> {
    const wanted = new Set(keys);
    const sheets = new Set<string>();
    if (keys.length) for (const list of await this.pointersOf(keys)) for (const p of list) sheets.add(p.slice(0, p.lastIndexOf('#')));
    const fields = blindIndex ? [...keys, `@${blindIndex}`] : keys;
    for (const key of keys) tx.del(this.k('tl', 'rec', key));
    if (fields.length) for (const day of this.days()) tx.hdel(this.dayKey(day), ...fields);
    if (blindIndex) tx.del(this.k('tl', 'email', blindIndex));
    let emptied = 0;
    for (const id of sheets) {
      const bytes = await this.redis.getBuffer(this.sheetKey(id));
      if (!bytes) continue;
      const sheet = JSON.parse(this.keyring.decryptBytes(bytes, sheetAad(id)).toString('utf8')) as SheetJson;
      const n = emptyRows(sheet, wanted);
      if (!n) continue;
      emptied += n;
      tx.set(this.sheetKey(id), this.seal(JSON.stringify(sheet), id), 'KEEPTTL');
    }
    return emptied;
  }

  /** Whether the record has a timeline (any entry within the retention). */
  async exists(keys: string[]): Promise<boolean[]> {
    if (!keys.length) return [];
    return (await this.pointersOf(keys)).map((list) => list.length > 0);
  }

  /** Orders that named this customer email (by its blind index) in the timeline's former email indexes, the newest days first. */
  async keysByEmail(blindIndex: string, limit: number): Promise<string[]> {
    const days = this.days().reverse();
    const pipe = this.redis.pipeline();
    for (const day of days) pipe.hget(this.dayKey(day), `@${blindIndex}`);
    pipe.sscan(this.k('tl', 'email', blindIndex), '0', 'COUNT', limit);
    const res = (await pipe.exec()) ?? [];
    const found = new Set<string>();
    for (let d = 0; d < days.length; d++) {
      const [err, v] = res[d];
      if (err) throw err;
      if (v) for (const key of (v as string).split(' ')) found.add(key);
    }
    const [err, scanned] = res[days.length];
    if (err) throw err;
    for (const key of (scanned as [string, string[]])[1]) found.add(key);
    return [...found].slice(0, limit);
  }

  /**
   * The record's steps, oldest first: its newest timeline.maxEntries entries. `expired`:
   * entries still listed whose sheet is gone (past the retention); a sheet that fails to open
   * (tampered, or its key removed from the keyring) throws DecryptError.
   */
  async read(key: string): Promise<{ entries: TimelineEntry[]; expired: number }> {
    const [all] = await this.pointersOf([key]);
    const pointers = all.slice(-this.settings.maxEntries);
    const bySheet = new Map<string, number[]>();
    for (const p of pointers) {
      const hash = p.lastIndexOf('#');
      const id = p.slice(0, hash);
      let list = bySheet.get(id);
      if (!list) bySheet.set(id, (list = []));
      list.push(Number(p.slice(hash + 1)));
    }
    const ids = [...bySheet.keys()];
    const sealed = ids.length ? await this.redis.mgetBuffer(...ids.map((id) => this.sheetKey(id))) : [];
    const entries: TimelineEntry[] = [];
    let expired = 0;
    ids.forEach((id, n) => {
      const wanted = bySheet.get(id)!;
      const bytes = sealed[n];
      if (!bytes) {
        expired += wanted.length;
        return;
      }
      let sheet: SheetJson;
      try {
        sheet = JSON.parse(this.keyring.decryptBytes(bytes, sheetAad(id)).toString('utf8')) as SheetJson;
      } catch (err) {
        throw err instanceof DecryptError ? err : new DecryptError(`timeline sheet ${id} does not open`);
      }
      for (const i of wanted) {
        const row = sheet.r[i];
        if (!row || row[0] !== key) continue;
        for (const [t, step] of rowSteps(sheet, row)) entries.push({ ...step, at: new Date(t).toISOString(), ...(sheet.p ? { pipeline: sheet.p } : {}) });
      }
    });
    // Sheets of concurrent workers interleave, so the times decide (stable for equal times).
    entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    return { entries, expired };
  }
}
