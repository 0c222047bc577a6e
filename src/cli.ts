#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, MappingError, SynchubError } from './core/errors.js';
import { processKeyProblems } from './config/sealing.js';
import { createLogger, resolveLogFormat } from './core/logger.js';
import { generateKeySpec, keyIdProblem } from './core/crypto.js';
import { scrubText } from './core/redact.js';
import { canonicalProblems } from './core/canonical/validate.js';
import { ENTITIES, type Entity } from './core/canonical/schemas.js';
import { getConnector } from './connectors/registry.js';
import { DEFAULT_MAPPINGS_DIR, loadMapping } from './mappings/engine.js';
import { startRun } from './jobs/pull.js';
import { startWorkers, installSchedules, type WorkerSet } from './jobs/workers.js';
import type { RunningServer } from './server.js';
import { deprecationWarnings } from './config/deprecations.js';
import { ensureDemoAdminToken, ensureDemoKeys, loadHubConfig, openHub } from './runtime/process.js';
import { startWorkerThreads, type ThreadSet } from './runtime/worker-threads.js';
import { lowerCpuPriority } from './runtime/cpu-priority.js';
import { limitHeapGrowth } from './runtime/heap-growth.js';
import { optimiseSmallFunctionsWhenHot } from './runtime/tiering.js';
import type { Hub } from './jobs/hub.js';
import { connectRedis, scanKeys } from './state/redis-client.js';
import type { RedisHealth } from './admin/redis-health.js';

const USAGE = `synchub — keeps customers, orders and payments in step between CRM, shop and payment systems

Usage:
  synchub start [--config FILE] [--demo]    server, workers and schedulers in one process
  synchub serve [--config FILE]             the HTTP server only (webhooks, health, admin API)
  synchub worker [--config FILE]            workers and schedulers only
  synchub sync PIPELINE [--full] [--wait]   run a pipeline now; --wait blocks until every record is
                                            pushed, skipped or dead-lettered (exit 2 if any was dead-lettered)
  synchub sync PIPELINE --dry-run [--limit N]
                                            read and map up to N records (default 20) and show what each
                                            target would get (create / field changes / unchanged); writes nothing
  synchub check [--config FILE] [--offline] validate the config and compile every mapping; unless --offline,
                                            ask each connection what it may do (scopes, API version); exit 1
                                            if a missing permission breaks a pipeline
  synchub init CONNECTOR… [--config FILE]   write a starting config for these connectors (default
                                            hub.yaml; never overwrites), credentials from env variables
  synchub map FILE INPUT.json [--connector ID] [--entity E]
                                            evaluate a mapping on a sample; with --entity, validate the output
  synchub test [PATH…]                      run the mapping tests (*.test.yaml) in these files or folders;
                                            default: the built-in mappings' tests (exit 1 if any fails)
  synchub keys generate [--kid ID]          print a new encryption key ("kid:base64")
  synchub dlq list [--pipeline P]           dead letters with their reasons
  synchub dlq replay ID… | --pipeline P | --all
  synchub dlq discard ID… | --pipeline P | --all
  synchub erase --email ADDRESS | --customer KEY [--dry-run] [--propagate]
                                            remove one person from everything the hub holds and record
                                            the erasure (no personal data); --propagate also deletes or
                                            archives the person's records in the targets
  synchub webhooks list|subscribe CONNECTION [--secret-file PATH | --print-secret]
                                            what the provider delivers to the hub; create what the pipelines need

Config: --config FILE, else SYNCHUB_CONFIG, else config/hub.yaml.
Logs: short coloured lines on a terminal, JSON lines when piped; --log-format json|pretty
(or SYNCHUB_LOG_FORMAT) chooses.`;

