import type { ChainableCommander } from 'ioredis';
import type { Pipeline, PipelineTarget } from '../config/load.js';
import type { Entity } from '../core/canonical/schemas.js';
import { sealJson, type Keyring } from '../core/crypto.js';
import type { SynchubError } from '../core/errors.js';
import { PersonalValues, deadLetterError } from '../core/redact.js';
import type { Outcome } from '../state/store.js';
import type { ShardedTx } from '../state/sharded.js';
import { IngestSteps } from '../timeline/ingest-steps.js';
import { PersonIndex, personOf } from '../operations/erasure-index.js';
import type { Hub } from './hub.js';
import type { OrderUpdate } from './payments.js';
import { SOURCE_AAD } from './source-pages.js';

/**
 * What the steps of one ingest call (ingest.ts) share: the call's transaction, its records'
 * outcomes, timelines and person index, and the two ways a record leaves the call early (a
 * dead letter, a skip). One object per call, whose methods are the same code for every call:
 * the steps are functions of their own (each compiled on its own by V8, and a change of the
 * shapes one step sees deoptimises that step, not the whole call), and no callback is made
 * afresh for each call (see the note on loops in ingest.ts).
 */

export interface IngestContext {
  runId?: string;
  /** Page number within the run; with the record's index it names the record's deliveries. */
  seq?: number;
  /** Names the deliveries outside a run (a webhook event, a replay), so a retried job counts each once. */
  deliveryBase?: string;
  /** Replay: hand on only to this target. */
  onlyTarget?: string;
  /** Stable prefix of dead-letter ids, so a retried job does not dead-letter a record twice. */
  deadLetterBase?: string;
  /** The records are those of a source page kept already (a pulled page), in this order. */
  sourcePage?: { id: string; aad: string };
  /** A webhook event: its records wait up to `jobs.pushLingerMs` to be pushed with others (coalesce.ts). */
  coalesce?: boolean;
  /**
   * Webhook events ingested together (webhook-batch.ts): `raws[i]` is the one record of the
   * event named `events[i]`, and its deliveries, dead letter and source page are named by it
   * as if it were ingested alone (deliveryBase and deadLetterBase both `events[i]`, index 0).
   */
  events?: string[];
  /** With `events`: `eventsFirst[i]` the event was never ingested before, so nothing of it was handed on. */
  eventsFirst?: boolean[];
  /** With `events`: `eventPages[i]` the event's source page as kept already sealed (source-pages.ts eventSourcePage), or undefined to seal its record here. */
  eventPages?: (Buffer | undefined)[];
}

/** A record of the call on its way through the steps. */
export interface Mapped {
  index: number;
  raw: unknown;
  record: Record<string, unknown>;
  key?: string;
  /** Orders: the push version (the order's own updates and its payments, see payments.ts). */
  version?: number;
  /** Payments: the order they updated. */
  update?: OrderUpdate;
  /** Orders without payments: the record's JSON text, made once for its snapshot and its push batch. */
  json?: string;
}

/** A record as deadLetter takes it: refused before or after it had a canonical record and a key. */
type Refused = { index: number; raw: unknown; key?: string; record?: unknown };

export class IngestBatch {
  readonly keyring: Keyring;
  readonly entity: Entity;
  readonly targets: PipelineTarget[];
  readonly outcomes: [string, Outcome][] = [];
  // Records' links and order snapshots (with their order-number index), and the source pages'
  // sealed bytes (StateStore.sourcePageKey), go to their groups (src/state/sharded.ts); the rest
  // (a page's pending deliveries too) is the hub's, and commits once every group is in. Those are
  // overwrites with the same values, so an ingest stopped between the two is completed by its
  // retry (which finds the same keys by them); nothing is handed on or counted before the hub's
  // part, which holds every other write, commits whole.
  //
  // On a cluster with shards the push batches' records (`pushrec`, PushRecordStore) are a third
  // step (`batches`), in their batches' groups, after the hub's part and before the push jobs
  // are added; on one Redis they are in the same one MULTI as before. Why this order is safe:
  // - a push job never names a batch that is not fully written: the jobs are added only once
  //   `batches` is in;
  // - stopped before `batches`, no batch is written: nothing names one yet (the person index,
  //   written with the hub's part, may name a batch not there yet: erasure passes over it);
  //   the retry writes every step again, as a retry after the commit and before the jobs did
  //   before (a run page's batches under the same ids, and their jobs under the same job ids);
  // - stopped within `batches`, some are written: each is a SET of a whole batch under its own
  //   id, which the retry writes again (a run page's) or leaves to expire unnamed by any job
  //   (other ids are new on each attempt); it is named in the person index, so an erasure
  //   finds it before then. Written before the hub's part instead, a batch written by an
  //   attempt whose hub part never committed would be named nowhere for erasure to find.
  readonly commit: ShardedTx;
  readonly tx: ChainableCommander;
  readonly batches: ShardedTx;
  /** The records' timelines (src/timeline/): written with this call's transaction. */
  readonly steps: IngestSteps;
  /** Where this batch puts each person's records, for erasure (src/operations/erasure-index.ts). */
  readonly persons = new PersonIndex();
  /** The persons of each dead-lettered record, for the source page's index entries. */
  readonly deadOwners: { index: number; owners: string[] }[] = [];
  dead = 0;
  skipped = 0;
  /** skip() as a function for the steps of other modules that take one (made once per call, a bound method). */
  readonly skipOne: (m: Mapped, why: string) => void;
  private readonly sourceFields: string[];

