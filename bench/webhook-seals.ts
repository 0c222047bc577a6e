/**
 * The sealing work on one webhook record's way through the hub, before and after issue 23's
 * round of 2026-12-07 (each step in isolation, µs per record, this process alone):
 * `npx tsx bench/webhook-seals.ts [records=20000] [rounds=5]`. Before: the route seals
 * JSON.stringify(record) and hashes the body for its content id beside the HMAC check (secret
 * as a string); the worker seals the record again as its source page and the flush opens each
 * coalesced entry. After: the route seals the body's bytes and reuses the checked HMAC (a
 * KeyObject); the source page is the route's ciphertext reframed; the flush opens nothing.
 * Rounds alternate before and after.
 */
import { createHash, createHmac, createSecretKey } from 'node:crypto';
import { createKeyring, generateKeySpec, sealJson, sealJsonBytes } from '../src/core/crypto.js';
import { eventSourcePage, SOURCE_PAGE_AAD } from '../src/jobs/source-pages.js';
import { coalescedEntryAad } from '../src/jobs/coalesced-entry.js';
import { webhookAad } from '../src/jobs/webhook-sealing.js';
import { orders } from './mapping.js';

const n = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 5);
const keyring = createKeyring(generateKeySpec('bench'));
const SECRET = 'bench-webhook-crm-secret';
const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
const body = Buffer.from(JSON.stringify(orders(1)[0]));
const record = JSON.parse(body.toString('utf8'));
const aad = webhookAad('shop');
const routeSealed = sealJson(keyring, record, aad);
const entry = keyring.encryptBytes(JSON.stringify(record), coalescedEntryAad('crm', 'wh_shop_1_orders.0>crm'));
let sink = 0;

const steps = {
  before: {
    route: () => {
      const mac = createHmac('sha256', SECRET).update(body).digest('base64');
      const contentId = `body:${createHash('sha256').update(body).digest('hex')}`;
      sink += mac.length + contentId.length + sealJson(keyring, record, aad).length;
    },
    worker: () => {
      sink += sealJsonBytes(keyring, { records: [record] }, SOURCE_PAGE_AAD).length;
      sink += keyring.decryptBytes(entry, coalescedEntryAad('crm', 'wh_shop_1_orders.0>crm')).length;
    },
  },
  after: {
    route: () => {
      const mac = createHmac('sha256', key).update(body).digest();
      const contentId = `sig:${mac.toString('hex')}`;
      sink += mac.toString('base64').length + contentId.length + keyring.encrypt(body, aad).length;
    },
    worker: () => {
      sink += eventSourcePage('shop', routeSealed).length;
    },
  },
};

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

for (const side of ['before', 'after'] as const) for (let i = 0; i < 2000; i++) (steps[side].route(), steps[side].worker());
const out: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  const order: ('before' | 'after')[] = r % 2 ? ['after', 'before'] : ['before', 'after'];
  for (const side of order) {
    for (const part of ['route', 'worker'] as const) (out[`${side} ${part}`] ??= []).push(time(steps[side][part]));
  }
}
const fmt = (xs: number[]) => `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2)} µs (${xs.map((x) => x.toFixed(2)).join(', ')})`;
console.log(`record body ${body.length} bytes; ${n} records × ${rounds} rounds; load ${(await import('node:os')).loadavg()[0].toFixed(2)}`);
for (const [k, xs] of Object.entries(out)) console.log(`${k}: ${fmt(xs)}`);
if (sink === 42) console.log('');
