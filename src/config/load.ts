import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { addFormats } from '../core/canonical/validate.js';
import type { Entity } from '../core/canonical/schemas.js';
import { ConfigError, MappingError } from '../core/errors.js';
import { createKeyring, type Keyring } from '../core/crypto.js';
import { connectors as defaultRegistry } from '../connectors/registry.js';
import type { Connection, ConnectorDefinition, DeletedMark, OnDelete } from '../connectors/types.js';
import { compileMapping, defaultMappingFile, loadMapping, type CompiledMapping } from '../mappings/engine.js';
import { parseUniqueRules, type UniqueRule } from '../operations/uniqueness.js';
import type { ApprovalRule } from '../operations/approval.js';
import { parseSegments, type SegmentsConfig } from '../operations/segments/config.js';
import { DEFAULT_SIZE_LIMITS, type SizeLimits } from '../mappings/limits.js';
import { parseNotifySinks } from '../notify/config.js';
import type { NotifySink } from '../notify/types.js';
import { interpolate, type InterpolationContext } from './interpolate.js';
import { parseSealing, publicOnlyKeyring, type Sealing } from './sealing.js';
import { breakerSettingsSchema, hubConfigSchema, httpSettingsSchema, retrySettingsSchema } from './schema.js';

export interface JobSettings {
  attempts: number; backoffMs: number; lockDurationMs: number; stalledIntervalMs: number;
  pullConcurrency: number; pushConcurrency: number; ingestConcurrency: number;
  /** How long webhook records may wait to be pushed together (default 250; 0: one push job per event). */
  pushLingerMs: number;
  webhookDedupeHours: number; mappingTimeoutMs: number; shutdownGraceMs: number; orderWaitMs: number;
  /** Threads taking jobs in a worker process, the main one included (default 1). */
  threads: number;
  /** How far a worker's V8 heaps grow past their live data before a full collection, in percent (default 100; 0: V8's own). */
  heapGrowthPercent: number;
  /** The nice value a `synchub worker` process lowers itself to (default 5; 0: as started). */
  workerNice: number;
}

export interface PipelineTarget {
  connection: string;
  entity: Entity;
  /** Canonical → the target's API shape. */
  mapOut: CompiledMapping;
  /** What a propagated deletion does here; unset: the connector's `remove`. */
  onDelete?: OnDelete;
  /** The field `onDelete: mark` sets (value default true). */
  mark?: DeletedMark;
}

export interface Pipeline {
  name: string;
  source: { connection: string; entity: Entity; mapIn: CompiledMapping };
  targets: PipelineTarget[];
  schedule?: string;
  webhooks: boolean;
  transform?: CompiledMapping;
  batchSize: number;
  /** What a deletion the source reports does (src/operations/deletions.ts). Default `record`. */
  deletions: 'record' | 'propagate' | 'ignore';
  /** Notification sinks of order events; empty when none. */
  notify: NotifySink[];
  /** Order approval (src/operations/approval.ts); unset when the pipeline has none. */
  approval?: ApprovalRule;
  /** Uniqueness rules of its records, the entity's and its own (src/operations/uniqueness.ts); empty when none. */
  unique: UniqueRule[];
}

export interface HubConfig {
  file: string;
  redis: {
    url?: string;
    /** Seed nodes of a Redis Cluster; set instead of url. */
    cluster?: string[];
    prefix: string;
    /** Shard tags of the record state on a Redis Cluster (1-64); unset: 16 for a new hub, else what its state has (src/state/layout-guard.ts). */
    shards?: number;
    /** Replicas that acknowledge a webhook write before the 2xx (0: none; default 0). */
    waitReplicas: number;
    /** How long to wait for them (default 500 ms). */
    waitTimeoutMs: number;
  };
  server: {
    port: number; host: string; adminToken?: string; maxBodyBytes: number; maxWebhookEvents: number; dashboardWritable: boolean;
    /** Where browsers reach the hub, when it sits behind a proxy. */
    publicUrl?: string;
    /** Believe X-Forwarded-Proto / X-Forwarded-For (default false). */
    trustProxy: boolean;
  };
  keyring: Keyring;
  /** Public-key sealing of webhook bodies (encryption.publicKeys / privateKeys), and whether the symmetric keys were given. */
  sealing: Sealing;
  jobs: JobSettings;
  /** Size bounds of every mapping's evaluation (src/mappings/limits.ts). */
  mappings: SizeLimits;
  /** Each record's timeline (src/timeline/): retention 30 days and 200 steps per record by default. */
  timeline: TimelineSettings;
  connections: Map<string, Connection>;
  connectorOf: (connection: string) => ConnectorDefinition;
  pipelines: Map<string, Pipeline>;
  /** Whether any pipeline holds orders for approval (payment pipelines then check their orders' approval). */
  approvals: boolean;
  /** Customer segments (src/operations/segments); unset when not configured. */
  segments?: SegmentsConfig;
  /** Out-mapping of a connection for an entity, for echo detection (null when the connector has none). */
  echoMapping(connection: string, entity: Entity): CompiledMapping | null;
}

