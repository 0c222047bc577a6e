import { paidOrdersKey } from './order-types.js';
import { randomUUID } from 'node:crypto';
import { Job } from 'bullmq';
import { openJson, openJsonBytes, sealJsonBytes } from '../core/crypto.js';
import { SynchubError } from '../core/errors.js';
import type { CanonicalOrder, Entity } from '../core/canonical/schemas.js';
import type { Hub } from '../jobs/hub.js';
import { SNAPSHOT_AAD } from '../jobs/payments.js';
import { eventStreamKey, factHomes } from '../jobs/order-events.js';
import { openSourcePage } from '../jobs/source-pages.js';
import { SAMPLES_KEPT } from '../jobs/samples.js';
import { coalescedEntryAad, coalescedEntryBytes, parseCoalescedEntry } from '../jobs/coalesced-entry.js';
import { erasedField, parseRef, personIndexKeys, readPersonIndex } from './erasure-index.js';
import { propagateErasure } from './erasure-propagate.js';
import type { DeadLetter } from '../state/store.js';

/**
 * The right to erasure: one person's data removed from everything the hub holds in Redis.
 *
 * The person is found through the blind index (`customer:<HMAC of the email>`) and the
 * person index ingest keeps beside it (erasure-index.ts); the only ciphertext opened is
 * what that index names (the documents holding the person's records, to take those
 * records out) and the pipelines' few samples. Deletion, not crypto-shredding: see
 * docs/deletions-and-erasure.md for what that covers (and what AOF files and backups keep).
 */
export interface ErasureRequest {
  /** The person's email address: looked up by its blind index, never stored. */
  email?: string;
  /** A canonical customer key, e.g. `customer:<blind index>` or `customer:<connection>:<id>`. */
  customer?: string;
  /**
   * Also delete (or archive) the person's records in every target that holds them, through the
   * links, with the same calls as propagated deletions (ConnectorClient.remove). A target whose
   * connector cannot remove is recorded as `not_supported`; a refused call stops the erasure
   * before anything is erased in the hub (run it again).
   */
  propagate?: boolean;
  /** Count what would be removed; change nothing and record nothing. */
  dryRun?: boolean;
  /** Canonical keys of records to erase besides the person's (the orders a Shopify customers/redact lists); alone, they are the erasure. */
  keys?: string[];
  /** Who asked: `api`, `cli`, or `webhook:<connection>` (a source's privacy request). */
  origin?: string;
}

export type ErasureCounts = Record<
  'records' | 'links' | 'fingerprints' | 'orderSnapshots' | 'deadLetters' | 'sourceRecords' | 'queuedPushRecords' | 'samples' | 'coalescedRecords' | 'webhookBodies' | 'events' | 'parkedPayments' | 'indexEntries' | 'timelineRows',
  number
>;

export interface ErasureRecord {
  id: string;
  /** HMAC of the person's key under the keyring's index key: names the erasure without naming the person. */
  keyHash: string;
  requestedAt: string;
  finishedAt: string;
  dryRun: boolean;
  origin?: string;
  /** `erased`; `nothing_found` when the hub held nothing of the person; `already_erased` for a repeat that found nothing new. */
  status: 'erased' | 'nothing_found' | 'already_erased';
  removed: ErasureCounts;
  /** What each target answered to a propagated erasure (empty: not propagated). */
  targets: { connection: string; entity: string; records: number; outcome: 'deleted' | 'archived' | 'would_remove' | 'not_supported' }[];
  /** A repeat: the erasure that removed the data already. */
  previousId?: string;
}

/**
 * What an erasure leaves of a dead letter: the fields an admin needs to see that one was there and
 * what became of it, none of them personal (the key is a blind index; the scrubbed error text may
 * still quote a value the scrubber did not know).
 */
function erasedDeadLetter(dl: DeadLetter, erasure: { id: string; at: string }): DeadLetter {
  return {
    id: dl.id, pipeline: dl.pipeline, step: dl.step, connection: dl.connection, entity: dl.entity,
    ...(dl.target ? { target: dl.target } : {}), error: { code: dl.error.code, message: 'erased' },
    attempts: dl.attempts, source: '', ...(dl.runId ? { runId: dl.runId } : {}), createdAt: dl.createdAt, erased: erasure,
  };
}

