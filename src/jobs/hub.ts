import type { Redis, RedisOptions } from 'ioredis';
import type { Queue } from 'bullmq';
import type { HubConfig } from '../config/load.js';
import type { ConnectorClient } from '../connectors/types.js';
import type { Logger } from '../core/logger.js';
import { StateStore } from '../state/store.js';
import { MetricsStore } from '../state/metrics.js';
import { httpEvents } from '../connectors/http-events.js';
import { CircuitBreaker, DEFAULT_BREAKER } from './breaker.js';
import { NOTIFY_QUEUE } from '../notify/types.js';
import { FLUSH_QUEUE, INGEST_QUEUE, PULL_QUEUE, openQueue, pushQueueName } from './queues.js';
import { WebhookEventStore } from './webhook-store.js';
import { TimelineStore } from '../timeline/store.js';
import { connectRedis, describeAddress, isClusterAddress, type RedisAddress } from '../state/redis-client.js';
import { ShardLayout } from '../state/key-layout.js';
import { checkLayout } from '../state/layout-guard.js';
import { waitOnEveryPrimary } from '../state/replica-wait.js';

/**
 * The running hub: config, Redis, state, queues and one client per connection.
 * Shared by the server, the workers and the CLI.
 */
export class Hub {
  readonly store: StateStore;
  /** The prefix of the state's control keys: `{<prefix>}` on a Redis Cluster (src/state/key-layout.ts). */
  readonly keyPrefix: string;
  /** Where each record's state goes: the hub tag, or one of its shard groups (src/state/key-layout.ts). */
  readonly layout: ShardLayout;
  /** Redis-backed counters and histograms behind GET /metrics. */
  readonly metrics: MetricsStore;
  /** Each record's timeline of steps, sealed (src/timeline/). */
  readonly timeline: TimelineStore;
  readonly pullQueue: Queue;
  readonly ingestQueue: Queue;
  /** Order-event notifications to the pipelines' sinks (signed webhooks, RabbitMQ). */
  readonly notifyQueue: Queue;
  /** Flushes of webhook records waiting to be pushed together (coalesce.ts). */
  readonly flushQueue: Queue;
  /** Dedupes and stores verified webhook events, many deliveries per Redis round trip. */
  readonly webhookEvents: WebhookEventStore;
  private readonly pushQueues = new Map<string, Queue>();
  private readonly clients = new Map<string, ConnectorClient>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private closed = false;

  private constructor(
    readonly config: HubConfig,
    readonly logger: Logger,
    readonly redisAddress: RedisAddress,
    /** Commands fail at once while Redis is away (the webhook route answers 503 rather than wait). */
    readonly redis: Redis,
    layout: ShardLayout,
  ) {
    this.layout = layout;
    this.keyPrefix = layout.hub;
    this.store = new StateStore(redis, layout);
    this.metrics = new MetricsStore(redis, this.keyPrefix);
    this.timeline = new TimelineStore(redis, (...parts) => this.store.k(...parts), config.keyring, config.timeline);
    httpEvents.on('rateLimitWait', this.countInlineWait);
    this.pullQueue = this.watch(openQueue(PULL_QUEUE, this.producerConnection(), config.redis.prefix));
    this.ingestQueue = this.watch(openQueue(INGEST_QUEUE, this.producerConnection(), config.redis.prefix));
    this.notifyQueue = this.watch(openQueue(NOTIFY_QUEUE, this.producerConnection(), config.redis.prefix));
    this.flushQueue = this.watch(openQueue(FLUSH_QUEUE, this.producerConnection(), config.redis.prefix));
    this.webhookEvents = new WebhookEventStore({ queue: this.ingestQueue, state: this.store, metrics: this.metrics, dedupeHours: config.jobs.webhookDedupeHours,
      replicaAck: { replicas: config.redis.waitReplicas, timeoutMs: config.redis.waitTimeoutMs },
    });
    for (const p of config.pipelines.values()) for (const t of p.targets) this.pushQueue(t.connection);
  }

