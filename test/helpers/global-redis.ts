import type { TestProject } from 'vitest/node';
import { startRedisServer, type LocalRedis } from '../../src/runtime/redis-server.js';

let redis: LocalRedis | undefined;

/** Starts the suite's own redis-server on a free port; tests never touch any other Redis. */
export async function setup(project: TestProject): Promise<void> {
  redis = await startRedisServer();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