/** Replaces one list entry by its value wherever it is now (a flusher may have trimmed the head meanwhile). */
const REPLACE_LIST_ENTRY = `local i = redis.call('LPOS', KEYS[1], ARGV[1])
if i then redis.call('LSET', KEYS[1], i, ARGV[2]) return 1 end
return 0`;

const MAX_EMAIL = 320;
const MAX_KEY = 300;

function personKey(hub: Hub, req: ErasureRequest): string | undefined {
  if (!req.email && !req.customer && req.keys?.length) return undefined;
  if ((req.email ? 1 : 0) + (req.customer ? 1 : 0) !== 1) throw new SynchubError('invalid_request', 'give exactly one of email or customer');
  if (req.email !== undefined) {
    if (typeof req.email !== 'string' || req.email.length > MAX_EMAIL || !/^[^\s@]+@[^\s@]+$/.test(req.email.trim())) throw new SynchubError('invalid_request', 'email: not an email address');
    return `customer:${hub.config.keyring.blindIndex(req.email)}`;
  }
  if (typeof req.customer !== 'string' || req.customer.length > MAX_KEY || !/^customer:[A-Za-z0-9_:.-]+$/.test(req.customer)) {
    throw new SynchubError('invalid_request', 'customer: a canonical customer key looks like customer:<blind index> or customer:<connection>:<id>');
  }
  return req.customer;
}

const zero = (): ErasureCounts => ({ records: 0, links: 0, fingerprints: 0, orderSnapshots: 0, deadLetters: 0, sourceRecords: 0, queuedPushRecords: 0, samples: 0, coalescedRecords: 0, webhookBodies: 0, events: 0, parkedPayments: 0, indexEntries: 0, timelineRows: 0 });
const anything = (c: ErasureCounts) => Object.values(c).some((n) => n > 0);
const erasureKey = (hub: Hub, id: string) => hub.store.k('erasure', id);

export async function getErasure(hub: Hub, id: string): Promise<ErasureRecord | null> {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return null;
  const raw = await hub.redis.get(erasureKey(hub, id));
  return raw ? (JSON.parse(raw) as ErasureRecord) : null;
}

/** The newest erasures first (their records hold no personal data). */
export async function listErasures(hub: Hub, limit = 50): Promise<ErasureRecord[]> {
  const ids = await hub.redis.zrevrange(hub.store.k('erasure', 'all'), 0, limit - 1);
  if (!ids.length) return [];
  const raws = await hub.redis.mget(ids.map((id) => erasureKey(hub, id)));
  return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as ErasureRecord);
}

