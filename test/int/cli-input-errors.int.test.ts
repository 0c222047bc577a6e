import { synchub } from '../helpers/cli.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';


describe('CLI and config errors name what is wrong and where', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-input-'));

  it('keys generate refuses a key id the config would refuse, and prints no key', async () => {
    const out = await synchub(['keys', 'generate', '--kid', 'bad kid/x']);
    expect(out.code).not.toBe(0);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('bad kid/x');
    expect(out.stderr).toMatch(/letters, digits, _ and -/);
    const ok = await synchub(['keys', 'generate', '--kid', 'good_kid-2']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^good_kid-2:[A-Za-z0-9+/]{43}=\n$/);
  });

  it('map with an input file that is not JSON names the file', async () => {
    const input = path.join(dir, 'broken.json');
    writeFileSync(input, '{"id": 1,');
    const out = await synchub(['map', 'src/mappings/shopify/order.in.jsonata', input]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(input);
    expect(out.stderr).toMatch(/not valid JSON/);
  });

  it('a YAML alias bomb in the config is a ConfigError naming the file', () => {
    const file = path.join(dir, 'bomb.yaml');
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) lines.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(10).fill(`*${'abcdefghi'[i - 1]}`).join(',')}]`);
    writeFileSync(file, lines.join('\n') + '\n');
    let err: unknown;
    try {
      loadConfig(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/alias/i);
  });
});
