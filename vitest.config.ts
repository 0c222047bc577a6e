import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // One redis-server for the whole run, started and stopped by the suite itself.
    globalSetup: ['test/helpers/global-redis.ts'],
    // Every mapping evaluated in the suite runs on both evaluators; any disagreement fails (src/mappings/engine.ts).
    env: { SYNCHUB_MAPPING_ENGINE: 'verify' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
