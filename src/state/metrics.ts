import type { ChainableCommander, Redis } from 'ioredis';

/**
 * Counters and histograms kept in Redis, so every process (server, workers)
 * adds to the same figures and any one of them can answer GET /metrics.
 */
export const PUSH_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class MetricsStore {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  k(...parts: string[]): string {
    return [this.prefix, 'm', ...parts].join(':');
  }

  /** result: stored, duplicate, or the refusal's error code. */
  async webhookReceived(connection: string, result: string): Promise<void> {
    await this.redis.hincrby(this.k('webhooks'), `${connection}|${result}`, 1);
  }

  /** The same count added to the caller's pipeline, `n` deliveries at once. */
  webhooksReceivedIn(pipe: ChainableCommander, connection: string, result: string, n: number): void {
    pipe.hincrby(this.k('webhooks'), `${connection}|${result}`, n);
  }

  /** One push call to a target, carrying `records` records (records per call = records / count). */
  async pushObserved(connection: string, seconds: number, records = 1): Promise<void> {
    const pipe = this.redis.multi();
    const key = this.k('push', connection);
    for (const le of PUSH_BUCKETS_SECONDS) if (seconds <= le) pipe.hincrby(key, `le:${le}`, 1);
    pipe.hincrby(key, 'count', 1);
    pipe.hincrby(key, 'records', records);
    pipe.hincrby(key, 'sum_us', Math.round(seconds * 1e6));
    pipe.sadd(this.k('push', 'connections'), connection);
    await pipe.exec();
  }

  /** where: inline (the HTTP client waited) or queue (the job layer waited through the queue's limiter). */
  async rateLimitWait(connection: string, where: 'inline' | 'queue', ms: number): Promise<void> {
    await this.redis.multi()
      .hincrby(this.k('ratelimit'), `${connection}|${where}|n`, 1)
      .hincrby(this.k('ratelimit'), `${connection}|${where}|ms`, Math.max(0, Math.round(ms)))
      .exec();
  }

  async readHash(...parts: string[]): Promise<Record<string, string>> {
    return this.redis.hgetall(this.k(...parts));
  }

  async pushConnections(): Promise<string[]> {
    return this.redis.smembers(this.k('push', 'connections'));
  }
}
