import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import type { HubConfig } from '../../src/config/load.js';
import { startRedisCluster, type LocalRedisCluster } from '../../src/runtime/redis-cluster.js';
import { openTestHub, testConfig, type TestHub } from './hub.js';

/**
 * One Redis Cluster per test file (three primaries, each with one replica, on free ports, files in
 * a temporary directory), started before the file's tests and stopped after them. The returned
 * getter is valid inside tests and hooks.
 */
export function useRedisCluster(opts: { nodeTimeoutMs?: number } = {}): () => LocalRedisCluster {
  let cluster: LocalRedisCluster | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicas: 1, nodeTimeoutMs: opts.nodeTimeoutMs ?? 1500 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error('the test cluster is not running');
    return cluster;
  };
}

/** testConfig on the cluster: its own key prefix, so tests of one file never see each other's state. */
export function clusterConfig(cluster: LocalRedisCluster, raw: Record<string, unknown>, redis: Record<string, unknown> = {}): HubConfig {
  return testConfig({ ...raw, redis: { cluster: cluster.urls, prefix: `t${randomUUID().slice(0, 8)}`, ...redis } });
}

export function openClusterHub(cluster: LocalRedisCluster, config: HubConfig): Promise<TestHub> {
  return openTestHub(config, { cluster: cluster.urls });
}
