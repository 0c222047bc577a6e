/**
 * Root connections (orders, customers) over the sandbox's records: Shopify's search syntax
 * in `query` (shopify.dev: "Shopify API search syntax": `field:value`, `field:>=value`,
 * quoted values, terms joined by spaces meaning AND), `sortKey`, `reverse`, and cursors
 * after the last node of a page. Unknown search fields are ignored with a warning in
 * `extensions.search`, as Shopify answers them.
 */

type Rec = { id: number } & Record<string, any>;
export interface SearchTerm { field: string; op: '=' | '>' | '>=' | '<' | '<='; value: string }
export interface SearchWarning { field: string; message: string }

const MAX_QUERY_LENGTH = 1000;

/** Splits `updated_at:>='2025-01-01T00:00:00Z' financial_status:paid` into terms, in one pass. */
export function parseSearch(query: string): { terms: SearchTerm[]; warnings: SearchWarning[] } {
  if (query.length > MAX_QUERY_LENGTH) throw new Error(`query is longer than ${MAX_QUERY_LENGTH} characters`);
  const terms: SearchTerm[] = [];
  const warnings: SearchWarning[] = [];
  let i = 0;
  while (i < query.length) {
    while (i < query.length && query[i] === ' ') i++;
    if (i >= query.length) break;
    let token = '';
    let quote = '';
    for (; i < query.length; i++) {
      const ch = query[i];
      if (quote) {
        if (ch === quote) quote = '';
        else token += ch;
      } else if (ch === "'" || ch === '"') quote = ch;
      else if (ch === ' ') break;
      else token += ch;
    }
    if (token === 'AND') continue;
    const colon = token.indexOf(':');
    if (colon <= 0) {
      warnings.push({ field: token, message: 'Free-text search is not served by the sandbox; the term was ignored.' });
      continue;
    }
    const field = token.slice(0, colon);
    let rest = token.slice(colon + 1);
    let op: SearchTerm['op'] = '=';
    for (const candidate of ['>=', '<=', '>', '<'] as const) {
      if (rest.startsWith(candidate)) {
        op = candidate;
        rest = rest.slice(candidate.length);
        break;
      }
    }
    terms.push({ field, op, value: rest });
  }
  return { terms, warnings };
}

const DATE_FIELDS = new Set(['updated_at', 'created_at', 'processed_at']);
const FIELDS = { order: new Set([...DATE_FIELDS, 'id', 'financial_status', 'email', 'name']), customer: new Set(['updated_at', 'created_at', 'id', 'email']) };

function compare(a: number | string, op: SearchTerm['op'], b: number | string): boolean {
  switch (op) {
    case '=': return a === b;
    case '>': return a > b;
    case '>=': return a >= b;
    case '<': return a < b;
    default: return a <= b;
  }
}

function predicate(kind: 'order' | 'customer', t: SearchTerm, warnings: SearchWarning[]): ((r: Rec) => boolean) | undefined {
  if (!FIELDS[kind].has(t.field)) {
    warnings.push({ field: t.field, message: 'Invalid search field for this query.' });
    return undefined;
  }
  if (DATE_FIELDS.has(t.field)) {
    const at = Date.parse(t.value);
    if (Number.isNaN(at)) {
      warnings.push({ field: t.field, message: `Invalid date: ${t.value}` });
      return undefined;
    }
    return (r) => compare(Date.parse(r[t.field] ?? r.created_at), t.op, at);
  }
  if (t.field === 'id') return (r) => compare(r.id, t.op, Number(t.value));
  const want = t.value.toLowerCase();
  return (r) => compare(String(r[t.field] ?? '').toLowerCase(), t.op, want);
}

const SORT_FIELD: Record<string, string | undefined> = { ID: undefined, NUMBER: undefined, UPDATED_AT: 'updated_at', CREATED_AT: 'created_at', PROCESSED_AT: 'processed_at' };

interface SortedIndex { length: number; order: Rec[]; keys: Float64Array }
const indexes = new WeakMap<Rec[], Map<string, SortedIndex>>();

/** Records in (sort value, id) order, rebuilt only when records were added (they are only ever appended). */
function sortedIndex(records: Rec[], sortKey: string): SortedIndex {
  let perKey = indexes.get(records);
  if (!perKey) indexes.set(records, (perKey = new Map()));
  const have = perKey.get(sortKey);
  if (have && have.length === records.length) return have;
  const field = SORT_FIELD[sortKey];
  const value = (r: Rec) => (field ? Date.parse(r[field] ?? r.created_at) : r.id);
  const order = field ? [...records].sort((a, b) => value(a) - value(b) || a.id - b.id) : records;
  const keys = Float64Array.from(order, value);
  const built = { length: records.length, order, keys };
  perKey.set(sortKey, built);
  return built;
}

