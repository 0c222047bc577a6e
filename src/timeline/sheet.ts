import { randomFillSync } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { TimelineStep } from './steps.js';
import { scriptJson } from '../state/script-json.js';

/**
 * How one batch's steps are written (the layout as a whole: ./store.ts).
 *
 * The data path writes, per batch, two keys whatever the number of records: the sealed sheet
 * and the day's index (`tl:day:<day>`, a hash). The index maps each record key to its entries
 * of that day, `<sheet id>#<row>` pointers separated by spaces. It is read and written whole
 * for the batch by one script (one HMGET, one HSET, one EXPIREAT), so a batch of 250 records costs four Redis calls
 * inside the script, not a key and an EXPIRE per record as the former `tl:rec:<key>` lists did.
 *
 * KEYS: the sheet, the day's index. ARGV: the sealed sheet, its time to live
 * (s), the index's expiry (unix s), timeline.maxEntries, the sheet id, the record keys as one
 * JSON array (row i of the sheet is the i-th): one argument rather than one per key, as ioredis
 * frames every argument of a command on its own (cjson, which Redis's Lua has built in, reads it
 * in C). A record's entries of one day are trimmed (oldest first) only once they could be over
 * the bound: a pointer is at least the id's length + 2 characters. The index's `@<blind index>`
 * fields (orders by customer email) are no longer written: search finds those through the
 * person index (./search.ts), and reads the fields written before until they expire.
 */
export const TIMELINE_APPEND = `
local ttl, at, max, id = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local names = cjson.decode(ARGV[6])
local n = #names
if n == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
local old = redis.call('HMGET', KEYS[2], unpack(names))
local out, shortest = {}, #id + 2
for i = 1, n do
  local p, v = id .. '#' .. (i - 1), old[i]
  if v then
    v = v .. ' ' .. p
    if #v > shortest * max then
      local _, spaces = string.gsub(v, ' ', ' ')
      for _ = 1, spaces + 1 - max do v = string.sub(v, string.find(v, ' ', 1, true) + 1) end
    end
  else
    v = p
  end
  out[#out + 1] = names[i]
  out[#out + 1] = v
end
redis.call('HSET', KEYS[2], unpack(out))
redis.call('EXPIREAT', KEYS[2], at)
return n`;

/** Records one script call takes at most: its HMGET and HSET stay well inside Lua's unpack limit. */
const MAX_PER_CALL = 1000;
const DAY_MS = 86_400_000;

/** The day number (days since the epoch, UTC) of a time: the index bucket a write goes to. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);

/** Random bytes for sheet ids, taken 6 at a time (one call to the system's generator per 256 sheets). */
const idPool = Buffer.alloc(6 * 256);
let idOffset = idPool.length;

/** A sheet id: its time (base 36, 8 characters until 2059) and 8 random characters; always 16 long. */
function sheetId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  idOffset += 6;
  return `${Date.now().toString(36)}${idPool.toString('base64url', idOffset - 6, idOffset)}`;
}

export const sheetAad = (id: string): string => `timeline:${id}`;

/**
 * A sheet as sealed: the pipeline, the base time `b` (ms since the epoch), the batch's distinct
 * steps `s`, then one row per record, `[key, t, step, t, step, …]`, t in ms after `b` and each
 * step its index in `s`, or `[index, external id]` for a pushed step (`s` holds its target
 * once, the row the record's own id): most steps of a batch are alike (received from one page,
 * mapped, validated, queued to the same targets), so each is kept once. Sheets written before
 * 2026-12-07 have no `b` or `s`: absolute times and the steps themselves in the rows. Compact
 * on purpose: it is built, stringified and sealed on the data path for every batch.
 */
export interface SheetJson { p?: string; b?: number; s?: SheetStep[]; r: unknown[][] }

/** A sheet's distinct step: a step, or a pushed step's target (each row naming it holds its external id). */
type SheetStep = TimelineStep | { step: 'pushed'; target: string };

/** One step of a row as kept: its index in the sheet's steps, or a pushed step's index and external id. */
type StepRef = number | [number, string];

/** The steps of a sheet's row, with their times (ms since the epoch), for either form. */
export function* rowSteps(sheet: SheetJson, row: unknown[]): Generator<[number, TimelineStep]> {
  const base = sheet.b ?? 0;
  for (let j = 1; j + 1 < row.length; j += 2) {
    const ref = row[j + 1];
    if (!sheet.s) yield [base + (row[j] as number), ref as TimelineStep];
    else if (typeof ref === 'number') yield [base + (row[j] as number), sheet.s[ref] as TimelineStep];
    else {
      const [index, externalId] = ref as [number, string];
      yield [base + (row[j] as number), { ...sheet.s[index], externalId } as TimelineStep];
    }
  }
}

