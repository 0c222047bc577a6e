#!/usr/bin/env node
// Runs the CLI as JavaScript compiled from src/ (bin/prebuilt.js: made on the first start after a
// change, or by `npm run build`), or, when no build can be made, the TypeScript through tsx.
import { prebuiltEntry } from './prebuilt.js';

const entry = await prebuiltEntry('cli.js');
if (entry) await import(entry);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