// Chosen before anything logs; worker threads inherit it through the environment.
const logFormat = (() => {
  try {
    return resolveLogFormat(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
})();
process.env.SYNCHUB_LOG_FORMAT = logFormat;
const logger = createLogger({ format: logFormat });

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' }, demo: { type: 'boolean' }, full: { type: 'boolean' }, wait: { type: 'boolean' },
      connector: { type: 'string' }, entity: { type: 'string' }, kid: { type: 'string' }, pipeline: { type: 'string' },
      all: { type: 'boolean' }, offline: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, 'log-format': { type: 'string' },
      'dry-run': { type: 'boolean' }, limit: { type: 'string' }, email: { type: 'string' }, customer: { type: 'string' }, propagate: { type: 'boolean' }, 'secret-file': { type: 'string' }, 'print-secret': { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (!command || values.help) {
    console.log(USAGE);
    return command ? 0 : 1;
  }

  switch (command) {
    case 'keys': {
      if (rest[0] !== 'generate') break;
      const kidProblem = values.kid === undefined ? undefined : keyIdProblem(values.kid);
      if (kidProblem) {
        console.error(`--kid: ${kidProblem}`);
        return 1;
      }
      console.log(generateKeySpec(values.kid));
      return 0;
    }
    case 'map':
      return mapCommand(rest[0], rest[1], values.connector, values.entity);
    case 'test':
      return mappingTestCommand(rest);
    case 'init':
      return initCommand(rest, values.config ?? 'hub.yaml');
    case 'check': {
      const config = loadHubConfig(values.config);
      console.log(`${config.file}: OK — ${config.connections.size} connection(s), ${config.pipelines.size} pipeline(s), every mapping compiled`);
      for (const p of config.pipelines.values()) {
        console.log(`  ${p.name}: ${p.source.connection}/${p.source.entity} → ${p.targets.map((t) => `${t.connection}/${t.entity}`).join(', ')}${p.schedule ? ` every "${p.schedule}"` : ''}${p.webhooks ? ', webhooks' : ''}`);
      }
      // Deprecated by a provider: warnings only, the config stays valid.
      for (const w of deprecationWarnings(config.connections.values())) console.log(`warning: ${w.path}: ${w.message}`);
      if (values.offline) return 0;
      const redis = config.redis.cluster ? await checkCluster(config.redis.cluster, config.redis.prefix, config.redis.shards, [...config.pipelines.keys()]) : undefined;
      if (redis) console.log(`redis:\n${(await import('./admin/redis-health.js')).describeRedisHealth(redis).join('\n')}`);
      const { describeChecks, inspectConnections } = await import('./admin/connection-check.js');
      const remote = describeChecks(await inspectConnections(config, logger));
      if (remote.lines.length) console.log(`connections:\n${remote.lines.join('\n')}`);
      return remote.broken || (redis && !redis.ok) ? 1 : 0;
    }
    case 'start':
    case 'serve':
    case 'worker':
      return runProcess(command, values.config, Boolean(values.demo));
    case 'sync':
      if (values['dry-run']) return dryRunCommand(rest[0], values.config, values.limit);
      return syncCommand(rest[0], values.config, Boolean(values.full), Boolean(values.wait));
    case 'dlq':
      return dlqCommand(rest[0], rest.slice(1), values.config, values.pipeline, Boolean(values.all));
    case 'erase':
      return (await import('./cli/erase.js')).eraseCommand(values.config, { email: values.email, customer: values.customer, propagate: values.propagate, dryRun: values['dry-run'] }, logger);
    case 'webhooks':
      return (await import('./cli/webhooks.js')).webhooksCommand(rest, values.config, { secretFile: values['secret-file'], printSecret: values['print-secret'] }, logger);
  }
  console.error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
  return 1;
}

async function mapCommand(file: string | undefined, input: string | undefined, connectorId: string | undefined, entity: string | undefined): Promise<number> {
  if (!file || !input) {
    console.error('usage: synchub map FILE INPUT.json [--connector ID] [--entity customer|order|payment]');
    return 1;
  }
  // A default mapping's folder names its connector: src/mappings/<connector>/<entity>.<dir>.jsonata
  const guess = path.basename(path.dirname(path.resolve(file)));
  const def = getConnector(connectorId ?? guess);
  if (entity && !ENTITIES.includes(entity as Entity)) {
    console.error(`--entity must be one of ${ENTITIES.join(', ')}`);
    return 1;
  }
  const mapping = loadMapping(file, { connector: def?.id, statusMap: def?.statusMap, options: {} });
  const text = readFileSync(input, 'utf8');
  let sample: unknown;
  try {
    sample = JSON.parse(text);
  } catch (err) {
    console.error(`${input}: not valid JSON (${(err as Error).message})`);
    return 1;
  }
  const out = await mapping.evaluate(sample);
  console.log(JSON.stringify(out, null, 2));
  if (entity) {
    const problems = canonicalProblems(entity as Entity, out);
    if (problems.length) {
      console.error(`not a valid canonical ${entity}:\n${problems.map((p) => `  ${p.path} ${p.message}`).join('\n')}`);
      return 2;
    }
    console.error(`valid canonical ${entity}`);
  }
  return 0;
}

async function initCommand(ids: string[], file: string): Promise<number> {
  const { initConfig } = await import('./cli/init.js');
  const { connectors } = await import('./connectors/registry.js');
  const result = initConfig(ids, connectors);
  try {
    // 'wx': never overwrite a config that is already there.
    writeFileSync(file, result.yaml, { flag: 'wx' });
  } catch (err) {
    console.error((err as NodeJS.ErrnoException).code === 'EEXIST' ? `${file} exists already: name another file with --config FILE` : `${file}: ${(err as Error).message}`);
    return 1;
  }
  console.log(`wrote ${file}: ${result.connections} connection(s), ${result.pipelines} pipeline(s)\n\nSet these environment variables (or write \${file:path} in their place), then run: synchub check --config ${file}`);
  for (const v of result.variables) console.log(`  ${v.name.padEnd(32)} ${v.what}`);
  return 0;
}

async function mappingTestCommand(paths: string[]): Promise<number> {
  const { findMappingTests, runMappingTests, formatMappingTestResults } = await import('./mappings/test-runner.js');
  const files = findMappingTests(paths.length ? paths : [DEFAULT_MAPPINGS_DIR]);
  if (files.length === 0) {
    console.error(`no mapping tests (*.test.yaml) in ${paths.join(', ')}`);
    return 1;
  }
  const results = await runMappingTests(files);
  console.log(formatMappingTestResults(results));
  return results.every((r) => r.ok) ? 0 : 1;
}

async function runProcess(kind: 'start' | 'serve' | 'worker', configArg: string | undefined, demo: boolean): Promise<number> {
  let configPath = configArg;
  let sandbox: Awaited<ReturnType<typeof import('./sandbox/demo.js').startDemoSandbox>> | undefined;
  let adminTokenFile: string | undefined;
  if (demo) {
    process.env.SYNCHUB_KEYS ??= ensureDemoKeys(path.resolve('.synchub'), logger);
    // The admin page is on in the demo: a generated token, and a one-time login link printed below.
    if (!process.env.SYNCHUB_ADMIN_TOKEN) {
      const generated = ensureDemoAdminToken(path.resolve('.synchub'));
      process.env.SYNCHUB_ADMIN_TOKEN = generated.token;
      adminTokenFile = path.relative(process.cwd(), generated.file);
    }
    sandbox = await (await import('./sandbox/demo.js')).startDemoSandbox(logger);
    configPath ??= 'config/demo.yaml';
  }
  const config = loadHubConfig(configPath);
  // Before the first full collection and before any worker thread starts (the flag is the process's).
  if (kind !== 'serve') {
    const source = limitHeapGrowth(config.jobs.heapGrowthPercent);
    logger.debug({ heapGrowthPercent: config.jobs.heapGrowthPercent, source }, 'V8 heap growth between full collections');
    logger.debug({ source: optimiseSmallFunctionsWhenHot() }, 'V8 optimises small functions once they are hot');
  }
  // Before any worker thread starts: on Linux each thread takes its creator's priority.
  if (kind === 'worker') {
    const priority = lowerCpuPriority(config.jobs.workerNice);
    if (priority.outcome === 'refused') logger.warn({ workerNice: config.jobs.workerNice, lowered: priority.threads, err: priority.error }, 'could not lower the worker\'s CPU priority; its threads not lowered run at the priority they were started with');
    else if (priority.outcome === 'set') logger.info({ workerNice: config.jobs.workerNice, threads: priority.threads }, 'worker CPU priority lowered (jobs.workerNice): serve processes and Redis on this machine come first');
  }
  // A serve process may hold only public keys; workers need the keys that open what it stores.
  const keyProblems = processKeyProblems(config, kind);
  if (keyProblems.length) throw new ConfigError(keyProblems, config.file);
  const { hub, local } = await openHub(config, logger, kind === 'start');
  if (demo) await clearDemoState(hub);
  let server: RunningServer | undefined;
  let workers: WorkerSet | undefined;
  if (kind !== 'worker') {
    // Loaded only by the commands that serve HTTP: a worker process does without it.
    server = await (await import('./server.js')).startServer(hub);
    logger.info({ port: server.port }, `listening: POST /webhooks/:connection, GET /healthz, GET /readyz${config.server.adminToken ? ', /api, /admin, /admin/queues, /metrics' : ''}`);
  }
  let threads: ThreadSet | undefined;
  if (kind !== 'serve') {
    workers = startWorkers(hub);
    if (config.jobs.threads > 1) threads = await startWorkerThreads(config.jobs.threads - 1, { configFile: config.file, redisAddress: hub.redisAddress }, logger);
    await installSchedules(hub);
    logger.info({ pipelines: [...config.pipelines.keys()] }, 'workers and schedulers running');
  }
  if (demo && sandbox && server) {
    // A first run of each scheduled pipeline (payments: reconciliation, which finds nothing yet).
    for (const [name, p] of config.pipelines) if (p.schedule) await startRun(hub, name, false);
    const base = `http://127.0.0.1:${server.port}`;
    sandbox.startOrderFeed(`${base}/webhooks/shop`);
    sandbox.startPaymentFeed(base);
    sandbox.reportEvery(hub, 5000);
    const api = adminTokenFile ? `API ${base}/api (Bearer token in ${adminTokenFile})` : `API ${base}/api (Bearer SYNCHUB_ADMIN_TOKEN)`;
    const { oneTimeLoginLink } = await import('./routes/admin-session.js');
    process.stdout.write(`demo: admin page ${await oneTimeLoginLink(hub, base)} (one-time login link, 10 minutes) · queue dashboard ${base}/admin/queues · ${api}\n`);
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping: no new requests; finishing jobs in progress');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  const grace = setTimeout(() => {
    logger.warn({ graceMs: config.jobs.shutdownGraceMs }, 'grace period over; exiting with jobs still in progress (their locks expire and another worker takes them up)');
    process.exit(0);
  }, config.jobs.shutdownGraceMs);
  grace.unref();
  await server?.close();
  await Promise.all([workers?.close(), threads?.close()]);
  sandbox?.stop();
  await hub.close();
  await local?.stop();
  return 0;
}

/**
 * `synchub check` against a Redis Cluster: its nodes and slot coverage (within 10 s, or
 * unreachable), and the hub's state layout: the shard count its marker holds (or the one its
 * first start will write) and how many shards each primary serves.
 */
async function checkCluster(seeds: string[], prefix: string, configured: number | undefined, pipelines: string[]): Promise<RedisHealth> {
  const redis = connectRedis({ cluster: seeds }, { maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: (n) => (n > 3 ? null : 500) });
  redis.on('error', () => {});
  try {
    const ready = await Promise.race([
      new Promise<boolean>((resolve) => redis.once('ready', () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
    ]);
    if (!ready) return { mode: 'cluster', ok: false, problems: [`no node of ${seeds.join(', ')} answered within 10 s`] };
    const { inspectRedis, shardsPerPrimary } = await import('./admin/redis-health.js');
    const { ShardLayout } = await import('./state/key-layout.js');
    const { DEFAULT_SHARDS, hasState } = await import('./state/layout-guard.js');
    const health = await inspectRedis(redis);
    const hubTag = ShardLayout.cluster(prefix, 1).hub;
    const marker = await redis.get(`${hubTag}:layout`).catch(() => null);
    const written = marker !== null;
    // As the layout guard will decide at start (src/state/layout-guard.ts), without writing the marker.
    const shards = written ? Number((JSON.parse(marker) as { shards?: number }).shards ?? 1) : (await hasState(redis, hubTag, pipelines).catch(() => false)) ? 1 : configured ?? DEFAULT_SHARDS;
    if (health.nodes) health.layout = { shards, written, perPrimary: shardsPerPrimary(ShardLayout.cluster(prefix, shards), health.nodes) };
    return health;
  } finally {
    redis.disconnect();
  }
}

/** The sandbox starts empty each time, so the demo's own state (its key prefix only) starts empty too. */
async function clearDemoState(hub: Hub): Promise<void> {
  const prefix = hub.config.redis.prefix;
  if (!prefix.startsWith('synchub-demo')) throw new Error(`refusing to clear "${prefix}": the demo only clears a synchub-demo prefix`);
  let removed = 0;
  // Queues under `<prefix>:q:`, state under the same prefix (hash-tagged on a cluster, src/state/key-layout.ts).
  for (const pattern of new Set([`${prefix}:*`, ...hub.layout.scanPatterns()])) {
    // One UNLINK per key, pipelined: a scanned batch is from one node but, on a cluster, from several slots.
    for await (const keys of scanKeys(hub.redis, pattern)) {
      const pipe = hub.redis.pipeline();
      for (const key of keys) pipe.unlink(key);
      for (const [err, n] of (await pipe.exec()) ?? []) if (!err) removed += n as number;
    }
  }
  if (removed) logger.info({ prefix, removed }, 'demo: cleared the previous demo state');
}

async function syncCommand(name: string | undefined, configArg: string | undefined, full: boolean, wait: boolean): Promise<number> {
  if (!name) {
    console.error('usage: synchub sync PIPELINE [--full] [--wait]');
    return 1;
  }
  const config = loadHubConfig(configArg);
  if (!config.pipelines.has(name)) {
    console.error(`no pipeline named ${name} (have: ${[...config.pipelines.keys()].join(', ') || 'none'})`);
    return 1;
  }
  const { hub } = await openHub(config, logger, false);
  let workers: WorkerSet | undefined;
  try {
    const run = await startRun(hub, name, full);
    console.log(run.started ? `run ${run.runId} started` : `run ${run.runId} was already in progress; following it`);
    if (!wait) return 0;
    if ((await hub.pullQueue.getWorkers()).length === 0) {
      console.log('no worker is running against this Redis: running workers in this process until the run ends');
      workers = startWorkers(hub);
    }
    return await waitForRun(hub, run.runId);
  } finally {
    await workers?.close();
    await hub.close();
  }
}

async function dryRunCommand(name: string | undefined, configArg: string | undefined, limitArg: string | undefined): Promise<number> {
  const limit = limitArg === undefined ? 20 : Number(limitArg);
  if (!name || !Number.isInteger(limit) || limit < 1) {
    console.error('usage: synchub sync PIPELINE --dry-run [--limit N]   (N a whole number, at least 1)');
    return 1;
  }
  const config = loadHubConfig(configArg);
  if (!config.pipelines.has(name)) {
    console.error(`no pipeline named ${name} (have: ${[...config.pipelines.keys()].join(', ') || 'none'})`);
    return 1;
  }
  const { dryRunPipeline, formatDryRun } = await import('./operations/dry-run.js');
  const { hub } = await openHub(config, logger, false);
  try {
    console.log(formatDryRun(await dryRunPipeline(hub, name, { limit })));
    return 0;
  } finally {
    await hub.close();
  }
}

async function waitForRun(hub: Hub, runId: string): Promise<number> {
  const progress = (await import('./cli/run-progress.js')).runProgress(process.stdout);
  for (;;) {
    const run = await hub.store.getRun(runId);
    if (!run) throw new Error(`run ${runId} disappeared`);
    if (run.error) {
      progress.update(run);
      console.error(`${process.stdout.isTTY ? '\n' : ''}run ${runId} stopped: ${run.error} (pushed ${run.pushed}, skipped ${run.skipped}, dead-lettered ${run.dead})`);
      return 1;
    }
    if (run.finishedAt) {
      progress.finish(run);
      for (const notice of run.notices ?? []) console.log(`  notice: ${notice}`);
      return run.dead > 0 ? 2 : 0;
    }
    progress.update(run);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function dlqCommand(action: string | undefined, ids: string[], configArg: string | undefined, pipeline: string | undefined, all: boolean): Promise<number> {
  if (!action || !['list', 'replay', 'discard'].includes(action)) {
    console.error('usage: synchub dlq list|replay|discard [ID…] [--pipeline P] [--all]');
    return 1;
  }
  const config = loadHubConfig(configArg);
  const { hub } = await openHub(config, logger, false);
  try {
    if (action === 'list') {
      const { total, items } = await hub.store.listDeadLetters({ pipeline, limit: 200 });
      console.log(`${total} dead letter(s)${pipeline ? ` in ${pipeline}` : ''}`);
      // Written scrubbed (see redact.ts); scrubbed again for letters an older version wrote.
      for (const d of items) {
        const why = d.erased ? `erased ${d.erased.at} (erasure ${d.erased.id})` : scrubText(d.error.message);
        console.log(`${d.id}  ${d.createdAt}  ${d.pipeline}  ${d.step}${d.target ? `→${d.target}` : ''}  ${d.key ?? ''}  ${d.error.code}: ${why}`);
      }
      return 0;
    }
    if (!ids.length && !pipeline && !all) {
      console.error(`dlq ${action}: name dead-letter ids, --pipeline P or --all`);
      return 1;
    }
    const targets = ids.length
      ? (await Promise.all(ids.map((id) => hub.store.getDeadLetter(id)))).filter((d) => d !== null)
      : (await hub.store.listDeadLetters({ pipeline: all ? undefined : pipeline, limit: 100_000 })).items;
    let done = 0;
    let erased = 0;
    for (const dl of targets) {
      // An erased mark has nothing left to replay: named, it is an error (replayDeadLetter says so); in a bulk replay it is passed over.
      if (action === 'replay' && dl!.erased && !ids.length) {
        erased++;
        continue;
      }
      if (action === 'replay') await (await import('./jobs/replay.js')).replayDeadLetter(hub, dl!);
      else await hub.store.removeDeadLetter(dl!);
      done++;
    }
    console.log(`${action === 'replay' ? 'replayed' : 'discarded'} ${done} dead letter(s)${erased ? `; ${erased} erased with their person, not replayed` : ''}`);
    return 0;
  } finally {
    await hub.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ConfigError || err instanceof MappingError) console.error(err.message);
    else if (err instanceof SynchubError) console.error(`${err.code}: ${err.message}`);
    else console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