  constructor(readonly hub: Hub, readonly pipeline: Pipeline, readonly ctx: IngestContext, records: number) {
    const { config, store } = hub;
    this.keyring = config.keyring;
    this.entity = pipeline.source.entity;
    this.targets = ctx.onlyTarget ? pipeline.targets.filter((t) => t.connection === ctx.onlyTarget) : pipeline.targets;
    this.commit = store.tx('ingest');
    this.tx = this.commit.afterwards().hub();
    this.batches = this.commit.afterwards().afterwards('ingest batches');
    this.steps = new IngestSteps(hub, pipeline, ctx, records);
    this.sourceFields = config.connectorOf(pipeline.source.connection).personalFields;
    this.skipOne = this.skip.bind(this);
  }

  /**
   * Dead-letters a record with its reason and its sealed source record. The reason is scrubbed
   * of the record's personal values (a mapping error may quote one) and kept sealed as it was.
   */
  deadLetter(m: Refused, step: string, err: SynchubError | unknown): void {
    const { hub, pipeline, ctx, entity, keyring } = this;
    const personal = new PersonalValues().addPaths(m.raw, this.sourceFields);
    if (m.record !== undefined) personal.addCanonical(entity, m.record);
    // A record refused before it had a key (transform, validate) gets the one its id gives, so
    // its timeline shows the refusal and the replay; none when the mapping gave no id.
    const record = m.record as Record<string, unknown> | undefined;
    const key = m.key ?? (record && (typeof record.externalId === 'string' || typeof record.externalId === 'number') ? canonicalKey(hub, entity, pipeline.source.connection, record) : undefined);
    const reason = deadLetterError(keyring, err, personal);
    const id = hub.store.addDeadLetter(this.commit, {
      pipeline: pipeline.name, step, connection: pipeline.source.connection, entity, key,
      target: ctx.onlyTarget, ...reason, attempts: 1,
      source: sealJson(keyring, m.raw, SOURCE_AAD), runId: ctx.runId,
    }, deadLetterId(ctx, m.index));
    if (key) {
      if (!m.key) this.steps.keyed(m.index, key);
      this.steps.deadLettered(m.index, key, step, reason.error.code, id);
    }
    const owners = new Set(personal.emails().map((email) => `customer:${keyring.blindIndex(email)}`));
    if (m.record && typeof m.record === 'object') owners.add(personOf(keyring, entity, key, m.record as Record<string, unknown>) ?? '');
    owners.delete('');
    for (const owner of owners) this.persons.addKey(owner, `dlq|${id}`);
    this.deadOwners.push({ index: m.index, owners: [...owners] });
    for (const t of this.targets) this.outcomes.push([deliveryId(ctx, m.index, t.connection), 'dead']);
    this.dead++;
  }

  /** A record not handed on, for a reason that is not a failure (stale, erased, an echo …). */
  skip(m: Mapped, why: string): void {
    this.hub.logger.debug({ pipeline: this.pipeline.name, key: m.key, why }, 'record skipped');
    this.steps.skipped(m.key!, why);
    for (const t of this.targets) this.outcomes.push([deliveryId(this.ctx, m.index, t.connection), 'skipped']);
    this.skipped++;
  }
}

export function canonicalKey(hub: Hub, entity: Entity, connection: string, record: Record<string, unknown>): string {
  if (entity === 'customer' && typeof record.email === 'string' && record.email) return `customer:${hub.config.keyring.blindIndex(record.email)}`;
  return `${entity}:${connection}:${record.externalId}`;
}

export function deliveryId(ctx: IngestContext, index: number, target: string): string {
  if (ctx.events) return `${ctx.events[index]}.0>${target}`;
  return `${ctx.deliveryBase ?? ctx.seq ?? 'once'}.${index}>${target}`;
}

/** The id of a record's dead letter, stable across retries (undefined: a new one). */
function deadLetterId(ctx: IngestContext, index: number): string | undefined {
  if (ctx.events) return `${ctx.events[index]}.0`;
  return ctx.deadLetterBase ? `${ctx.deadLetterBase}.${index}` : undefined;
}

/** Source page of a webhook event ingested alone or with others, named by the event (a retry writes the same page). */
export const eventPageId = (base: string) => `ingest:${base}`;

/** A record's person (an HMAC of its email), computed once per record of the call (`cache`). */
export function ownerOf(cache: Map<Mapped, string | undefined>, keyring: Keyring, entity: Entity, m: Mapped): string | undefined {
  if (!cache.has(m)) cache.set(m, personOf(keyring, entity, m.key, m.record));
  return cache.get(m);
}