export async function erasePerson(hub: Hub, req: ErasureRequest): Promise<ErasureRecord> {
  const person = personKey(hub, req);
  const { store, config } = hub;
  const { keyring } = config;
  const dryRun = req.dryRun === true;
  const requestedAt = new Date().toISOString();
  const id = randomUUID();
  const keyHash = keyring.mac(`erasure:${person ?? [...(req.keys ?? [])].sort().join('\n')}`);
  const removed = zero();

  const { members, refs } = person ? await readPersonIndex(store, person) : { members: [], refs: [] };
  const keys = [...new Set([...(person ? [person] : []), ...members.filter((m) => !m.startsWith('dlq|')), ...(req.keys ?? [])])];
  const deadLetterIds = new Set(members.filter((m) => m.startsWith('dlq|')).map((m) => m.slice(4)));
  removed.indexEntries = members.length + refs.length;

  // Links (and through them the ids each system knows the person's records by, for the samples).
  const linked = new Set<string>();
  const links = await Promise.all(keys.map((k) => store.getLinks(k)));
  const targets = req.propagate ? await propagateErasure(hub, keys, links, dryRun) : [];
  // One commit in four steps (src/state/sharded.ts; one MULTI on one Redis or a one-shard hub):
  // 1. the hub's part (`tx`): erased marks and every deletion on the hub tag;
  // 2. the records' links, cross-references, fingerprints, order state and order facts, the
  //    queued push batches and source pages holding their records (rewritten, see
  //    PushRecordStore, StateStore.sourcePageKey) and their dead letters (rewritten as marks,
  //    StateStore.deadLetterKey), in their groups (`byRecord`);
  // 3. the person index's keys on the hub tag, the keys' indexes of their dead letters
  //    (`dlq-key:`) and the erasure's own record (`last`);
  // 4. the person index in the person's group.
  // An erasure stopped part-way is run again and finds what is left: until step 2 the links
  // (the ids its uniqueness and sample lookups go by), until step 4 the person index (its keys);
  // it is recorded only once everything the index leads to is gone. The marks come first, so a late webhook does
  // not bring back a record while its state is being deleted.
  const commit = store.tx();
  const tx = commit.hub();
  const byRecord = commit.afterwards();
  const lastStep = byRecord.afterwards();
  const last = lastStep.hub();
  keys.forEach((key, i) => {
    const entity = key.split(':')[0] as Entity;
    const pairs = Object.entries(links[i]);
    if (pairs.length) removed.records++;
    for (const [connection, externalId] of pairs) {
      linked.add(`${connection}\n${externalId}`);
      removed.links++;
      byRecord.forKey(`${entity}:${connection}:${externalId}`).del(store.xrefKey(connection, entity, externalId));
    }
    byRecord.forKey(key).del(store.linkKey(key));
  });

  // Fingerprints: one field per key in each connection's hash of the key's group (a payment pipeline's target keeps orders).
  const fpHashes = [...config.connections.keys()].flatMap((c) => ['customer', 'order', 'payment'].map((e) => ({ c, e })));
  const fpPresent = await Promise.all(fpHashes.map(({ c, e }) => store.getFingerprints(c, e as Entity, keys)));
  fpHashes.forEach(({ c, e }, i) => {
    const present = keys.filter((_, j) => fpPresent[i][j] != null);
    removed.fingerprints += present.length;
    for (const key of present) byRecord.forKey(key).hdel(store.fpKey(c, e, store.layout.groupOf(key)), key);
  });

  // Uniqueness claims (operations/uniqueness.ts): a claim's key holds the blind index of the
  // unique value (an email, say); the person's records give up the claims they hold.
  const owns: { own: string; prefix: string }[] = [];
  keys.forEach((key, i) => {
    const entity = key.split(':')[0];
    for (const p of config.pipelines.values()) {
      const externalId = links[i][p.source.connection];
      if (p.source.entity !== entity || !p.unique.length || externalId === undefined) continue;
      for (const rule of p.unique) owns.push({ own: store.k('uniqown', entity, rule.name, p.source.connection, String(externalId)), prefix: `${p.source.connection}\n${externalId}\n` });
    }
  });
  const claimKeys = owns.length ? await store.redis.mget(...owns.map((o) => o.own)) : [];
  const claimed = owns.filter((_, i) => claimKeys[i] !== null);
  const holders = claimed.length ? await store.redis.mget(...claimed.map((o) => claimKeys[owns.indexOf(o)]!)) : [];
  claimed.forEach((o, i) => {
    if (holders[i]?.startsWith(o.prefix)) tx.del(claimKeys[owns.indexOf(o)]!);
    tx.del(o.own);
    removed.indexEntries++;
  });

  // Orders: the sealed snapshot, its order-number index, lifecycle state, payments parked for it.
  // Ledgers stay: payment amounts and statuses, no personal data (core/payments.ts PaymentFact).
  const orderNumbers = new Set<string>();
  const orderKeys = keys.filter((k) => k.startsWith('order:'));
  for (const key of orderKeys) {
    const sealed = await store.orders.orderSnapshot(key);
    if (!sealed) continue;
    removed.orderSnapshots++;
    const { orderNumber } = openJsonBytes<CanonicalOrder>(keyring, sealed, SNAPSHOT_AAD);
    orderNumbers.add(orderNumber);
    byRecord.forKey(key).del(store.orders.snapshotKey(key));
    if ((await store.orders.orderKeyByNumber(orderNumber)) === key) byRecord.forKey(orderNumber).del(store.orders.orderNumberKey(orderNumber));
    tx.zrem(store.k('pending-orders'), orderNumber);
    const parked = await store.redis.hlen(store.orders.parkedKey(orderNumber));
    removed.parkedPayments += parked;
    if (parked) byRecord.forKey(orderNumber).del(store.orders.parkedKey(orderNumber)).srem(store.orders.parkedIndexKey(orderNumber), orderNumber);
  }
  for (const key of orderKeys) byRecord.forKey(key).del(store.orders.lifeKey(key));

  // Dead letters: by key (every stage past the canonical key) and by person (earlier stages).
  for (const key of keys) for (const dl of await store.redis.smembers(store.k('dlq-key', key))) deadLetterIds.add(dl);
  const deadLetters = (await store.deadLettersAt([...deadLetterIds])).filter((d): d is { key: string; dl: DeadLetter } => d !== null && !d.dl.erased);
  removed.deadLetters = deadLetters.length;
  // Each stays listed as an "erased" mark (which erasure, when; nothing personal), its sealed
  // source and error gone: rewritten where it is (its group, StateStore.deadLetterKey, or the hub
  // tag where an earlier version wrote it) with the records' step; the key's index of its dead
  // letters goes with the person index's keys in step 3, so an erasure stopped before finds them.
  for (const { key, dl } of deadLetters) (key === store.k('dlq', dl.id) ? tx : byRecord.forKey(dl.id)).set(key, JSON.stringify(erasedDeadLetter(dl, { id, at: requestedAt })));
  for (const key of keys) last.del(store.k('dlq-key', key));

  // Stream events of the person's orders (order numbers, statuses and amounts tied to the person).
  if (orderNumbers.size || orderKeys.length) {
    const orderKeySet = new Set(orderKeys);
    const entries = await store.redis.xrange(eventStreamKey(hub), '-', '+');
    for (const [entryId, fields] of entries) {
      const hit = fields.some((f) => {
        if (!f.startsWith('{')) return false;
        try {
          const e = JSON.parse(f) as { order?: { key?: string; orderNumber?: string }; payment?: { orderNumber?: string } };
          return orderKeySet.has(e.order?.key ?? '') || orderNumbers.has(e.order?.orderNumber ?? e.payment?.orderNumber ?? '\0');
        } catch {
          return false;
        }
      });
      if (hit) {
        removed.events++;
        tx.xdel(eventStreamKey(hub), entryId);
      }
    }
  }

  // Sealed documents holding one of the person's records among others' (source pages, queued
  // push batches): opened, the record replaced by null, sealed again with its time to live.
  const docs = new Map<string, { kind: 'srcpage' | 'pushrec'; aad: string; id: string; indexes: number[] }>();
  for (const ref of refs) {
    const r = parseRef(ref);
    if (!r) continue;
    const d = docs.get(`${r.kind}\n${r.id}`) ?? { kind: r.kind, aad: r.aad, id: r.id, indexes: [] };
    d.indexes.push(r.index);
    docs.set(`${r.kind}\n${r.id}`, d);
  }
  // A push batch's records are in their batch's group (PushRecordStore), a source page's in its
  // page's group (StateStore.sourcePageKey; on the hub tag if kept there by an earlier version):
  // each rewritten where it was found, with the records' step.
  const rewrites: { key: string; sealed: Buffer; group?: string }[] = [];
  for (const d of docs.values()) {
    const found = d.kind === 'pushrec' ? { key: store.pushRecords.key(d.id), sealed: await store.redis.getBuffer(store.pushRecords.key(d.id)) } : await store.sourcePageAt(d.id);
    if (!found?.sealed) continue;
    const { key, sealed } = found;
    if (d.kind === 'srcpage') {
      const page = openSourcePage(keyring, sealed, d.aad);
      let n = 0;
      for (const i of d.indexes) if (page.records[i] != null) (page.records[i] = null), n++;
      removed.sourceRecords += n;
      if (n) rewrites.push({ key, sealed: sealJsonBytes(keyring, page, d.aad), group: key === store.k('srcpage', d.id) ? undefined : store.layout.groupOf(d.id) });
    } else {
      const records = openJsonBytes<unknown[]>(keyring, sealed, d.aad);
      let n = 0;
      for (const i of d.indexes) if (records[i] != null) (records[i] = null), n++;
      removed.queuedPushRecords += n;
      if (n) rewrites.push({ key, sealed: sealJsonBytes(keyring, records, d.aad), group: store.pushRecords.groupOf(d.id) });
    }
  }
  for (const w of rewrites) (w.group ? byRecord.group(w.group) : tx).set(w.key, w.sealed, 'KEEPTTL');

  // Stored webhook events whose sealed body is the person's record (indexed when stored, with the
  // ingest job holding them): the event is taken out of its waiting or finished job (the job is
  // removed when none of its events is left). A job running now is left to finish: ingest drops
  // the record as older than the erasure, and BullMQ removes the completed job an hour later.
  const eventsByJob = new Map<string, Set<string>>();
  for (const ref of refs) {
    if (!ref.startsWith('whjob|')) continue;
    const [jobId, eventId] = ref.slice('whjob|'.length).split('|');
    const set = eventsByJob.get(jobId) ?? new Set<string>();
    if (eventId !== undefined) set.add(eventId);
    eventsByJob.set(jobId, set);
  }
  const removableJobs: { job: Job; events: Set<string> }[] = [];
  for (const [jobId, events] of eventsByJob) {
    const job = await Job.fromId(hub.ingestQueue, jobId);
    if (!job || (await job.getState()) === 'active') continue;
    removableJobs.push({ job, events });
    removed.webhookBodies += Array.isArray(job.data?.events) ? job.data.events.filter((e: { eventId: string }) => events.has(e.eventId)).length : 1;
  }

  // Webhook records waiting to be pushed together (jobs/coalesce.ts): each entry names its key in
  // the clear, so none is opened; the person's are sealed again as null, in place (the flusher
  // takes entries from the head by count, so none is removed), and pushed as nothing.
  const keySet = new Set(keys);
  for (const pipeline of config.pipelines.values()) {
    for (const target of pipeline.targets) {
      const list = store.coalesce.coalesceKey(pipeline.name, target.connection, target.entity);
      for (const entry of await store.redis.lrangeBuffer(list, 0, -1)) {
        const { sealed: _sealed, ...header } = parseCoalescedEntry(entry);
        if (!keySet.has(header.item.key)) continue;
        removed.coalescedRecords++;
        const blank = coalescedEntryBytes(header, keyring.encryptBytes('null', coalescedEntryAad(target.connection, header.item.delivery)));
        tx.eval(REPLACE_LIST_ENTRY, 1, list, entry, blank);
      }
    }
  }

  // Samples: at most SAMPLES_KEPT per pipeline, opened to find the person's (by email, or by
  // the id a source knows one of the person's records by).
  const email = req.email?.trim().toLowerCase();
  const sampleRemovals: { key: string; value: string }[] = [];
  for (const pipeline of config.pipelines.values()) {
    const key = store.k('samples', pipeline.name);
    const entries = await store.redis.lrange(key, 0, SAMPLES_KEPT - 1);
    for (const entry of entries) {
      const { sealed } = JSON.parse(entry) as { sealed: string };
      const raw = openJson<unknown>(keyring, sealed, `sample:${pipeline.name}`);
      const text = JSON.stringify(raw).toLowerCase();
      const sourceId = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).id : undefined;
      const mine = (email && text.includes(email)) || (sourceId !== undefined && linked.has(`${pipeline.source.connection}\n${String(sourceId)}`));
      if (mine) sampleRemovals.push({ key, value: entry });
    }
  }
  removed.samples = sampleRemovals.length;

  // Order types and segments (operations/order-types.ts, segments/): the person's paid-order set
  // and segment history, keyed by the customer index (the email's blind index, or the
  // connection's customer id's). Timelines (timeline/store.ts): the records' steps, emptied in
  // their sealed sheets, and the email's search index.
  const index = person ? customerIndexOf(keyring, person) : undefined;
  if (index) {
    tx.del(store.k('custorders', index), store.k('seg', 'hist', index), store.k('seg', 'contact', index), store.k('seg', 'cust', index));
    tx.srem(store.k('seg', 'customers'), index);
    // The paid-order set in its group (operations/order-types.ts), on the hub tag above if an earlier version wrote it there.
    if (store.layout.spread) byRecord.forKey(index).del(paidOrdersKey(hub, index));
  }
  // Order figures (jobs/order-events.ts) keep amounts and statuses for the reports, and the
  // customer's index for the split by segment: that index is taken out of the person's orders' facts.
  // A fact sits in its order's group (step 2), or on the hub tag when written before the facts were sharded (step 1).
  const homes = await factHomes(hub, orderKeys);
  for (const [i, home] of homes.entries()) {
    if (!home) continue;
    const fact = await store.redis.hget(home, orderKeys[i]);
    if (!fact) continue;
    const { customer: _customer, ...rest } = JSON.parse(fact) as Record<string, unknown>;
    if (_customer !== undefined) (home.startsWith(`${store.layout.hub}:`) ? tx : byRecord.forKey(orderKeys[i])).hset(home, orderKeys[i], JSON.stringify(rest));
  }
  removed.timelineRows = await hub.timeline.erase(tx, keys, person && !person.slice('customer:'.length).includes(':') ? person.slice('customer:'.length) : undefined);
  for (const s of sampleRemovals) tx.lrem(s.key, 0, s.value);

  // The person index goes last: on the hub tag with the erasure's record (step 3), in the
  // person's group once that is in (step 4). Stopped between the two, the index is left naming
  // what is gone already; an erasure run again finds nothing behind it and deletes it.
  if (person) {
    const index = personIndexKeys(store, person);
    last.del(...index.hub);
    if (index.group.length) lastStep.afterwards().forKey(person).del(...index.group);
  }

  const previous = await store.redis.hget(store.k('erased'), erasedField(keyring, person ?? keys[0] ?? ''));
  const previousId = previous ? (JSON.parse(previous) as { id: string }).id : undefined;
  const found = anything(removed);
  const record: ErasureRecord = {
    id, keyHash, requestedAt, finishedAt: new Date().toISOString(), dryRun, ...(req.origin ? { origin: req.origin } : {}),
    status: found ? 'erased' : previousId ? 'already_erased' : 'nothing_found',
    removed, targets, ...(previousId ? { previousId } : {}),
  };
  if (dryRun) {
    tx.discard();
    return record;
  }
  if (!found && previousId) {
    // Idempotent: a repeat that finds nothing changes nothing and records nothing new.
    tx.discard();
    return { ...record, id: previousId };
  }
  // Erased marks: a record of these keys not newer than now is not synced again (erasure-index.ts).
  const mark = JSON.stringify({ at: requestedAt, id });
  tx.hset(store.k('erased'), Object.fromEntries(keys.map((k) => [erasedField(keyring, k), mark])));
  last.set(erasureKey(hub, id), JSON.stringify(record));
  last.zadd(store.k('erasure', 'all'), Date.now(), id);
  await commit.exec();
  for (const { job, events } of removableJobs) {
    const rest = Array.isArray(job.data?.events) ? (job.data.events as { eventId: string }[]).filter((e) => !events.has(e.eventId)) : [];
    const done = rest.length ? job.updateData({ ...job.data, events: rest }) : job.remove();
    await done.catch((err: Error) => hub.logger.warn({ erasure: id, job: job.id, err: err.message }, 'a stored webhook event of the erased person could not be removed (it is running): its record is dropped as older than the erasure'));
  }
  hub.logger.info({ erasure: id, keyHash, removed }, 'person erased');
  return record;
}

/** The customer index order types and segments keep a person under (order-types.ts customerIndex). */
function customerIndexOf(keyring: { blindIndex(v: string): string }, person: string): string | undefined {
  const rest = person.slice('customer:'.length);
  const colon = rest.indexOf(':');
  return colon < 0 ? rest : keyring.blindIndex(`${rest.slice(0, colon)}\n${rest.slice(colon + 1)}`);
}
