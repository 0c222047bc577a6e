// The hub's code compiled to plain JavaScript once per change of src/, so a process runs it
// without TypeScript's loader. Through tsx (its `register()`), Node 20 runs module hooks on a
// loader thread of their own, one more V8 isolate per process and per worker thread (16-25 MB of
// heap each), and every import goes through it: `synchub worker` took ~0.4 s longer to start and
// ~40 MB more at idle, ~75 MB with `jobs.threads: 2` (bench/RESULTS.md, "The CLI as compiled
// JavaScript").
//
// The build is esbuild's type stripping of each src/ file (what tsx does to it on the fly), into
// dist/<fingerprint>/ beside src/. The fingerprint names every file of src/ with its size and
// modification time, so an edit or a checkout makes a new build on the next start, and the code a
// process runs is always its src/. Builds are made side by side (a process builds into a
// directory of its own and renames it into place; the first rename wins), so processes started
// together never see half a build. Builds other than the current one are removed once a day old
// (a process started from one may still import from it). When a build cannot be made (a
// read-only install: run `npm run build` when the image is made), the CLI runs the TypeScript
// through tsx as before.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Changes when what a build holds or how it is made changes. */
const FORMAT = 'synchub-dist 1';
const COMPLETE = '.complete';
const KEEP_OTHER_BUILDS_MS = 24 * 3600_000;

/** The TypeScript files under `dir` (relative paths, sorted) with what identifies their content. */
function sources(dir, rel = '') {
  const out = [];
  for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...sources(dir, r));
    else if (/\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) {
      const st = statSync(path.join(dir, r));
      out.push({ rel: r, id: `${r}\0${st.size}\0${st.mtimeMs}` });
    }
  }
  return out;
}

function esbuildVersion(root) {
  try {
    return JSON.parse(readFileSync(path.join(root, 'node_modules', 'esbuild', 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

/** dist/<fingerprint> of `root`'s src/ as it is now, and its files. */
export function buildDir(root = ROOT) {
  const files = sources(path.join(root, 'src'));
  const hash = createHash('sha256').update(`${FORMAT}\n${esbuildVersion(root)}\n`);
  for (const f of files) hash.update(`${f.id}\n`);
  return { dir: path.join(root, 'dist', hash.digest('hex').slice(0, 16)), files: files.map((f) => f.rel) };
}

/**
 * The current build of `root`'s src/, made if missing: its directory. Throws when it cannot be
 * made (esbuild missing, src/ that does not compile, dist/ not writable).
 */
export async function ensureBuilt(root = ROOT) {
  const { dir, files } = buildDir(root);
  if (existsSync(path.join(dir, COMPLETE))) return dir;
  const { build } = await import(pathToFileURL(path.join(root, 'node_modules', 'esbuild', 'lib', 'main.js')).href);
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(tmp, { recursive: true });
  try {
    await build({
      entryPoints: files.map((f) => path.join(root, 'src', f)), outdir: tmp, outbase: path.join(root, 'src'),
      format: 'esm', platform: 'node', target: 'node20', sourcemap: 'linked', logLevel: 'silent',
      // As tsconfig.json says (the admin page's JSX).
      jsx: 'automatic', jsxImportSource: 'hono/jsx',
    });
    writeFileSync(path.join(tmp, COMPLETE), `${FORMAT}\n${files.length} files\n`);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process put the same build in place first.
      if (!existsSync(path.join(dir, COMPLETE))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  pruneOthers(path.dirname(dir), path.basename(dir));
  return dir;
}

/** Other builds and abandoned temporary directories, once a day old (best effort). */
function pruneOthers(dist, keep) {
  try {
    for (const name of readdirSync(dist)) {
      if (name === keep) continue;
      const p = path.join(dist, name);
      if (Date.now() - statSync(p).mtimeMs > KEEP_OTHER_BUILDS_MS) rmSync(p, { recursive: true, force: true });
    }
  } catch {
    // Another process pruned the same directory.
  }
}

/** The URL of `entry` (a path under src/, as .js) in the current build, or undefined to run the TypeScript (SYNCHUB_PREBUILT=0, or no build could be made). */
export async function prebuiltEntry(entry, root = ROOT) {
  if (process.env.SYNCHUB_PREBUILT === '0') return undefined;
  try {
    return pathToFileURL(path.join(await ensureBuilt(root), entry)).href;
  } catch {
    return undefined;
  }
}

// `npm run build`: makes the current build (for an install whose directory is read-only later).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = await ensureBuilt();
  console.log(`built ${path.relative(process.cwd(), dir) || dir}`);
}
