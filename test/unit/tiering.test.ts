import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { optimiseSmallFunctionsWhenHot } from '../../src/runtime/tiering.js';

describe('small functions optimised once hot, in worker processes (src/runtime/tiering.ts)', () => {
  it('leaves a value given on node\'s command line in place', () => {
    expect(optimiseSmallFunctionsWhenHot(['--max-bytecode-size-for-early-opt=81'])).toBe('command line');
  });

  it('the V8 of this Node still has the flag it sets (an unknown flag would be ignored)', () => {
    const out = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    expect(out).toMatch(/--max-bytecode-size-for-early-opt \(Maximum bytecode length for a function to be optimized on the first tick\)/);
  });

  it('set at run time, a small function called often is no longer optimised on its first tick', () => {
    const script = `
      const v8 = require('node:v8');
      if (process.argv[1] === 'set') v8.setFlagsFromString('--max-bytecode-size-for-early-opt=0');
      let n = 0;
      for (let page = 0; page < 200; page++) [...Array(250).keys()].forEach((i) => { n += i; });
    `;
    const early = (arg: string) => {
      const r = spawnSync(process.execPath, ['--trace-opt', '-e', script, arg], { encoding: 'utf8' });
      return (r.stdout.match(/reason: small function/g) ?? []).length;
    };
    expect(early('leave')).toBeGreaterThan(0);
    expect(early('set')).toBe(0);
  });
});
