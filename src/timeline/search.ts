import type { Entity } from '../core/canonical/schemas.js';
import { SynchubError } from '../core/errors.js';
import type { Hub } from '../jobs/hub.js';
import { personIndexKeys } from '../operations/erasure-index.js';

/** What a search may be: one order number, email, external id or record key. */
export const MAX_QUERY_LENGTH = 320;
/** Most records one search answers (an email can name many orders). */
export const MAX_MATCHES = 50;
const ENTITIES: Entity[] = ['customer', 'order', 'payment'];
const RECORD_KEY = /^(customer|order|payment):[^\s]{1,300}$/;

export type MatchedBy = 'key' | 'orderNumber' | 'email' | 'externalId';

export interface RecordMatch {
  key: string;
  entity: Entity;
  matchedBy: MatchedBy[];
  /** The record's id in each system it is linked to (connection → id). */
  links: Record<string, string>;
  /** Whether any step is kept (within the retention). */
  hasTimeline: boolean;
}

export const isRecordKey = (key: string): boolean => RECORD_KEY.test(key);
export const entityOfKey = (key: string): Entity => key.slice(0, key.indexOf(':')) as Entity;

/**
 * Records `q` names: a record key, an order number (with or without `#`), an email (by its
 * blind index: a customer's key is made of it, and the person index erasure keeps lists the
 * records that named it; no record is opened to compare), or any connection's external id (the links the hub keeps).
 * A fixed number of Redis reads per search whatever the data: one per connection and a few more.
 */
export async function findRecords(hub: Hub, query: string): Promise<RecordMatch[]> {
  const q = query.trim();
  if (!q) throw new SynchubError('invalid_request', 'q is empty: give an order number, an email or an external id');
  if (q.length > MAX_QUERY_LENGTH) throw new SynchubError('invalid_request', `q is longer than ${MAX_QUERY_LENGTH} characters`);
  const found = new Map<string, Set<MatchedBy>>();
  const add = (key: string | null | undefined, by: MatchedBy) => {
    if (!key || !isRecordKey(key)) return;
    let s = found.get(key);
    if (!s) found.set(key, (s = new Set()));
    s.add(by);
  };
  const { store, timeline, config } = hub;
  if (isRecordKey(q)) add(q, 'key');
  const lookups: Promise<void>[] = [];
  if (q.includes('@')) {
    const index = config.keyring.blindIndex(q);
    add(`customer:${index}`, 'email');
    // The person index erasure keeps (every record key of the person, by their email's blind
    // index; one SSCAN page, so a bounded read however many orders the person has), and the
    // timeline's own email index of the days before it stopped being written.
    // On a cluster hub from before the index was sharded, its older members are on the hub tag.
    const person = Promise.all(personIndexKeys(store, `customer:${index}`).keys.map((k) => store.redis.sscan(k, '0', 'COUNT', MAX_MATCHES).then(([, keys]) => keys))).then((lists) => lists.flat());
    lookups.push(Promise.all([person, timeline.keysByEmail(index, MAX_MATCHES)]).then((lists) => lists.flat().forEach((k) => add(k, 'email'))));
  } else {
    const number = q.startsWith('#') ? q.slice(1) : q;
    lookups.push(store.orders.orderKeyByNumber(number).then((k) => add(k, 'orderNumber')));
  }
  for (const connection of config.connections.keys()) {
    lookups.push(Promise.all(ENTITIES.map((entity) => store.keysForExternalIds(connection, entity, [q]))).then((keys) => keys.forEach(([k]) => add(k, 'externalId'))));
  }
  await Promise.all(lookups);
  // Candidates with neither steps nor links (a customer key made of the email) are left out, so a few more are looked at than answered.
  const keys = [...found.keys()].slice(0, MAX_MATCHES + 10);
  const [kept, links] = await Promise.all([timeline.exists(keys), Promise.all(keys.map((k) => store.getLinks(k)))]);
  return keys.flatMap((key, i) => (kept[i] || Object.keys(links[i]).length
    ? [{ key, entity: entityOfKey(key), matchedBy: [...found.get(key)!], links: links[i], hasTimeline: kept[i] }]
    : [])).slice(0, MAX_MATCHES);
}