/**
 * Erasure: empties the rows of `keys` and drops the steps no other row names any more (a
 * pushed step's external id, kept in its row, goes with the row). Answers how many rows it emptied.
 */
export function emptyRows(sheet: SheetJson, keys: Set<string>): number {
  let n = 0;
  sheet.r = sheet.r.map((row) => (row && keys.has(row[0] as string) ? (n++, []) : row));
  if (!n || !sheet.s) return n;
  const kept = new Map<number, number>();
  const steps: SheetStep[] = [];
  const keep = (index: number) => {
    let to = kept.get(index);
    if (to === undefined) kept.set(index, (to = steps.push(sheet.s![index]) - 1));
    return to;
  };
  for (const row of sheet.r) {
    for (let j = 2; j < row.length; j += 2) {
      const ref = row[j] as StepRef;
      if (typeof ref === 'number') row[j] = keep(ref);
      else ref[0] = keep(ref[0]);
    }
  }
  sheet.s = steps;
  return n;
}

/** What a sheet needs of the store to be written (TimelineStore implements it). */
export interface SheetWriter {
  /** The sheet's key and the day index's key, the settings and the seal. */
  sheetKey(id: string): string;
  dayKey(day: number): string;
  seal(json: string, id: string): Buffer;
  readonly settings: { enabled: boolean; retentionDays: number; maxEntries: number };
}

/** The steps of one batch, for many records; written with write() on the batch's transaction. */
export class TimelineSheet {
  /** Each record's row as sealed (SheetJson), in the order they came: row i is the i-th key. */
  private readonly rows = new Map<string, unknown[]>();
  private readonly base = Date.now();
  /** The batch's distinct steps (by identity: callers reuse one object for alike steps). */
  private readonly steps: SheetStep[] = [];
  private readonly stepIndex = new Map<TimelineStep, number>();
  /** The pushed steps' targets, by their index in `steps`. */
  private readonly pushedTo = new Map<string, number>();
  /** timeline.enabled: off, nothing is kept or written. */
  private readonly on: boolean;

  constructor(private readonly writer: SheetWriter, readonly pipeline?: string) {
    this.on = writer.settings.enabled;
  }

  get size(): number {
    return this.rows.size;
  }

  /** A step of the record `key`, at `t` (ms since the epoch; now by default). */
  add(key: string, step: TimelineStep, t: number = Date.now()): void {
    if (!this.on) return;
    let s = this.stepIndex.get(step);
    if (s === undefined) this.stepIndex.set(step, (s = this.steps.push(step) - 1));
    this.push(key, t, s);
  }

  /** The target took the record: its id there kept in the record's row, the target once for the batch. */
  pushed(key: string, target: string, externalId: string, t: number = Date.now()): void {
    if (!this.on) return;
    let s = this.pushedTo.get(target);
    if (s === undefined) this.pushedTo.set(target, (s = this.steps.push({ step: 'pushed', target }) - 1));
    this.push(key, t, [s, externalId]);
  }

  private push(key: string, t: number, ref: StepRef): void {
    const row = this.rows.get(key);
    if (row) row.push(t - this.base, ref);
    else this.rows.set(key, [key, t - this.base, ref]);
  }

  /** Adds the sheet and its day's index entries to the transaction (nothing when empty). */
  write(tx: ChainableCommander): void {
    if (!this.rows.size) return;
    const keys = [...this.rows.keys()];
    const rows = [...this.rows.values()];
    const day = dayOf(Date.now());
    if (rows.length <= MAX_PER_CALL) return this.call(tx, day, keys, rows);
    for (let from = 0; from < rows.length; from += MAX_PER_CALL) this.call(tx, day, keys.slice(from, from + MAX_PER_CALL), rows.slice(from, from + MAX_PER_CALL));
  }

  private call(tx: ChainableCommander, day: number, keys: string[], rows: unknown[][]): void {
    const { writer } = this;
    const { retentionDays, maxEntries } = writer.settings;
    const id = sheetId();
    const sheet = writer.seal(JSON.stringify(this.pipeline ? { p: this.pipeline, b: this.base, s: this.steps, r: rows } : { b: this.base, s: this.steps, r: rows }), id);
    (tx as unknown as { synchubTimelineAppend(n: number, ...a: (string | Buffer)[]): void }).synchubTimelineAppend(
      2, writer.sheetKey(id), writer.dayKey(day),
      sheet, String(retentionDays * 86_400), String((day + 1 + retentionDays) * 86_400), String(maxEntries), id, scriptJson(keys),
    );
  }
}