  /** Opens the hub once its state connection is ready (commands fail fast after that, never queue). */
  static async open(config: HubConfig, logger: Logger, redisAddress: RedisAddress, timeoutMs = 10_000): Promise<Hub> {
    const redis = connectRedis(redisAddress, Hub.producerOptions());
    redis.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));
    if (redis.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          redis.disconnect();
          reject(new Error(`${describeAddress(redisAddress)} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        redis.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    try {
      return new Hub(config, logger, redisAddress, redis, await Hub.layoutOf(config, logger, redisAddress, redis));
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }

  /**
   * The state's layout: on a cluster, the shard count its state was written with, checked
   * against `redis.shards` (src/state/layout-guard.ts: a mismatch refuses to start).
   */
  private static async layoutOf(config: HubConfig, logger: Logger, address: RedisAddress, redis: Redis): Promise<ShardLayout> {
    const { prefix } = config.redis;
    if (!isClusterAddress(address)) return ShardLayout.oneRedis(prefix);
    const hub = ShardLayout.cluster(prefix, 1).hub;
    const decision = await checkLayout(redis, hub, config.redis.shards, [...config.pipelines.keys()]);
    if (decision.from === 'existing') logger.info({ prefix }, 'this hub\'s state predates shards: it stays on its hub tag, one slot (redis.shards: 1)');
    return ShardLayout.cluster(prefix, decision.shards, decision.paidOrdersOnHubTag);
  }

  /** Producers fail fast: no offline queue, so a stored-or-not answer is never a guess. */
  static producerOptions(): RedisOptions {
    return { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false, retryStrategy: (n) => Math.min(n * 200, 2000) };
  }

  producerConnection(): Redis {
    const r = connectRedis(this.redisAddress, Hub.producerOptions());
    r.on('error', (err) => this.logger.debug({ err: err.message }, 'redis connection error'));
    return r;
  }

  /** Workers block on Redis and must retry forever (BullMQ requires maxRetriesPerRequest: null). */
  workerConnection(): Redis {
    const r = connectRedis(this.redisAddress, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2000) });
    r.on('error', (err) => this.logger.debug({ err: err.message }, 'redis connection error'));
    return r;
  }

  pushQueue(connection: string): Queue {
    let q = this.pushQueues.get(connection);
    if (!q) {
      q = this.watch(openQueue(pushQueueName(connection), this.producerConnection(), this.config.redis.prefix));
      this.pushQueues.set(connection, q);
    }
    return q;
  }

  /** Connection errors while Redis is away are expected (callers see them as failed calls): log, don't print. */
  private watch(q: Queue): Queue {
    q.on('error', (err) => this.logger.debug({ queue: q.name, err: err.message }, 'queue connection error'));
    return q;
  }

  allQueues(): Queue[] {
    return [this.pullQueue, this.ingestQueue, this.notifyQueue, this.flushQueue, ...this.pushQueues.values()];
  }

  private lastReplicaWarning = 0;

  /**
   * A job's commit barrier with `redis.waitReplicas` ≥ 1 (src/jobs/workers.ts runs it after each
   * job's work, before BullMQ marks the job completed): waits until replicas hold every write this
   * process sent each primary through its state and producer connections (the job's state
   * transactions, the jobs it queued). A primary that fails now loses nothing the job is done with:
   * a primary that does not answer fails the job, which is retried and redoes its writes (job ids,
   * fingerprints and claims make that a no-op where they were kept). A live primary whose replicas
   * fall short (none attached after a failover) cannot do better: logged, the job completes.
   */
  async replicaBarrier(): Promise<void> {
    const ack = { replicas: this.config.redis.waitReplicas, timeoutMs: this.config.redis.waitTimeoutMs };
    if (ack.replicas <= 0) return;
    const clients = [this.redis, ...(await Promise.all(this.allQueues().map((q) => q.client)))] as unknown as Redis[];
    const short = await waitOnEveryPrimary(clients, ack);
    if (short.length && Date.now() - this.lastReplicaWarning > 10_000) {
      this.lastReplicaWarning = Date.now();
      this.logger.warn({ primaries: [...new Set(short)], waitReplicas: ack.replicas }, 'fewer replicas than redis.waitReplicas acknowledged a job\'s writes; jobs complete without that guarantee until a replica is back');
    }
  }

  /** The circuit breaker of pushes to a connection (state shared by every worker through Redis). */
  breaker(connection: string): CircuitBreaker {
    let b = this.breakers.get(connection);
    if (!b) {
      const conn = this.config.connections.get(connection);
      b = new CircuitBreaker(this.redis, this.keyPrefix, connection, { ...DEFAULT_BREAKER, ...conn?.breaker });
      this.breakers.set(connection, b);
    }
    return b;
  }

  client(connection: string): ConnectorClient {
    let c = this.clients.get(connection);
    if (!c) {
      const conn = this.config.connections.get(connection);
      if (!conn) throw new Error(`no connection named ${connection}`);
      c = this.config.connectorOf(connection).create(conn, {
        logger: this.logger.child({ connection }),
        shared: { redis: this.redis, prefix: this.keyPrefix, keyring: this.config.keyring },
      });
      this.clients.set(connection, c);
    }
    return c;
  }

  /** Inline rate-limit waits of this process's HTTP clients, for this hub's connections. */
  private readonly countInlineWait = (connection: string, ms: number): void => {
    if (this.config.connections.has(connection)) this.metrics.rateLimitWait(connection, 'inline', ms).catch(() => {});
  };

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    httpEvents.off('rateLimitWait', this.countInlineWait);
    await this.webhookEvents.drain();
    await Promise.allSettled(this.allQueues().map(async (q) => {
      await q.close();
      (await q.client).disconnect();
    }));
    await Promise.allSettled([...this.clients.values()].map((c) => c.close()));
    this.redis.disconnect();
  }
}
