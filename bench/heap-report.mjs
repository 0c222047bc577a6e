/**
 * Sums a sampling heap profile (bench/heap-sample.mjs) by function: bytes allocated in each
 * function itself and under it. `node bench/heap-report.mjs FILE [rows] [filter]`.
 */
import { readFileSync } from 'node:fs';

const [file, rows = '40', filter = ''] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const own = new Map();
const under = new Map();
let total = 0;
const label = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|dist\/[^/]+)\//, 'src/')}:${cf.lineNumber + 1}`;
// Iterative: a deep async stack must not overflow this script's own.
const stack = [[profile.head, new Set()]];
while (stack.length) {
  const [node, above] = stack.pop();
  const name = label(node.callFrame);
  const names = new Set(above).add(name);
  total += node.selfSize;
  own.set(name, (own.get(name) ?? 0) + node.selfSize);
  for (const n of names) under.set(n, (under.get(n) ?? 0) + node.selfSize);
  for (const child of node.children) stack.push([child, names]);
}
const show = (m) => [...m].filter(([k]) => k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, Number(rows))
  .forEach(([k, bytes]) => console.log(`${((100 * bytes) / total).toFixed(1).padStart(5)}% ${(bytes / 1e6).toFixed(1).padStart(7)} MB  ${k}`));
console.log(`sampled allocations: ${(total / 1e6).toFixed(1)} MB`);
console.log('--- allocated in the function itself');
show(own);
console.log('--- allocated in the function or what it calls');
show(under);