/** The admin token guards everything under /api and /admin: 24 characters of base64 are 144 bits. */
const MIN_ADMIN_TOKEN_LENGTH = 24;

export interface TimelineSettings {
  /** Whether steps are written at all. Default true. */
  enabled: boolean;
  /** How long a record's steps are kept after they were written. Default 30. */
  retentionDays: number;
  /** Most entries (one batch's steps each) kept per record, the oldest dropped first. Default 200. */
  maxEntries: number;
}

const JOB_DEFAULTS: JobSettings = {
  attempts: 8, backoffMs: 1000, lockDurationMs: 30_000, stalledIntervalMs: 30_000,
  pullConcurrency: 2, pushConcurrency: 4, ingestConcurrency: 64, pushLingerMs: 250, webhookDedupeHours: 72, mappingTimeoutMs: 1000, shutdownGraceMs: 25_000, orderWaitMs: 86_400_000, threads: 1, heapGrowthPercent: 100, workerNice: 5,
};

function ajvPath(prefix: string, e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') parts.push((e.params as { missingProperty: string }).missingProperty);
  if (e.keyword === 'additionalProperties') parts.push((e.params as { additionalProperty: string }).additionalProperty);
  return [prefix, ...parts].filter(Boolean).join('.') || '(root)';
}

function ajvMessage(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required': return 'is required';
    case 'additionalProperties': return 'is not a known setting';
    case 'enum': return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    default: return e.message ?? 'is invalid';
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  registry?: ReadonlyMap<string, ConnectorDefinition>;
}

