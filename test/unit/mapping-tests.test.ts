import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAPPINGS_DIR } from '../../src/mappings/engine.js';
import { findMappingTests, runMappingTests } from '../../src/mappings/test-runner.js';

// The tests shipped beside the default mappings (src/mappings/<connector>/<entity>.<dir>.test.yaml),
// the same files `synchub test` runs with no argument.
describe('the default mappings pass the tests kept beside them', () => {
  const files = findMappingTests([DEFAULT_MAPPINGS_DIR]);

  it('every default mapping has a test file beside it', () => {
    const mappings = readdirSync(DEFAULT_MAPPINGS_DIR, { recursive: true }).map(String).filter((f) => f.endsWith('.jsonata'));
    const tested = new Set(files.map((f) => path.relative(DEFAULT_MAPPINGS_DIR, f).replace(/\.test\.yaml$/, '.jsonata')));
    expect(mappings.filter((m) => !tested.has(m))).toEqual([]);
  });

  it.each(files.map((f) => [path.relative(DEFAULT_MAPPINGS_DIR, f), f]))('%s', async (_name, file) => {
    const results = await runMappingTests([file]);
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.problems.join('; ')}`)).toEqual([]);
  });
});
