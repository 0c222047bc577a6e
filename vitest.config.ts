import { configDefaults, defineConfig } from 'vitest/config';

/** The data path's end-to-end tests, run a second time on a Redis Cluster (the `cluster` project). */
const ON_CLUSTER = [
  'test/int/shopify-to-hubspot.int.test.ts',
  'test/int/webhook-route.int.test.ts',
  'test/int/payments.int.test.ts',
  'test/int/dead-letters.int.test.ts',
  'test/int/cluster/sharded-commit.int.test.ts',
  // Erasure commits in steps over shard groups (src/operations/erasure.ts).
  'test/int/erasure.int.test.ts',
  // Order facts in shard groups, read across them by the order report (src/admin/reports.ts).
  'test/int/order-figures.int.test.ts',
  // The search by email reads the person index in the person's shard group (src/timeline/search.ts).
  'test/int/record-timeline.int.test.ts',
  // A batch's push locks taken all or none across shard groups (src/state/record-state.ts).
  'test/int/push-locks.int.test.ts',
];

/** Tests of one module or connector at a time (their Redis, where they use one, is the suite's). */
const UNIT = ['test/unit/**/*.test.ts', 'test/connectors/**/*.test.ts', 'test/sandbox/**/*.test.ts', 'src/**/*.test.ts'];

export default defineConfig({
  test: {
    // Every mapping evaluated in the suite runs on both evaluators; any disagreement fails (src/mappings/engine.ts).
    env: { SYNCHUB_MAPPING_ENGINE: 'verify' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: UNIT,
          // These files start no hub or worker of their own that could outlive them, and keep no
          // state in modules between files: they share one module graph per worker instead of
          // evaluating it again for every file (import time was ~40% of the suite's CPU).
          isolate: false,
          globalSetup: ['test/helpers/global-redis.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'redis',
          include: ['test/**/*.test.ts'],
          // Needs the project's Redis Cluster (a hub with shards): run by the `cluster` project only.
          exclude: [...configDefaults.exclude, ...UNIT, 'test/int/cluster/sharded-commit.int.test.ts'],
          // One redis-server for the whole run, started and stopped by the suite itself.
          globalSetup: ['test/helpers/global-redis.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ON_CLUSTER,
          // The single redis-server too: a few of these tests start hubs on a Redis of their own.
          globalSetup: ['test/helpers/global-redis.ts', 'test/helpers/global-redis-cluster.ts'],
        },
      },
    ],
  },
});
