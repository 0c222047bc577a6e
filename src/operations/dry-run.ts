import { canonicalProblems } from '../core/canonical/validate.js';
import { SynchubError } from '../core/errors.js';
import { PersonalValues, scrubText } from '../core/redact.js';
import type { Hub } from '../jobs/hub.js';
import { canonicalKey } from '../jobs/ingest.js';
import { payloadMac, parseFingerprint } from '../jobs/fingerprint.js';
import { describeDifferences } from '../mappings/test-diff.js';

/**
 * A dry run of a pipeline: the same steps as a run (pull → map in → validate → map out), and
 * for each target what the push would do, with nothing written: no push, no cursor moved,
 * no link, fingerprint, sample or lifecycle state recorded, nothing queued. Reads only.
 *
 * Where the hub has a link to the target's record and the target can fetch it, the record is
 * read and the fields the push would send are compared with what is there now.
 */
export interface DryRunTarget {
  connection: string;
  /** create: no link to a record there (the push creates one, or finds it by its own look-up);
   *  update: fields would change; unchanged: the target already has what would be sent. */
  action: 'create' | 'update' | 'unchanged';
  externalId?: string;
  /** `path: expected …, got …` lines: the value the push would send, and the target's current one. */
  changes?: string[];
  /** Why the comparison could not be made (no fetch, the record is gone, an error). */
  note?: string;
}

export interface DryRunRecord {
  externalId?: string;
  key?: string;
  /** Set when the record would be dead-lettered: the step and the reason. */
  refused?: { step: 'map_in' | 'transform' | 'validate' | 'map_out'; message: string };
  targets: DryRunTarget[];
}

export interface DryRunResult { pipeline: string; pulled: number; moreAtSource: boolean; records: DryRunRecord[] }

/** The most records one dry run reads, whatever `limit` asks: each may cost a fetch per target. */
export const DRY_RUN_MAX = 500;

const message = (err: unknown) => scrubText(err instanceof Error ? err.message : String(err));

/**
 * The result carries, not enumerable (never serialised), the personal values of every record
 * it read, source and target: an admin answer masks them (src/admin/mask.ts), the CLI shows
 * the operator their own data as `synchub map` does.
 */
