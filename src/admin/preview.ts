import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { HubConfig, Pipeline } from '../config/load.js';
import { ENTITIES, type Entity } from '../core/canonical/schemas.js';
import { canonicalProblems } from '../core/canonical/validate.js';
import { SynchubError } from '../core/errors.js';
import type { Hub } from '../jobs/hub.js';
import { readSamples } from '../jobs/samples.js';
import { compileMapping, type CompiledMapping, type MappingContext } from '../mappings/engine.js';
import { evaluateSandboxed, type SandboxJob } from '../mappings/sandboxed.js';
import { PersonalValues } from '../core/redact.js';
import { maskCanonicalRecord, maskRawRecord, maskThrown, personalValuesOf, type MaskScope } from './mask.js';

export type Stage = 'in' | 'transform' | 'out';

export interface PreviewRequest {
  pipeline?: string;
  /** in: source API shape → canonical (default); transform: canonical → canonical; out: canonical → target API shape. */
  stage?: Stage;
  /** With stage out: which target's mapping (default the first). */
  target?: string;
  /** A mapping file of the config (as listed by GET /api/mappings). */
  file?: string;
  /** JSONata to try instead of the file. */
  expression?: string;
  input?: unknown;
  /** Index of a captured sample of the pipeline (0 = newest) instead of `input`. */
  sample?: number;
  /** Canonical entity when no pipeline is given. */
  entity?: Entity;
}

export interface MappingFileInfo { pipeline: string; stage: Stage; target?: string; entity: Entity; file: string }

/** Every mapping file the config runs, by pipeline and stage. */
export function mappingFiles(config: HubConfig): MappingFileInfo[] {
  const out: MappingFileInfo[] = [];
  for (const p of config.pipelines.values()) {
    out.push({ pipeline: p.name, stage: 'in', entity: p.source.entity, file: p.source.mapIn.file });
    if (p.transform) out.push({ pipeline: p.name, stage: 'transform', entity: p.source.entity, file: p.transform.file });
    for (const t of p.targets) out.push({ pipeline: p.name, stage: 'out', target: t.connection, entity: t.entity, file: t.mapOut.file });
  }
  return out;
}

export function readMappingSource(file: string): string {
  return readFileSync(file, 'utf8');
}

const bad = (message: string, details?: unknown) => new SynchubError('invalid_request', message, { details });
const ms = (t0: number) => Math.round((performance.now() - t0) * 100) / 100;

function contextOf(config: HubConfig, connection: string | undefined): MappingContext {
  if (!connection) return {};
  const def = config.connectorOf(connection);
  return { connection, connector: def.id, statusMap: def.statusMap, options: config.connections.get(connection)?.options };
}

/**
 * Runs a mapping on one input and says what came out: the output, the result of
 * validating it against the canonical schema, and how long it took; a mapping
 * error leaves as MappingError with its position.
 */
