import type { TestProject } from 'vitest/node';
import { startRedisCluster, type LocalRedisCluster } from '../../src/runtime/redis-cluster.js';

let cluster: LocalRedisCluster | undefined;

/**
 * The `cluster` project's own Redis Cluster (vitest.config.ts): three primaries, each with one
 * replica, on free ports, started once for the project's files and stopped after them. testConfig
 * then points every hub at it (test/helpers/hub.ts).
 */
export async function setup(project: TestProject): Promise<void> {
  cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
  project.provide('redisCluster', cluster.urls);
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisCluster?: string[];
  }
}