export async function dryRunPipeline(hub: Hub, name: string, opts: { limit?: number; signal?: AbortSignal } = {}): Promise<DryRunResult & { readonly personal: PersonalValues }> {
  const pipeline = hub.config.pipelines.get(name);
  if (!pipeline) throw new SynchubError('not_found', `no pipeline named ${name}`);
  const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? 20)), DRY_RUN_MAX);
  const entity = pipeline.source.entity;
  const source = hub.client(pipeline.source.connection);

  // 1. pull from where the next run would start, page by page, up to the limit.
  const raws: unknown[] = [];
  let cursor = await hub.store.getCursor(name);
  let done = false;
  while (!done && raws.length < limit) {
    const page = await source.pull(entity, { cursor, pageSize: Math.min(pipeline.batchSize, limit - raws.length), signal: opts.signal });
    raws.push(...page.records.slice(0, limit - raws.length));
    cursor = page.cursor;
    done = page.done;
  }

  const records: DryRunRecord[] = [];
  const personal = new PersonalValues();
  const sourcePaths = hub.config.connectorOf(pipeline.source.connection).personalFields;
  for (const raw of raws) {
    personal.addPaths(raw, sourcePaths);
    // 2. map in, transform, validate: as ingest does (src/jobs/ingest.ts).
    let record: Record<string, unknown>;
    try {
      record = (await pipeline.source.mapIn.evaluate(raw)) as Record<string, unknown>;
    } catch (err) {
      records.push({ refused: { step: 'map_in', message: message(err) }, targets: [] });
      continue;
    }
    if (pipeline.transform) {
      try {
        record = (await pipeline.transform.evaluate(record)) as Record<string, unknown>;
      } catch (err) {
        records.push({ externalId: String(record.externalId ?? ''), refused: { step: 'transform', message: message(err) }, targets: [] });
        continue;
      }
    }
    personal.addCanonical(entity, record);
    const problems = canonicalProblems(entity, record);
    if (problems.length) {
      records.push({ externalId: String(record.externalId ?? ''), refused: { step: 'validate', message: problems.map((p) => `${p.path || '/'} ${p.message}`).join('; ') }, targets: [] });
      continue;
    }
    const externalId = String(record.externalId);
    const [known] = await hub.store.keysForExternalIds(pipeline.source.connection, entity, [externalId]);
    const key = known ?? canonicalKey(hub, entity, pipeline.source.connection, record);
    const links = await hub.store.getLinks(key);

    // 3. per target: map out, then compare with the fingerprint and, where linked, the record there.
    const targets: DryRunTarget[] = [];
    let refused: DryRunRecord['refused'];
    for (const t of pipeline.targets) {
      let payload: Record<string, unknown>;
      try {
        payload = (await t.mapOut.evaluate(record)) as Record<string, unknown>;
      } catch (err) {
        refused = { step: 'map_out', message: `${t.connection}: ${message(err)}` };
        continue;
      }
      const linked = links[t.connection];
      if (!linked) {
        targets.push({ connection: t.connection, action: 'create' });
        continue;
      }
      const [fp] = await hub.store.getFingerprints(t.connection, t.entity, [key]);
      if (fp && parseFingerprint(fp).mac === payloadMac(hub.config.keyring, payload)) {
        targets.push({ connection: t.connection, action: 'unchanged', externalId: linked });
        continue;
      }
      let current: unknown;
      try {
        current = await hub.client(t.connection).fetch(t.entity, linked, opts.signal);
      } catch (err) {
        targets.push({ connection: t.connection, action: 'update', externalId: linked, note: `could not read it: ${message(err)}` });
        continue;
      }
      if (current === null || current === undefined) {
        targets.push({ connection: t.connection, action: 'create', externalId: linked, note: 'linked record is gone at the target' });
        continue;
      }
      personal.addPaths(current, hub.config.connectorOf(t.connection).personalFields);
      // Only the fields the push sends: a target's record has many more.
      const changes = describeDifferences(payload, current, { partial: true });
      targets.push(changes.length ? { connection: t.connection, action: 'update', externalId: linked, changes } : { connection: t.connection, action: 'unchanged', externalId: linked });
    }
    records.push({ externalId, key, ...(refused ? { refused } : {}), targets });
  }
  const result = { pipeline: name, pulled: raws.length, moreAtSource: !done, records };
  return Object.defineProperty(result, 'personal', { value: personal, enumerable: false }) as DryRunResult & { readonly personal: PersonalValues };
}

/** What `synchub sync PIPELINE --dry-run` prints. */
export function formatDryRun(r: DryRunResult): string {
  const lines = [`dry run of ${r.pipeline}: ${r.pulled} record(s) read${r.moreAtSource ? ' (more at the source; --limit N reads more)' : ''}; nothing was pushed or recorded`];
  const counts = new Map<string, number>();
  for (const rec of r.records) {
    const id = rec.externalId ? `#${rec.externalId}` : '(no id)';
    if (rec.refused) {
      lines.push(`  ${id}  would be dead-lettered at ${rec.refused.step}: ${rec.refused.message}`);
      counts.set('dead-lettered', (counts.get('dead-lettered') ?? 0) + 1);
    }
    for (const t of rec.targets) {
      counts.set(t.action, (counts.get(t.action) ?? 0) + 1);
      lines.push(`  ${id}  → ${t.connection}: ${t.action}${t.externalId ? ` ${t.externalId}` : ''}${t.note ? ` (${t.note})` : ''}`);
      for (const c of t.changes ?? []) lines.push(`        ${c.replace(/: expected /, ': would send ').replace(/, got /, ', has ')}`);
    }
  }
  lines.push(`${[...counts].map(([k, v]) => `${v} ${k}`).join(', ') || 'no records'}`);
  return lines.join('\n');
}
