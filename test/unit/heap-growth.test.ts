import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { generateKeySpec } from '../../src/core/crypto.js';
import { limitHeapGrowth } from '../../src/runtime/heap-growth.js';
import { lowerCpuPriority } from '../../src/runtime/cpu-priority.js';

const env = { SYNCHUB_KEYS: generateKeySpec('k1') };
const config = (jobs?: Record<string, unknown>) => buildConfig({
  encryption: { keys: '${SYNCHUB_KEYS}' },
  connections: { crm: { connector: 'hubspot', credentials: { accessToken: 'pat-x' } } },
  pipelines: {},
  ...(jobs ? { jobs } : {}),
}, '/tmp/hub.yaml', { env });

/** The problems a config with these job settings is refused with, one a line. */
function problemsOf(jobs: Record<string, unknown>): string {
  try {
    config(jobs);
  } catch (err) {
    return (err as ConfigError).problems.join('\n');
  }
  throw new Error('the config was accepted');
}

describe('heap growth of worker processes (jobs.heapGrowthPercent)', () => {
  it('defaults to 100 (twice the live data), takes 0 for V8\'s own growth, and refuses values out of range by their path', () => {
    expect(config().jobs.heapGrowthPercent).toBe(100);
    expect(config({ heapGrowthPercent: 0 }).jobs.heapGrowthPercent).toBe(0);
    expect(() => config({ heapGrowthPercent: -1 })).toThrow(ConfigError);
    expect(problemsOf({ heapGrowthPercent: 1000 })).toMatch(/jobs\.heapGrowthPercent/);
  });

  it('leaves a value given on node\'s command line in place, and V8\'s own factor at 0', () => {
    expect(limitHeapGrowth(100, ['--heap-growing-percent=50'])).toBe('command line');
    expect(limitHeapGrowth(0, [])).toBe('v8 default');
  });

  it('the V8 of this Node still has the flag the setting sets (an unknown flag would be ignored)', () => {
    const out = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    expect(out).toMatch(/--heap-growing-percent \(specifies heap growing factor/);
  });

  it('a worker process lowers its CPU priority to jobs.workerNice, 5 by default, 0 leaving it, refusing values a nice cannot take by their path', () => {
    expect(config().jobs.workerNice).toBe(5);
    expect(config({ workerNice: 0 }).jobs.workerNice).toBe(0);
    expect(problemsOf({ workerNice: 20 })).toMatch(/jobs\.workerNice/);
    expect(problemsOf({ workerNice: -1 })).toMatch(/jobs\.workerNice/);
    expect(lowerCpuPriority(0)).toEqual({ outcome: 'off', threads: 0 });
  });
});