export async function previewMapping(hub: Hub, req: PreviewRequest) {
  const { config } = hub;
  const stage: Stage = req.stage ?? 'in';
  if (!['in', 'transform', 'out'].includes(stage)) throw bad('stage must be in, transform or out');
  const pipeline: Pipeline | undefined = req.pipeline ? config.pipelines.get(req.pipeline) : undefined;
  if (req.pipeline && !pipeline) throw new SynchubError('not_found', `no pipeline named ${req.pipeline}`);
  const target = pipeline && stage === 'out' ? (req.target ? pipeline.targets.find((t) => t.connection === req.target) : pipeline.targets[0]) : undefined;
  if (pipeline && stage === 'out' && !target) throw new SynchubError('not_found', `pipeline ${pipeline.name} has no target ${req.target}`);
  // Without a pipeline, an entity is optional: a free expression is evaluated and shown, and validated only when one is chosen.
  const entity: Entity | undefined = pipeline ? (stage === 'out' ? target!.entity : pipeline.source.entity) : req.entity;
  if (req.entity !== undefined && !pipeline && !ENTITIES.includes(req.entity)) throw bad('entity must be customer, order or payment');
  if (req.expression !== undefined && typeof req.expression !== 'string') throw bad('expression must be a string');

  // The mapping: an expression to try, a file of the config, or the pipeline's own for the stage.
  let mapping: CompiledMapping | undefined;
  // An expression from the request runs in a worker thread terminated at its time limit (src/mappings/sandboxed.ts).
  let sandboxed: Omit<SandboxJob, 'input'> | undefined;
  const t0 = performance.now();
  if (typeof req.expression === 'string') {
    const connection = stage === 'in' ? pipeline?.source.connection : stage === 'out' ? target?.connection : undefined;
    sandboxed = { source: req.expression, file: '<expression>', context: contextOf(config, connection), limits: { timeoutMs: config.jobs.mappingTimeoutMs, ...config.mappings } };
    mapping = compileMapping(sandboxed.source, sandboxed.file, sandboxed.context, sandboxed.limits);
  } else if (req.file) {
    const known = mappingFiles(config).find((m) => m.file === req.file);
    if (!known) throw new SynchubError('not_found', 'not a mapping file of this config (see GET /api/mappings)');
    mapping = stageMapping(config.pipelines.get(known.pipeline)!, known.stage, known.target);
  } else if (pipeline) {
    mapping = stageMapping(pipeline, stage, target?.connection);
  }
  if (!mapping) throw bad('give an expression, a file, or a pipeline whose mapping for this stage exists');
  const compileMs = ms(t0);

  // The input: given, or a captured sample brought to this stage through the pipeline's own earlier stages.
  let input: unknown;
  // A real record's personal values: masked wherever they show up in the answer, errors included.
  let scope: MaskScope = { values: new PersonalValues() };
  const fromSample = req.sample !== undefined;
  if (fromSample) {
    if (!pipeline) throw bad('sample needs a pipeline');
    const samples = await readSamples(hub, pipeline.name);
    const s = samples[Number(req.sample)];
    if (!s) throw new SynchubError('not_found', `pipeline ${pipeline.name} has no sample ${req.sample} (it keeps the last ${samples.length} records its source sent)`);
    input = s.record;
    scope = await sampleScope(hub, pipeline, s.record);
    try {
      if (stage !== 'in') input = await pipeline.source.mapIn.evaluate(input);
      if (stage === 'out' && pipeline.transform) input = await pipeline.transform.evaluate(input);
    } catch (err) {
      throw maskThrown(err, scope);
    }
  } else {
    if (req.input === undefined) throw bad('give an input or a sample');
    input = req.input;
  }

  const t1 = performance.now();
  let output: unknown;
  try {
    output = sandboxed ? await evaluateSandboxed({ ...sandboxed, input }) : await mapping.evaluate(input);
  } catch (err) {
    throw fromSample ? maskThrown(err, scope) : err;
  }
  const evaluateMs = ms(t1);
  const checked = stage === 'out' ? input : output;
  const problems = entity ? canonicalProblems(entity, checked) : [];
  // Personal data of a real record stays masked in answers; the output's shape and figures are what matter here.
  const targetPaths = target ? config.connectorOf(target.connection).personalFields : [];
  // A sample always comes with its pipeline, so `entity` is known wherever masking applies.
  const mask = (v: unknown, canonical: boolean) => (!fromSample ? v : canonical ? maskCanonicalRecord(entity!, v, scope) : maskRawRecord(v, { ...scope, paths: stage === 'out' ? targetPaths : scope.paths }));
  return {
    stage, entity, file: mapping.file,
    input: mask(input, stage !== 'in'),
    output: mask(output, stage !== 'out'),
    validation: entity
      ? { of: stage === 'out' ? 'input' : 'output', valid: problems.length === 0, problems: fromSample ? maskRawRecord(problems, scope) : problems }
      : null,
    timing: { compileMs, evaluateMs },
    masked: fromSample,
  };
}

/**
 * What a sample is masked with: its personal values as the source connector declares
 * them, and those of its canonical form (the pipeline's own in-mapping), whatever the
 * expression being tried does with them.
 */
async function sampleScope(hub: Hub, pipeline: Pipeline, record: unknown): Promise<MaskScope> {
  const paths = hub.config.connectorOf(pipeline.source.connection).personalFields;
  const values = personalValuesOf(record, paths);
  try {
    let canonical = await pipeline.source.mapIn.evaluate(record);
    if (pipeline.transform) canonical = await pipeline.transform.evaluate(canonical);
    values.addCanonical(pipeline.source.entity, canonical);
  } catch {
    // A sample the pipeline's own mapping refuses: its declared fields are what is known.
  }
  return { values, paths };
}

function stageMapping(p: Pipeline, stage: Stage, target?: string): CompiledMapping | undefined {
  if (stage === 'in') return p.source.mapIn;
  if (stage === 'transform') return p.transform;
  return (target ? p.targets.find((t) => t.connection === target) : p.targets[0])?.mapOut;
}
