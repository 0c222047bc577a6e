import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory in src/ of the module at `moduleUrl`, also when the code runs compiled from
 * dist/<build>/ (bin/prebuilt.js), which holds the JavaScript only: files shipped beside the code
 * (the default mappings and their tests, the admin page) are read from src/, and errors and
 * `synchub test` name the files a user can open and edit.
 */
export function sourceDir(moduleUrl: string): string {
  const dir = path.dirname(fileURLToPath(moduleUrl));
  if (!moduleUrl.endsWith('.js')) return dir;
  // dist/<build>/<rel> -> src/<rel>
  for (let build = dir; path.dirname(build) !== build; build = path.dirname(build)) {
    const dist = path.dirname(build);
    if (path.basename(dist) === 'dist') return path.join(path.dirname(dist), 'src', path.relative(build, dir));
  }
  return dir;
}