/** First position whose (key, id) is above (key, id) given. */
function upperBound(idx: SortedIndex, key: number, id: number): number {
  let lo = 0;
  let hi = idx.order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (idx.keys[mid] < key || (idx.keys[mid] === key && idx.order[mid].id <= id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface RootPage { items: Rec[]; hasNextPage: boolean; hasPreviousPage: boolean; cursors: string[]; warnings: SearchWarning[] }

export const encodeCursor = (c: unknown): string => Buffer.from(JSON.stringify(c)).toString('base64url');
export function decodeCursor(s: string): any {
  try {
    return JSON.parse(Buffer.from(s, 'base64url').toString());
  } catch {
    throw new Error(`Invalid cursor for current pagination sort.`);
  }
}

/**
 * One page of a root connection. `size` undefined reads to the end (bulk operations).
 * Paging backwards (last/before) is not served by the sandbox: an error says so.
 */
export function pageRoot(kind: 'order' | 'customer', records: Rec[], args: Record<string, any>, size: number | undefined): RootPage {
  if (args.last !== undefined || args.before !== undefined) throw new Error('last/before are not served by the sandbox; page forwards with first/after');
  const sortKey = String(args.sortKey ?? 'ID');
  if (!(sortKey in SORT_FIELD)) throw new Error(`sortKey ${sortKey} is not served by the sandbox`);
  const warnings: SearchWarning[] = [];
  const preds: ((r: Rec) => boolean)[] = [];
  let lowerKey: number | undefined;
  if (typeof args.query === 'string' && args.query) {
    const parsed = parseSearch(args.query);
    warnings.push(...parsed.warnings);
    for (const t of parsed.terms) {
      const p = predicate(kind, t, warnings);
      if (!p) continue;
      preds.push(p);
      // A lower bound on the sort field itself: start there instead of scanning from the first record.
      if (!args.reverse && t.field === SORT_FIELD[sortKey] && (t.op === '>=' || t.op === '>')) lowerKey = Math.max(lowerKey ?? -Infinity, Date.parse(t.value));
    }
  }
  const idx = sortedIndex(records, sortKey);
  const n = idx.order.length;
  const items: Rec[] = [];
  const cursors: string[] = [];
  const after = args.after ? decodeCursor(args.after) : undefined;
  const limit = size ?? Infinity;
  let more = false;
  if (!args.reverse) {
    let i = 0;
    if (lowerKey !== undefined) i = upperBound(idx, lowerKey, -Infinity);
    if (after) i = Math.max(i, upperBound(idx, after.k, after.id));
    for (; i < n; i++) {
      const r = idx.order[i];
      if (!preds.every((p) => p(r))) continue;
      if (items.length >= limit) { more = true; break; }
      items.push(r);
      cursors.push(encodeCursor({ k: idx.keys[i], id: r.id }));
    }
  } else {
    // Before the cursor's record: it sits at upperBound − 1.
    let i = after ? upperBound(idx, after.k, after.id) - 2 : n - 1;
    for (; i >= 0; i--) {
      const r = idx.order[i];
      if (!preds.every((p) => p(r))) continue;
      if (items.length >= limit) { more = true; break; }
      items.push(r);
      cursors.push(encodeCursor({ k: idx.keys[i], id: r.id }));
    }
  }
  return { items, hasNextPage: more, hasPreviousPage: !!after, cursors, warnings };
}

/** One page of a nested connection (a record's own list): cursors are positions. */
export function pageList<T>(list: T[], args: Record<string, any>, size: number | undefined): { items: T[]; hasNextPage: boolean; hasPreviousPage: boolean; cursors: string[] } {
  if (args.last !== undefined || args.before !== undefined) throw new Error('last/before are not served by the sandbox; page forwards with first/after');
  const ordered = args.reverse ? [...list].reverse() : list;
  const start = args.after ? Number(decodeCursor(args.after).i) + 1 : 0;
  const end = size === undefined ? ordered.length : Math.min(ordered.length, start + size);
  const items = ordered.slice(start, end);
  return { items, hasNextPage: end < ordered.length, hasPreviousPage: start > 0, cursors: items.map((_, j) => encodeCursor({ i: start + j })) };
}
