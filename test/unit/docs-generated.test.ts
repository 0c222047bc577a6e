import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectors } from '../../src/connectors/registry.js';
import { docsState, fillBlocks, REPO_ROOT } from '../../scripts/docs.js';

describe('generated docs', () => {
  it('every connector has its page, and every generated table matches the schemas it is made from', () => {
    const state = docsState();
    for (const id of connectors.keys()) expect(state.map((d) => d.file)).toContain(`docs/connectors/${id}.md`);
    const stale = state.filter((d) => d.current !== d.expected).map((d) => `${d.file}: ${d.current === undefined ? 'missing' : 'a generated part is out of date'}`);
    expect(stale, `run \`npm run docs\` and commit the result:\n${stale.join('\n')}`).toEqual([]);
  });

  it('a page shows each option with its default and description, and credentials with their valid combinations', () => {
    const stripe = readFileSync(path.join(REPO_ROOT, 'docs/connectors/stripe.md'), 'utf8');
    expect(stripe).toContain('| `toleranceSeconds` | integer, 1–3600 |  | `300` | Largest distance of a webhook signature timestamp from now |');
    expect(stripe).toContain('| `secretKey` | string, pattern `^(sk\\|rk)_` | yes |');
    const alipay = readFileSync(path.join(REPO_ROOT, 'docs/connectors/alipay.md'), 'utf8');
    expect(alipay).toContain('- `appCertificate` requires `alipayCertificate` and `alipayRootCertificate`.');
    const config = readFileSync(path.join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
    expect(config).toContain('| `jobs.attempts` | integer, ≥ 1 |  | `8` |');
  });

  it('only the text between the markers is replaced; prose around it stays', () => {
    const page = 'intro prose\n<!-- generated:options:start (old note) -->\nold table\n<!-- generated:options:end -->\nafter prose\n';
    const out = fillBlocks('docs/x.md', page, new Map([['options', 'new table']]));
    expect(out).toMatch(/^intro prose\n<!-- generated:options:start [^\n]*-->\nnew table\n<!-- generated:options:end -->\nafter prose\n$/);
    expect(fillBlocks('docs/x.md', out, new Map([['options', 'new table']]))).toBe(out);
    expect(() => fillBlocks('docs/x.md', 'no markers', new Map([['options', 't']]))).toThrow(/docs\/x\.md: the markers of the generated block "options" are missing/);
  });
});

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? markdownFiles(path.join(dir, e.name)) : e.name.endsWith('.md') ? [path.join(dir, e.name)] : []));
}

function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trimStart().startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.*)$/.exec(line);
    if (m) anchors.add(anchor(m[1]));
  }
  return anchors;
}

describe('links between the README and docs/', () => {
  it('every relative link points at a file that exists, and every #anchor at a heading of it', () => {
    const files = [path.join(REPO_ROOT, 'README.md'), ...markdownFiles(path.join(REPO_ROOT, 'docs'))];
    const broken: string[] = [];
    for (const file of files) {
      let fenced = false;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trimStart().startsWith('```')) fenced = !fenced;
        if (fenced) continue;
        for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^[a-z]+:/i.test(target)) continue;
          const [rel, hash] = target.split('#');
          const dest = rel ? path.resolve(path.dirname(file), rel) : file;
          const where = path.relative(REPO_ROOT, file);
          if (!existsSync(dest)) broken.push(`${where}: ${target} (no such file)`);
          else if (hash && dest.endsWith('.md') && !anchorsOf(dest).has(hash)) broken.push(`${where}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
