import type { ChainableCommander } from 'ioredis';
import type { Entity } from '../core/canonical/schemas.js';
import { DuplicateError } from '../core/errors.js';
import type { CompiledMapping } from '../mappings/engine.js';
import type { Hub } from '../jobs/hub.js';
import type { UniqueClaim, UniqueConflict } from '../state/unique-store.js';

/**
 * Uniqueness rules (`unique:` in hub.yaml): canonical fields, or a JSONata key, whose value no
 * two records of an entity may share, across sources or per source connection. The value is
 * never looked up in plaintext: its blind index is claimed atomically in Redis (one Lua call
 * for a page, see CLAIM_UNIQUE), so of two records with one key, on any worker, one holds it.
 * The later one is rejected (dead-lettered as `duplicate`, naming the holder) or merged
 * (linked to the holder's canonical record). Called by ingest at step 4b.
 */
export interface UniqueRule {
  name: string;
  fields?: string[];
  key?: CompiledMapping;
  /** Default 'all' (across sources). */
  scope: 'all' | 'connection';
  /** Default 'reject'. */
  onConflict: 'reject' | 'merge';
}

export interface UniqueRuleConfig { name?: string; fields?: string[]; key?: string; scope?: 'all' | 'connection'; onConflict?: 'reject' | 'merge' }

/** The entity's rules with the pipeline's own (a pipeline rule of the same name replaces the entity's). */
export function parseUniqueRules(entityRules: UniqueRuleConfig[], pipelineRules: UniqueRuleConfig[], compileKey: (expression: string, at: string) => CompiledMapping | undefined, entityAt: string, pipelineAt: string): UniqueRule[] {
  const rules = new Map<string, UniqueRule>();
  const add = (r: UniqueRuleConfig, where: string) => {
    const name = r.name ?? r.fields!.join('+');
    const key = r.key === undefined ? undefined : compileKey(r.key, `${where}.key`);
    if (r.key !== undefined && !key) return;
    rules.set(name, { name, fields: r.fields, key, scope: r.scope ?? 'all', onConflict: r.onConflict ?? 'reject' });
  };
  entityRules.forEach((r, i) => add(r, `${entityAt}[${i}]`));
  pipelineRules.forEach((r, i) => add(r, `${pipelineAt}[${i}]`));
  return [...rules.values()];
}

function fieldValue(record: Record<string, unknown>, path: string): unknown {
  let v: unknown = record;
  for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

const usable = (v: unknown): v is string | number => (typeof v === 'string' && v.trim() !== '') || (typeof v === 'number' && Number.isFinite(v));

/** The rule's key of a record as text, or undefined when the record is not under the rule. */
export async function uniqueValue(rule: UniqueRule, record: Record<string, unknown>): Promise<string | undefined> {
  if (rule.key) {
    const v = await rule.key.evaluate(record);
    return usable(v) ? String(v) : undefined;
  }
  const values = rule.fields!.map((f) => fieldValue(record, f));
  if (!values.every(usable)) return undefined;
  return values.length === 1 ? String(values[0]) : JSON.stringify(values.map(String));
}

export interface UniqueCandidate { index: number; raw: unknown; record: Record<string, unknown>; key?: string }

export interface UniqueOutcome<M> {
  /** Records that go on (merged ones with the holder's canonical key). */
  kept: M[];
  rejected: { m: M; error: DuplicateError; conflict: UniqueConflict }[];
  merged: UniqueConflict[];
}

/**
 * Claims each record's unique keys and sorts the records into kept, rejected and merged.
 * A record whose key expression fails is kept out of the rule's reach only if the rule cannot
 * be evaluated at all: the error goes up as the record's mapping failure (`onError`).
 */
export async function enforceUniqueness<M extends UniqueCandidate>(
  hub: Hub, pipeline: { name: string; source: { connection: string; entity: Entity }; unique: UniqueRule[] },
  records: M[], ctx: { runId?: string }, onError: (m: M, err: unknown) => void,
): Promise<UniqueOutcome<M>> {
  const { entity, connection } = pipeline.source;
  const claims: (UniqueClaim & { rule: string })[] = [];
  const ruleOf = new Map(pipeline.unique.map((r) => [r.name, r]));
  const candidates: M[] = [];
  for (const m of records) {
    const mine: UniqueClaim[] = [];
    try {
      for (const rule of pipeline.unique) {
        const value = await uniqueValue(rule, m.record);
        if (value === undefined) continue;
        mine.push({
          entity, rule: rule.name, scope: rule.scope === 'connection' ? connection : '*', index: hub.config.keyring.blindIndex(value),
          connection, externalId: String(m.record.externalId), key: m.key!, onConflict: rule.onConflict, record: candidates.length,
        });
      }
    } catch (err) {
      onError(m, err);
      continue;
    }
    candidates.push(m);
    claims.push(...mine);
  }
  const holders = await hub.store.unique.claim(claims);
  const out: UniqueOutcome<M> = { kept: [], rejected: [], merged: [] };
  const at = new Date().toISOString();
  const conflictOf = (c: UniqueClaim, holder: NonNullable<(typeof holders)[number]>, action: UniqueConflict['action']): UniqueConflict => ({
    id: [pipeline.name, c.rule, c.connection, c.externalId, holder.connection, holder.externalId, ctx.runId ?? 'live'].join('\n'),
    at, pipeline: pipeline.name, entity, rule: c.rule, action, connection: c.connection, externalId: c.externalId, holder, ...(ctx.runId ? { runId: ctx.runId } : {}),
  });
  const held = candidates.map(() => [] as { c: UniqueClaim; holder: NonNullable<(typeof holders)[number]> }[]);
  claims.forEach((c, i) => { if (holders[i]) held[c.record].push({ c, holder: holders[i]! }); });
  candidates.forEach((m, n) => {
    const mine = held[n];
    const reject = mine.find((x) => x.c.onConflict === 'reject');
    if (reject) {
      const conflict = conflictOf(reject.c, reject.holder, 'rejected');
      out.rejected.push({ m, conflict, error: new DuplicateError(entity, reject.c.rule, reject.holder) });
      return;
    }
    for (const x of mine) {
      out.merged.push(conflictOf(x.c, x.holder, 'merged'));
      if (ruleOf.get(x.c.rule)?.onConflict === 'merge') m.key = x.holder.key;
    }
    out.kept.push(m);
  });
  return out;
}

/** Conflicts go into the ingest's transaction: counted on the run and listed by the admin API. */
export function recordConflicts(hub: Hub, tx: ChainableCommander, pipeline: string, runId: string | undefined, conflicts: UniqueConflict[]): void {
  hub.store.unique.recordConflicts(tx, pipeline, runId, conflicts);
}
