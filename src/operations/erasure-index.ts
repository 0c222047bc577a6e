import type { ChainableCommander } from 'ioredis';
import type { Entity } from '../core/canonical/schemas.js';
import { blindIndexOf } from '../core/crypto.js';
import type { Keyring } from '../core/crypto.js';
import type { StateStore } from '../state/store.js';
import type { ShardedTx } from '../state/sharded.js';
import { scriptJson } from '../state/script-json.js';

/**
 * Where a person's data sits in Redis, so an erasure finds every copy through the blind
 * index instead of opening everything the hub holds. Written by ingest on the batch's own
 * transaction, read only by erasure (src/operations/erasure.ts).
 *
 * A person is a customer key: `customer:<blind index of the email>`, or
 * `customer:<connection>:<id>` for a customer without an email. Key layout (the person's keys
 * and refs in the person's group, src/state/key-layout.ts: the shard of the person key on a
 * cluster with shards, the plain prefix on one Redis):
 *   person:<person>:keys   set of canonical keys of the person's records (the customer, its orders); no TTL, like the records' links
 *   person:<person>:refs   set of `srcpage|<aad>|<index>|<page id>` and `pushrec|<aad>|<index>|<records key>`
 *                          entries: sealed multi-record documents holding one of the person's records at <index>;
 *                          expires with the documents it names (SOURCE_TTL, refreshed on every write)
 *   person:<person>:refs   on the hub tag: `whjob|<job id>|<event id>`, a stored webhook event (in that ingest job) whose
 *                          sealed body is the person's record, written by the webhook route beside the event's marks
 *                          (one MULTI, one WAIT); on a cluster hub, also what ingest wrote there before the index was
 *                          sharded. On one Redis and a one-shard hub it is the same key as above.
 * Ingest writes a batch's index in its commit's first step (one script per group, every write an
 * SADD or EXPIRE, the same when done again), so it names a source page or a push batch before
 * the hub's part or the batches' step writes it; erasure passes over a name with nothing behind it.
 *   dlq-key:<key>          set of dead-letter ids of one canonical key (StateStore.addDeadLetter)
 *   erased                 hash: mac("erased:" + key) → { at, id } per erased canonical key (see erasedSince)
 */
export const REFS_TTL_SECONDS = 30 * 24 * 3600;

/** The person a canonical record belongs to, or undefined when it names nobody the hub can find again. */
export function personOf(keyring: Keyring, entity: Entity, key: string | undefined, record: Record<string, unknown>): string | undefined {
  if (entity === 'customer') return key?.startsWith('customer:') ? key : undefined;
  const customer = entity === 'order' ? (record.customer as { email?: unknown } | undefined) : undefined;
  const holder = customer && typeof customer === 'object' && customer.email ? customer : record;
  const email = entity === 'order' ? customer?.email ?? record.email : record.payerEmail;
  return typeof email === 'string' && email ? `customer:${blindIndexOf(keyring, holder, email)}` : undefined;
}

/** The person's index keys in the person's group (the shard of the person key). */
export const personKeysKey = (store: StateStore, person: string) => `${store.layout.groupOf(person)}:person:${person}:keys`;
export const personRefsKey = (store: StateStore, person: string) => `${store.layout.groupOf(person)}:person:${person}:refs`;
/** The person's refs on the hub tag: stored webhook events' jobs (the route's), and a cluster hub's index from before it was sharded. */
const personHubRefsKey = (store: StateStore, person: string) => store.k('person', person, 'refs');
const personHubKeysKey = (store: StateStore, person: string) => store.k('person', person, 'keys');

/**
 * Every key of a person's index, in the group and on the hub tag (the same keys on one Redis and
 * on a one-shard hub, listed once): erasure and the data report read and erasure deletes all of them.
 */
export function personIndexKeys(store: StateStore, person: string): { keys: string[]; refs: string[]; hub: string[]; group: string[] } {
  const hub = [personHubKeysKey(store, person), personHubRefsKey(store, person)];
  const group = [personKeysKey(store, person), personRefsKey(store, person)].filter((k) => !hub.includes(k));
  const keys = [...new Set([personKeysKey(store, person), hub[0]])];
  const refs = [...new Set([personRefsKey(store, person), hub[1]])];
  return { keys, refs, hub, group };
}