/** Reads, interpolates and validates hub.yaml; compiles every mapping. Throws ConfigError listing every problem with its path. */
export function loadConfig(file: string, opts: LoadOptions = {}): HubConfig {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new ConfigError([`config file not found (set --config or SYNCHUB_CONFIG)`], abs);
  const text = readFileSync(abs, 'utf8');
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]}`), abs);
  }
  let raw: unknown;
  try {
    // toJS expands aliases; the yaml package refuses an alias bomb here (maxAliasCount).
    raw = doc.toJS();
  } catch (err) {
    throw new ConfigError([(err as Error).message], abs);
  }
  return buildConfig(raw ?? {}, abs, opts);
}

export function buildConfig(raw: unknown, file: string, opts: LoadOptions = {}): HubConfig {
  const registry = opts.registry ?? defaultRegistry;
  const baseDir = path.dirname(file);
  const ctx: InterpolationContext = { env: opts.env ?? process.env, baseDir };
  const problems: string[] = [];
  const data = interpolate(raw, '', ctx, problems) as Record<string, any>;
  if (problems.length) throw new ConfigError(problems, file);

  const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: false });
  addFormats(ajv);
  const validateCore = ajv.compile(hubConfigSchema as object);
  // An `if` error only repeats that its `then` failed; the `then` errors themselves name the problem.
  if (!validateCore(data)) throw new ConfigError(validateCore.errors!.filter((e) => e.keyword !== 'if').map((e) => `${ajvPath('', e)}: ${ajvMessage(e)}`), file);

  if (data.redis?.url && data.redis?.cluster) problems.push('redis.cluster: set either redis.url (one Redis) or redis.cluster (seed nodes of a Redis Cluster), not both');

  const adminToken: unknown = data.server?.adminToken;
  if (typeof adminToken === 'string' && adminToken && adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    problems.push(`server.adminToken: too short (${adminToken.length} characters): the admin token must have at least ${MIN_ADMIN_TOKEN_LENGTH} characters, 128 bits or more of randomness (e.g. \`openssl rand -base64 32\`)`);
  }

  // Each connection against its connector's own schema.
  const connections = new Map<string, Connection>();
  const defs = new Map<string, ConnectorDefinition>();
  for (const [name, c] of Object.entries<Record<string, any>>(data.connections)) {
    const def = registry.get(c.connector);
    if (!def) {
      problems.push(`connections.${name}.connector: unknown connector "${c.connector}" (known: ${[...registry.keys()].join(', ')})`);
      continue;
    }
    const schema = {
      type: 'object', additionalProperties: false, required: ['connector', 'credentials', ...(def.defaultBaseUrl ? [] : ['baseUrl']), ...(def.optionsSchema.required ?? [])],
      properties: {
        connector: { type: 'string' },
        baseUrl: { type: 'string', format: 'uri', pattern: '^https?://' },
        http: httpSettingsSchema,
        retry: retrySettingsSchema,
        breaker: breakerSettingsSchema,
        credentials: def.credentialsSchema,
        ...def.optionsSchema.properties,
      },
    };
    const validate = ajv.compile(schema as object);
    const conn: Record<string, any> = structuredClone(c);
    if (!validate(conn)) {
      for (const e of validate.errors!) problems.push(`${ajvPath(`connections.${name}`, e)}: ${ajvMessage(e)}`);
      continue;
    }
    const { connector, baseUrl, http, credentials, retry, breaker, ...options } = conn;
    const parsed: Connection = {
      name, connector, credentials, retry, breaker,
      baseUrl: String(baseUrl ?? def.defaultBaseUrl).replace(/\/+$/, ''),
      http: { timeoutMs: 30_000, retries: 2, retryBaseMs: 500, maxInlineWaitMs: 10_000, ...(http ?? {}) },
      options,
    };
    const own = def.check?.(parsed) ?? [];
    if (own.length) {
      for (const p of own) problems.push(`connections.${name}.${p}`);
      continue;
    }
    connections.set(name, parsed);
    defs.set(name, def);
  }

  let keyring: Keyring | undefined;
  const sealing = parseSealing(data.encryption, problems);
  try {
    if (data.encryption.keys) keyring = createKeyring(data.encryption.keys, data.encryption.indexKeyId);
    else if (sealing.publicKeys) keyring = publicOnlyKeyring();
  } catch (err) {
    problems.push(`encryption.keys: ${(err as Error).message}`);
  }

  const jobs: JobSettings = { ...JOB_DEFAULTS, ...(data.jobs ?? {}) };
  const mappingLimits: SizeLimits = { ...DEFAULT_SIZE_LIMITS, ...(data.mappings ?? {}) };
  const mappingCache = new Map<string, CompiledMapping>();
  const compile = (at: string, file: string, connection?: string): CompiledMapping | undefined => {
    const conn = connection ? connections.get(connection) : undefined;
    const def = connection ? defs.get(connection) : undefined;
    const cacheKey = `${connection ?? ''}\0${file}`;
    const hit = mappingCache.get(cacheKey);
    if (hit) return hit;
    try {
      const m = loadMapping(file, { connection, connector: def?.id, statusMap: def?.statusMap, options: conn?.options }, { timeoutMs: jobs.mappingTimeoutMs, ...mappingLimits });
      mappingCache.set(cacheKey, m);
      return m;
    } catch (err) {
      problems.push(`${at}: ${err instanceof MappingError ? err.message : (err as Error).message}`);
      return undefined;
    }
  };
  const mappingFile = (override: string | undefined, connector: string, entity: Entity, dir: 'in' | 'out') =>
    override ? path.resolve(baseDir, override) : defaultMappingFile(connector, entity, dir);

  const pipelines = new Map<string, Pipeline>();
  for (const [name, p] of Object.entries<Record<string, any>>(data.pipelines ?? {})) {
    const at = `pipelines.${name}`;
    const srcDef = defs.get(p.source.connection);
    if (!connections.has(p.source.connection)) {
      if (!(p.source.connection in data.connections)) problems.push(`${at}.source.connection: no connection named "${p.source.connection}"`);
      continue;
    }
    const caps = srcDef!.entities[p.source.entity as Entity];
    if (!caps?.pull && !caps?.webhook) problems.push(`${at}.source: ${srcDef!.id} cannot read ${p.source.entity} records (not supported)`);
    if (p.schedule && !caps?.pull) problems.push(`${at}.schedule: ${srcDef!.id} cannot pull ${p.source.entity} (not supported)`);
    if (p.webhooks && !caps?.webhook) problems.push(`${at}.webhooks: ${srcDef!.id} sends no ${p.source.entity} webhooks (not supported)`);
    const seesDeletions = srcDef!.deletionsOf ? srcDef!.deletionsOf(connections.get(p.source.connection)!, p.source.entity) : caps?.deletions ?? [];
    if (p.deletions === 'propagate' && !seesDeletions.length) problems.push(`${at}.deletions: ${srcDef!.id} reports no deleted ${p.source.entity} records, so there is nothing to propagate (not supported)`);
    if (p.schedule && !isCron(p.schedule)) problems.push(`${at}.schedule: "${p.schedule}" is not a cron pattern of 5 or 6 fields`);
    const inFile = mappingFile(p.source.mapping, srcDef!.id, p.source.entity, 'in');
    const mapIn = compile(`${at}.source.mapping`, inFile, p.source.connection);
    const targets: PipelineTarget[] = [];
    (p.targets as Record<string, any>[]).forEach((t, i) => {
      const tat = `${at}.targets[${i}]`;
      const def = defs.get(t.connection);
      if (!def) {
        if (!(t.connection in data.connections)) problems.push(`${tat}.connection: no connection named "${t.connection}"`);
        return;
      }
      if (!def.entities[t.entity as Entity]?.push) problems.push(`${tat}: ${def.id} cannot push ${t.entity} records (not supported)`);
      const tcaps = def.entities[t.entity as Entity];
      if (p.deletions === 'propagate' && !tcaps?.remove) problems.push(`${at}.deletions: ${def.id} cannot delete ${t.entity} records, so deletions cannot be propagated to ${t.connection} (not supported)`);
      if (t.onDelete && t.onDelete !== tcaps?.remove && !tcaps?.onDelete?.includes(t.onDelete)) {
        const ways = [...new Set([tcaps?.remove, ...(tcaps?.onDelete ?? [])].filter(Boolean))];
        problems.push(`${tat}.onDelete: ${def.id} cannot ${t.onDelete} ${t.entity} records (not supported; it can: ${ways.join(', ') || 'none'})`);
      }
      if (t.onDelete === 'mark' && !t.mark) problems.push(`${tat}.mark: onDelete mark needs mark.field, the field to set`);
      if (t.mark && t.onDelete !== 'mark') problems.push(`${tat}.mark: only read with onDelete: mark`);
      if (t.onDelete && p.deletions !== 'propagate') problems.push(`${tat}.onDelete: only read with deletions: propagate (this pipeline has ${p.deletions ?? 'record'})`);
      if (t.entity !== p.source.entity && !(p.source.entity === 'payment' && t.entity === 'order')) {
        problems.push(`${tat}.entity: a ${p.source.entity} pipeline cannot write ${t.entity} records`);
      }
      const mapOut = compile(`${tat}.mapping`, mappingFile(t.mapping, def.id, t.entity, 'out'), t.connection);
      if (mapOut) {
        targets.push({
          connection: t.connection, entity: t.entity, mapOut,
          ...(t.onDelete ? { onDelete: t.onDelete } : {}),
          ...(t.mark ? { mark: { field: t.mark.field, value: t.mark.value ?? true } } : {}),
        });
      }
    });
    const compileKey = (expression: string, keyAt: string) => {
      try {
        return compileMapping(expression, keyAt, {}, { timeoutMs: jobs.mappingTimeoutMs, ...mappingLimits });
      } catch (err) {
        problems.push(`${keyAt}: ${(err as Error).message}`);
        return undefined;
      }
    };
    const unique = parseUniqueRules(data.unique?.[p.source.entity] ?? [], p.unique ?? [], compileKey, `unique.${p.source.entity}`, `${at}.unique`);
    let approval: ApprovalRule | undefined;
    if (p.approval) {
      if (p.source.entity !== 'order') problems.push(`${at}.approval: only order pipelines hold orders for approval (this one reads ${p.source.entity})`);
      const when = compileKey(p.approval.when, `${at}.approval.when`);
      if (when) approval = { when, timeoutHours: p.approval.timeoutHours ?? 48, onTimeout: p.approval.onTimeout ?? 'escalate' };
    }
    const transform = p.transform ? compile(`${at}.transform`, path.resolve(baseDir, p.transform)) : undefined;
    if (mapIn) {
      pipelines.set(name, {
        name, source: { connection: p.source.connection, entity: p.source.entity, mapIn }, targets,
        schedule: p.schedule, webhooks: Boolean(p.webhooks), transform, batchSize: p.batchSize ?? 100, deletions: p.deletions ?? 'record',
        notify: parseNotifySinks(p.notify ?? [], `${at}.notify`, problems),
        unique,
        ...(approval ? { approval } : {}),
      });
    }
  }
  const segments = data.segments ? parseSegments(data.segments, (expression, at) => {
    try {
      return compileMapping(expression, at, {}, { timeoutMs: jobs.mappingTimeoutMs, ...mappingLimits });
    } catch (err) {
      problems.push(`${at}: ${(err as Error).message}`);
      return undefined;
    }
  }, (name) => defs.get(name), problems) : undefined;
  if (problems.length || !keyring) throw new ConfigError(problems, file);

  const echoMappings = new Map<string, CompiledMapping | null>();
  return {
    file,
    redis: {
      url: data.redis?.url || undefined, cluster: data.redis?.cluster, prefix: data.redis?.prefix ?? 'synchub', shards: data.redis?.shards,
      waitReplicas: data.redis?.waitReplicas ?? 0, waitTimeoutMs: data.redis?.waitTimeoutMs ?? 500,
    },
    server: {
      port: data.server?.port ?? 3000, host: data.server?.host ?? '0.0.0.0',
      adminToken: data.server?.adminToken || undefined, maxBodyBytes: data.server?.maxBodyBytes ?? 1048576,
      maxWebhookEvents: data.server?.maxWebhookEvents ?? 200,
      dashboardWritable: data.server?.dashboardWritable === true,
      publicUrl: data.server?.publicUrl || undefined, trustProxy: data.server?.trustProxy === true,
    },
    keyring,
    sealing,
    jobs,
    mappings: mappingLimits,
    timeline: { enabled: data.timeline?.enabled ?? true, retentionDays: data.timeline?.retentionDays ?? 30, maxEntries: data.timeline?.maxEntries ?? 200 },
    connections,
    connectorOf: (name) => {
      const def = defs.get(name);
      if (!def) throw new Error(`no connection named ${name}`);
      return def;
    },
    pipelines,
    approvals: [...pipelines.values()].some((p) => p.approval),
    ...(segments ? { segments } : {}),
    echoMapping(connection, entity) {
      const k = `${connection}:${entity}`;
      if (!echoMappings.has(k)) {
        const def = defs.get(connection);
        const target = [...pipelines.values()].flatMap((p) => p.targets).find((t) => t.connection === connection && t.entity === entity);
        let m: CompiledMapping | null = target?.mapOut ?? null;
        if (!m && def && def.entities[entity]?.push && existsSync(defaultMappingFile(def.id, entity, 'out'))) {
          m = compile(`connections.${connection}`, defaultMappingFile(def.id, entity, 'out'), connection) ?? null;
        }
        echoMappings.set(k, m);
      }
      return echoMappings.get(k)!;
    },
  };
}

function isCron(pattern: string): boolean {
  const fields = pattern.trim().split(/\s+/);
  return (fields.length === 5 || fields.length === 6) && fields.every((f) => /^[\d*/,\-A-Za-z?LW#]+$/.test(f));
}

export function resolveConfigPath(argv: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(argv ?? env.SYNCHUB_CONFIG ?? 'config/hub.yaml');
}
