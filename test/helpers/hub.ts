import { randomUUID } from 'node:crypto';
import type { JobType, Queue } from 'bullmq';
import path from 'node:path';
import { inject } from 'vitest';
import { buildConfig, type HubConfig } from '../../src/config/load.js';
import { generateKeySpec } from '../../src/core/crypto.js';
import { createLogger } from '../../src/core/logger.js';
import { Hub } from '../../src/jobs/hub.js';
import { configuredAddress, type RedisAddress } from '../../src/state/redis-client.js';
import { startWorkers, type WorkerSet } from '../../src/jobs/workers.js';

export const TEST_KEYS = `${generateKeySpec('t1')}`;

/** The suite's own Redis (see global-redis.ts). */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** The `cluster` project's Redis Cluster seed nodes (test/helpers/global-redis-cluster.ts); undefined elsewhere. */
export function testCluster(): string[] | undefined {
  return inject('redisCluster');
}

export const quietLogger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/**
 * A config for tests: every hub gets its own key prefix in the suite's Redis,
 * so test files running side by side never see each other's queues or state.
 * In the `cluster` project (vitest.config.ts) that Redis is the project's Redis Cluster.
 */
export function testConfig(raw: Record<string, unknown>, opts: { keys?: string; env?: NodeJS.ProcessEnv } = {}): HubConfig {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  return buildConfig({
    redis: testCluster() ? { cluster: testCluster(), prefix } : { url: testRedisUrl(), prefix },
    encryption: { keys: opts.keys ?? TEST_KEYS },
    jobs: { lockDurationMs: 2000, stalledIntervalMs: 1000, backoffMs: 50, ...(raw.jobs as object) },
    ...raw,
  }, path.resolve('test/fixtures/hub.yaml'), { env: opts.env ?? {} });
}

export interface TestHub {
  hub: Hub;
  workers?: WorkerSet;
  startWorkers(): WorkerSet;
  close(): Promise<void>;
}

export async function openTestHub(config: HubConfig, redisUrl: RedisAddress = configuredAddress(config.redis) ?? testRedisUrl()): Promise<TestHub> {
  const hub = await Hub.open(config, quietLogger, redisUrl);
  const t: TestHub = {
    hub,
    startWorkers() {
      t.workers = startWorkers(hub);
      return t.workers;
    },
    async close() {
      await t.workers?.close(true);
      await hub.close();
    },
  };
  return t;
}

/** Polls until `check` returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls until the run has finished (every page ingested and every push settled) and answers it. */
export function runFinished(hub: Hub, runId: string, timeoutMs?: number, everyMs?: number) {
  return eventually(async () => {
    const r = await hub.store.getRun(runId);
    return r?.finishedAt ? r : undefined;
  }, timeoutMs, everyMs);
}

export const SHOP_WEBHOOK_SECRET = 'shop-webhook-secret';

/** Shopify orders → HubSpot deals, taken by webhook (the webhook route's tests). */
export function shopWebhookConfig(redisUrl?: string): HubConfig {
  const cfg = testConfig({
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SHOP_WEBHOOK_SECRET } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
  });
  if (redisUrl) cfg.redis = { ...cfg.redis, url: redisUrl, cluster: undefined };
  return cfg;
}

/**
 * The webhook events held by the ingest queue's jobs in the given states, by event id, with how
 * many jobs hold each (a 'webhooks' job carries a route write's events, a 'webhook' job one).
 */
export async function queuedWebhookEvents(queue: Queue, states: JobType[] = ['wait']): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const job of await queue.getJobs(states)) {
    const d = job?.data as { eventId?: string; events?: { eventId: string }[] } | undefined;
    const ids = d?.events ? d.events.map((e) => e.eventId) : d?.eventId ? [d.eventId] : [];
    for (const id of ids) out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}