/** Members of the person's index, the group's and the hub tag's together (one SMEMBERS per key: each on its own slot). */
export async function readPersonIndex(store: StateStore, person: string): Promise<{ members: string[]; refs: string[] }> {
  const { keys, refs } = personIndexKeys(store, person);
  const [m, r] = await Promise.all([Promise.all(keys.map((k) => store.redis.smembers(k))), Promise.all(refs.map((k) => store.redis.smembers(k)))]);
  return { members: [...new Set(m.flat())], refs: [...new Set(r.flat())] };
}

export function srcpageRef(aad: string, index: number, page: string): string {
  return `srcpage|${aad}|${index}|${page}`;
}

export function pushrecRef(aad: string, index: number, recordsKey: string): string {
  return `pushrec|${aad}|${index}|${recordsKey}`;
}

/** A stored webhook event's job, whose sealed body holds the person's record: removed by erasure. */
export function indexWebhookJob(store: StateStore, pipe: ChainableCommander, person: string, jobId: string, eventId: string): void {
  pipe.sadd(personHubRefsKey(store, person), `whjob|${jobId}|${eventId}`);
  pipe.expire(personHubRefsKey(store, person), REFS_TTL_SECONDS);
}

export function parseRef(ref: string): { kind: 'srcpage' | 'pushrec'; aad: string; index: number; id: string } | undefined {
  const [kind, aad, index, ...rest] = ref.split('|');
  if ((kind !== 'srcpage' && kind !== 'pushrec') || !rest.length || !/^\d+$/.test(index ?? '')) return undefined;
  return { kind, aad, index: Number(index), id: rest.join('|') };
}

/** Collects the index entries of one ingest batch; written with `write` on the batch's transaction. */
export class PersonIndex {
  private readonly keys = new Map<string, Set<string>>();
  private readonly refs = new Map<string, Set<string>>();

  addKey(person: string | undefined, key: string): void {
    if (!person) return;
    let s = this.keys.get(person);
    if (!s) this.keys.set(person, (s = new Set()));
    s.add(key);
  }

  addRef(person: string | undefined, ref: string): void {
    if (!person) return;
    let s = this.refs.get(person);
    if (!s) this.refs.set(person, (s = new Set()));
    s.add(ref);
  }

  /**
   * One script call per group for the batch (INDEX_PERSONS in src/state/scripts.ts), not three
   * commands a person; in the commit's first step (`commit`, the groups' MULTIs: on one Redis the
   * one MULTI), before whatever the entries name is written.
   */
  write(store: StateStore, commit: ShardedTx): void {
    const persons = new Set([...this.keys.keys(), ...this.refs.keys()]);
    if (!persons.size) return;
    const byGroup = new Map<string, { redisKeys: string[]; members: (string | number)[] }>();
    for (const person of persons) {
      const group = store.layout.groupOf(person);
      let call = byGroup.get(group);
      if (!call) byGroup.set(group, (call = { redisKeys: [], members: [] }));
      const keys = this.keys.get(person);
      const refs = this.refs.get(person);
      call.redisKeys.push(personKeysKey(store, person), personRefsKey(store, person));
      call.members.push(keys?.size ?? 0, refs?.size ?? 0);
      if (keys) for (const k of keys) call.members.push(k);
      if (refs) for (const r of refs) call.members.push(r);
    }
    for (const [group, { redisKeys, members }] of byGroup) (commit.group(group) as any).synchubIndexPersons(redisKeys.length, ...redisKeys, REFS_TTL_SECONDS, scriptJson(members));
  }
}

export const erasedField = (keyring: Keyring, key: string) => keyring.mac(`erased:${key}`);

/**
 * When each key was erased (ms since the epoch), or undefined: a record of an erased key that
 * is not newer than its erasure is not synced again (a late webhook, a retried page).
 */
export async function erasedSince(store: StateStore, keyring: Keyring, keys: string[]): Promise<(number | undefined)[]> {
  if (!keys.length) return [];
  const marks = await store.redis.hmget(store.k('erased'), ...keys.map((k) => erasedField(keyring, k)));
  return marks.map((m) => (m ? Date.parse((JSON.parse(m) as { at: string }).at) : undefined));
}

/** Whether a record last changed at `updatedAt` is one the erasure at `erasedAt` removed (or older). */
export function erasedRecord(erasedAt: number | undefined, updatedAt: unknown): boolean {
  if (erasedAt === undefined) return false;
  const at = Date.parse(String(updatedAt ?? ''));
  return !(at > erasedAt);
}
