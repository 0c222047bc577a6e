import { Registry, collectDefaultMetrics, type MetricValueWithName } from 'prom-client';
import type { Hub } from '../jobs/hub.js';
import { PUSH_BUCKETS_SECONDS } from '../state/metrics.js';

type Values = MetricValueWithName<string>[];

/**
 * A series read from Redis at scrape time (the figures every process adds to),
 * in prom-client's metric interface so one registry renders everything.
 */
class RedisSeries {
  readonly aggregator = 'sum' as const;
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' | 'histogram', private readonly read: () => Promise<Values>) {}
  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: await this.read() };
  }
  reset(): void {}
}

const split = (field: string) => field.split('|');
const BREAKER_STATES = ['closed', 'half_open', 'open'] as const;
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'paused', 'prioritized', 'waiting-children'] as const;

/** The Prometheus registry of one hub: Redis-backed series plus this process's default metrics. */
export function hubRegistry(hub: Hub): Registry {
  const registry = new Registry();
  const m = hub.metrics;
  const pipelines = () => [...hub.config.pipelines.keys()];
  const targets = () => [...new Set([...hub.config.pipelines.values()].flatMap((p) => p.targets.map((t) => t.connection)))];
  const add = (s: RedisSeries) => registry.registerMetric(s as any);

  add(new RedisSeries('synchub_webhooks_received_total', 'Webhook deliveries received, by connection and result (stored, duplicate, or the refusal code)', 'counter', async () =>
    Object.entries(await m.readHash('webhooks')).map(([f, v]) => {
      const [connection, result] = split(f);
      return { labels: { connection, result }, value: Number(v) };
    })));

  add(new RedisSeries('synchub_records_total', 'Record deliveries (records × targets) by pipeline and outcome (gone: a webhook named a record its source no longer has)', 'counter', async () => {
    const out: Values = [];
    for (const name of pipelines()) {
      const s = await hub.store.pipelineStats(name);
      for (const outcome of ['pushed', 'skipped', 'dead', 'gone'] as const) out.push({ labels: { pipeline: name, outcome }, value: s[outcome] });
    }
    return out;
  }));

  add(new RedisSeries('synchub_push_duration_seconds', 'Duration of push calls to a target API, by connection', 'histogram', async () => {
    const out: Values = [];
    for (const connection of await m.pushConnections()) {
      const h = await m.readHash('push', connection);
      for (const le of PUSH_BUCKETS_SECONDS) out.push({ metricName: 'synchub_push_duration_seconds_bucket', labels: { connection, le }, value: Number(h[`le:${le}`] ?? 0) });
      out.push({ metricName: 'synchub_push_duration_seconds_bucket', labels: { connection, le: '+Inf' }, value: Number(h.count ?? 0) });
      out.push({ metricName: 'synchub_push_duration_seconds_sum', labels: { connection }, value: Number(h.sum_us ?? 0) / 1e6 });
      out.push({ metricName: 'synchub_push_duration_seconds_count', labels: { connection }, value: Number(h.count ?? 0) });
    }
    return out;
  }));

  add(new RedisSeries('synchub_push_records_total', 'Records carried by push calls to a target API, by connection (÷ synchub_push_duration_seconds_count: records per call)', 'counter', async () => {
    const out: Values = [];
    for (const connection of await m.pushConnections()) out.push({ labels: { connection }, value: Number((await m.readHash('push', connection)).records ?? 0) });
    return out;
  }));

  add(new RedisSeries('synchub_queue_jobs', 'Jobs in each queue by state', 'gauge', async () => {
    const out: Values = [];
    for (const q of hub.allQueues()) {
      const counts = await q.getJobCounts(...QUEUE_STATES);
      for (const state of QUEUE_STATES) out.push({ labels: { queue: q.name, state }, value: counts[state] ?? 0 });
    }
    return out;
  }));

  const waits = async (unit: 'n' | 'ms') => Object.entries(await m.readHash('ratelimit')).filter(([f]) => f.endsWith(`|${unit}`)).map(([f, v]) => {
    const [connection, where] = split(f);
    return { labels: { connection, where }, value: unit === 'ms' ? Number(v) / 1000 : Number(v) };
  });
  add(new RedisSeries('synchub_rate_limit_waits_total', 'Waits on an API rate limit, by connection and where (inline in the HTTP client, or queue through the job layer)', 'counter', () => waits('n')));
  add(new RedisSeries('synchub_rate_limit_wait_seconds_total', 'Time spent waiting on API rate limits', 'counter', () => waits('ms')));

  add(new RedisSeries('synchub_breaker_state', 'Circuit breaker of each target connection: 1 for its current state', 'gauge', async () => {
    const out: Values = [];
    for (const connection of targets()) {
      const { state } = await hub.breaker(connection).status();
      for (const s of BREAKER_STATES) out.push({ labels: { connection, state: s }, value: s === state ? 1 : 0 });
    }
    return out;
  }));

  add(new RedisSeries('synchub_dead_letters', 'Dead letters waiting for an admin, by pipeline', 'gauge', async () =>
    Promise.all(pipelines().map(async (pipeline) => ({ labels: { pipeline }, value: await hub.redis.zcard(hub.store.k('dlq', 'p', pipeline)) })))));

  collectDefaultMetrics({ register: registry, prefix: 'synchub_process_' });
  return registry;
}
