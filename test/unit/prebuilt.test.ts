import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDir, ensureBuilt } from '../../bin/prebuilt.js';
import { sourceDir } from '../../src/core/source-tree.js';

/** A project root of its own: src/ with two modules, the repository's node_modules (esbuild). */
const roots: string[] = [];
afterAll(() => { for (const r of roots) rmSync(r, { recursive: true, force: true }); });

function project(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'synchub-prebuilt-'));
  roots.push(root);
  mkdirSync(path.join(root, 'src', 'sub'), { recursive: true });
  symlinkSync(path.resolve('node_modules'), path.join(root, 'node_modules'));
  writeFileSync(path.join(root, 'src', 'main.ts'), "import { twice } from './sub/twice.js';\nexport const value: number = twice(21);\n");
  writeFileSync(path.join(root, 'src', 'sub', 'twice.ts'), 'export function twice(n: number): number { return n * 2; }\n');
  writeFileSync(path.join(root, 'src', 'main.test.ts'), 'this is not compiled\n');
  return root;
}

describe('the CLI compiled from src/ (bin/prebuilt.js)', () => {
  it('builds src/ once into dist/<fingerprint>, also when processes start together, and the build runs', async () => {
    const root = project();
    const dirs = await Promise.all([ensureBuilt(root), ensureBuilt(root), ensureBuilt(root)]);
    expect(new Set(dirs).size).toBe(1);
    // No temporary directory is left behind, and a test file is not compiled.
    expect(readdirSync(path.join(root, 'dist'))).toEqual([path.basename(dirs[0])]);
    expect(existsSync(path.join(dirs[0], 'main.test.js'))).toBe(false);
    const built = await import(pathToFileURL(path.join(dirs[0], 'main.js')).href);
    expect(built.value).toBe(42);
  });

  it('an edit of src/ makes a new build; builds a day old are removed when the next is made', async () => {
    const root = project();
    const first = await ensureBuilt(root);
    writeFileSync(path.join(root, 'src', 'sub', 'twice.ts'), 'export function twice(n: number): number { return n + n + 1; }\n');
    expect(buildDir(root).dir).not.toBe(first);
    const old = new Date(Date.now() - 25 * 3600_000);
    utimesSync(first, old, old);
    const second = await ensureBuilt(root);
    expect(second).not.toBe(first);
    expect(existsSync(first)).toBe(false);
    expect((await import(pathToFileURL(path.join(second, 'main.js')).href)).value).toBe(43);
  });

  it('a module running compiled reads the files shipped beside it from src/', () => {
    const root = path.join(path.sep, 'opt', 'synchub');
    expect(sourceDir(pathToFileURL(path.join(root, 'dist', '0123456789abcdef', 'mappings', 'engine.js')).href)).toBe(path.join(root, 'src', 'mappings'));
    expect(sourceDir(pathToFileURL(path.join(root, 'src', 'mappings', 'engine.ts')).href)).toBe(path.join(root, 'src', 'mappings'));
  });
});
