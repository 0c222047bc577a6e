import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import type { TimelineSettings } from '../config/load.js';
import type { Keyring } from '../core/crypto.js';
import { DecryptError } from '../core/errors.js';
import type { TimelineEntry, TimelineStep } from './steps.js';

/**
 * Where record timelines live in Redis (all under the hub's prefix):
 *
 * - `tl:sheet:<id>`: the steps one batch took (an ingest call, a push job's commit, one
 *   notification), sealed together with the keyring (AAD `timeline:<id>`): a row per record
 *   (see SheetJson). One seal per batch, not per step or record: sealing would otherwise be
 *   the cost that shows on the data path. Expires after timeline.retentionDays.
 * - `tl:rec:<recordKey>`: the record's entries in the order written, an entry being its row in
 *   one sheet, as a `<sheet id>#<row>` pointer (no content); trimmed to timeline.maxEntries,
 *   the oldest first, and expiring timeline.retentionDays after its last write. A pointer
 *   whose sheet expired is counted, not shown.
 * - `tl:email:<blind index>`: the orders that named a customer email, for the search (the
 *   blind index, never the address; customers are found by their key, `customer:<index>`).
 *
 * A sheet, its records' lists and the email index are written by one script call, on the
 * transaction the batch commits with (no round trip of its own). In a Redis Cluster they
 * would need one slot, like the other multi-key scripts of the state store (store.ts).
 */
export const TIMELINE_APPEND = `
local ttl, max, lists = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
local a = 5
for i = 2, #KEYS do
  local n = tonumber(ARGV[a])
  if i <= lists + 1 then
    -- Trimmed only once it is over the bound: most records hold a few entries, far under it.
    if redis.call('RPUSH', KEYS[i], unpack(ARGV, a + 1, a + n)) > max then redis.call('LTRIM', KEYS[i], -max, -1) end
  else
    redis.call('SADD', KEYS[i], unpack(ARGV, a + 1, a + n))
  end
  redis.call('EXPIRE', KEYS[i], ttl)
  a = a + 1 + n
end
return #KEYS - 1`;

const sheetAad = (id: string) => `timeline:${id}`;
/** Records one script call takes at most (well inside Lua's unpack limit for the pointers). */
const MAX_RECORDS_PER_CALL = 2000;

/**
 * A sheet as sealed: the pipeline, then one row per record, `[key, t, step, t, step, …]`
 * (t: ms since the epoch). Compact on purpose: it is built, stringified and sealed on the
 * data path for every batch.
 */
interface SheetJson { p?: string; r: unknown[][] }

/** The steps of one batch, for many records; written with write() on the batch's transaction. */
export class TimelineSheet {
  private readonly rows = new Map<string, unknown[]>();
  private readonly emails = new Map<string, Set<string>>();

  constructor(private readonly timelines: TimelineStore, readonly pipeline?: string) {}

  get size(): number {
    return this.rows.size;
  }

  /** A step of the record `key`, at `t` (ms since the epoch; now by default). */
  add(key: string, step: TimelineStep, t: number = Date.now()): void {
    const row = this.rows.get(key);
    if (row) row.push(t, step);
    else this.rows.set(key, [key, t, step]);
  }

  /** The record can be found by this customer email (kept as its blind index only). */
  indexEmail(key: string, blindIndex: string): void {
    let keys = this.emails.get(blindIndex);
    if (!keys) this.emails.set(blindIndex, (keys = new Set()));
    keys.add(key);
  }

  /** Adds the sheet, its pointers and its email index to the transaction (nothing when empty). */
  write(tx: ChainableCommander): void {
    if (!this.rows.size) return;
    const rows = [...this.rows.values()];
    for (let from = 0; from < rows.length; from += MAX_RECORDS_PER_CALL) {
      this.timelines.writeRows(tx, this.pipeline, rows.slice(from, from + MAX_RECORDS_PER_CALL), from === 0 ? this.emails : undefined);
    }
  }
}

export class TimelineStore {
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

  /** Writes a few steps now, in their own round trip (off the data path: notifications, replays). */
  async append(pipeline: string | undefined, steps: { key: string; step: TimelineStep }[]): Promise<void> {
    const sheet = this.sheet(pipeline);
    for (const s of steps) sheet.add(s.key, s.step);
    const tx = this.redis.multi();
    sheet.write(tx);
    await tx.exec();
  }

