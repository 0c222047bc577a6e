import type { Pipeline } from '../config/load.js';
import type { Hub } from '../jobs/hub.js';

/** Everything an admin needs to see about one pipeline, from Redis and the queues. */
export async function pipelineState(hub: Hub, p: Pipeline) {
  const [stats, cursor, paused, scheduler, breakers, pushes] = await Promise.all([
    hub.store.pipelineStats(p.name),
    hub.store.getCursor(p.name),
    hub.store.pausedSince(p.name),
    p.schedule ? hub.pullQueue.getJobScheduler(`schedule-${p.name}`) : Promise.resolve(undefined),
    Promise.all(p.targets.map((t) => hub.breaker(t.connection).status())),
    Promise.all(p.targets.map((t) => hub.metrics.readHash('push', t.connection))),
  ]);
  const [lastRun, runningRun] = await Promise.all([
    stats.lastRunId ? hub.store.getRun(stats.lastRunId) : null,
    stats.running && stats.running !== stats.lastRunId ? hub.store.getRun(stats.running) : null,
  ]);
  return {
    name: p.name,
    source: { connection: p.source.connection, entity: p.source.entity },
    targets: p.targets.map((t, i) => ({ connection: t.connection, entity: t.entity, breaker: breakers[i], pushes: pushFigures(pushes[i]) })),
    schedule: p.schedule ?? null,
    webhooks: p.webhooks,
    paused: paused !== null,
    pausedSince: paused,
    cursor,
    counts: { pushed: stats.pushed, skipped: stats.skipped, deadLettered: stats.dead },
    runningRunId: stats.running ?? null,
    lastRun: lastRun ?? runningRun,
    nextRun: paused || !scheduler?.next ? null : new Date(scheduler.next).toISOString(),
    notify: p.notify.map((n) => ({ type: n.type, ...(n.type === 'webhook' ? { url: n.url } : n.type === 'rabbitmq' ? { exchange: n.exchange } : { events: n.events, digest: Boolean(n.digest) }) })),
  };
}

/** Push calls to a target connection (all its pipelines) and the records they carried. */
export function pushFigures(h: Record<string, string>) {
  const calls = Number(h.count ?? 0);
  const records = Number(h.records ?? 0);
  return { calls, records, recordsPerCall: calls ? Math.round((records / calls) * 10) / 10 : null };
}
