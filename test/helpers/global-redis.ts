import type { TestProject } from 'vitest/node';
import { startRedisServer } from '../../src/runtime/redis-server.js';

/**
 * Starts a project's own redis-server on a free port; tests never touch any other Redis. Several
 * projects use this file, so each call keeps its server in its own closure and stops it itself.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startRedisServer();
  project.provide('redisUrl', redis.url);
  return () => redis.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