  /**
   * Erasure (src/operations/erasure.ts): the records' pointer lists are deleted on `tx`, and
   * their rows in the sealed sheets emptied (sealed again in place with their time to live);
   * the email index of `blindIndex` is deleted. Answers how many rows were emptied.
   */
  async erase(tx: ChainableCommander, keys: string[], blindIndex?: string): Promise<number> {
    const wanted = new Set(keys);
    const sheets = new Set<string>();
    for (const key of keys) {
      for (const p of await this.redis.lrange(this.k('tl', 'rec', key), 0, -1)) sheets.add(p.slice(0, p.lastIndexOf('#')));
      tx.del(this.k('tl', 'rec', key));
    }
    if (blindIndex) tx.del(this.k('tl', 'email', blindIndex));
    let emptied = 0;
    for (const id of sheets) {
      const bytes = await this.redis.getBuffer(this.k('tl', 'sheet', id));
      if (!bytes) continue;
      const sheet = JSON.parse(this.keyring.decryptBytes(bytes, sheetAad(id)).toString('utf8')) as SheetJson;
      let n = 0;
      sheet.r = sheet.r.map((row) => (row && wanted.has(row[0] as string) ? (n++, []) : row));
      if (!n) continue;
      emptied += n;
      tx.set(this.k('tl', 'sheet', id), this.keyring.encryptBytes(JSON.stringify(sheet), sheetAad(id)), 'KEEPTTL');
    }
    return emptied;
  }

  /** @internal the script call of one sheet (TimelineSheet.write): one pointer per record. */
  writeRows(tx: ChainableCommander, pipeline: string | undefined, rows: unknown[][], emails?: Map<string, Set<string>>): void {
    const id = `${Date.now().toString(36)}${randomBytes(6).toString('base64url')}`;
    const sheet: SheetJson = pipeline ? { p: pipeline, r: rows } : { r: rows };
    const sealed = this.keyring.encryptBytes(JSON.stringify(sheet), sheetAad(id));
    const keys: string[] = new Array(rows.length + 1);
    const args: (string | Buffer)[] = [sealed, String(this.settings.retentionDays * 86_400), String(this.settings.maxEntries), String(rows.length)];
    keys[0] = this.k('tl', 'sheet', id);
    for (let i = 0; i < rows.length; i++) {
      keys[i + 1] = this.k('tl', 'rec', rows[i][0] as string);
      args.push('1', `${id}#${i}`);
    }
    for (const [index, members] of emails ?? []) {
      keys.push(this.k('tl', 'email', index));
      args.push(String(members.size), ...members);
    }
    (tx as unknown as { synchubTimelineAppend(n: number, ...a: (string | Buffer)[]): void }).synchubTimelineAppend(keys.length, ...keys, ...args);
  }

  /** Whether the record has a timeline (any step within the retention). */
  async exists(keys: string[]): Promise<boolean[]> {
    if (!keys.length) return [];
    const pipe = this.redis.pipeline();
    for (const key of keys) pipe.exists(this.k('tl', 'rec', key));
    return ((await pipe.exec()) ?? []).map(([err, n]) => !err && Number(n) > 0);
  }

  /** Orders that named this customer email (by its blind index). */
  async keysByEmail(blindIndex: string, limit: number): Promise<string[]> {
    const [, keys] = await this.redis.sscan(this.k('tl', 'email', blindIndex), '0', 'COUNT', limit);
    return keys.slice(0, limit);
  }

  /**
   * The record's steps, oldest first. `expired`: entries (a batch's steps) still listed whose
   * sheet is gone (past the retention); a sheet that fails to open (tampered, or its key removed
   * from the keyring) throws DecryptError.
   */
  async read(key: string): Promise<{ entries: TimelineEntry[]; expired: number }> {
    const pointers = await this.redis.lrange(this.k('tl', 'rec', key), 0, -1);
    const bySheet = new Map<string, number[]>();
    for (const p of pointers) {
      const hash = p.lastIndexOf('#');
      const id = p.slice(0, hash);
      let list = bySheet.get(id);
      if (!list) bySheet.set(id, (list = []));
      list.push(Number(p.slice(hash + 1)));
    }
    const ids = [...bySheet.keys()];
    const sealed = ids.length ? await this.redis.mgetBuffer(...ids.map((id) => this.k('tl', 'sheet', id))) : [];
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
        for (let j = 1; j + 1 < row.length; j += 2) {
          entries.push({ ...(row[j + 1] as TimelineStep), at: new Date(row[j] as number).toISOString(), ...(sheet.p ? { pipeline: sheet.p } : {}) });
        }
      }
    });
    // Sheets of concurrent workers interleave in the list, so the times decide (stable for equal times).
    entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    return { entries, expired };
  }
}
