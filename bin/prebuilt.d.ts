/** bin/prebuilt.js: the hub's code compiled from src/ into dist/<fingerprint>/. */
export function buildDir(root?: string): { dir: string; files: string[] };
export function ensureBuilt(root?: string): Promise<string>;
export function prebuiltEntry(entry: string, root?: string): Promise<string | undefined>;
