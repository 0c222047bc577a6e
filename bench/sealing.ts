/**
 * Sealing one webhook body (the Shopify order of the mapping benchmark) as a serve process does:
 * with the symmetric keyring (AES-256-GCM, the baseline) or, with encryption.publicKeys, as a JWE
 * for the workers (RSA-OAEP-256 with a 2048-bit key; ECDH-ES+A256KW on P-256), one after another
 * on one thread; and opening it again as a worker does. Also: one order mail rendered (both parts).
 */
import { generateKeyPairSync } from 'node:crypto';
import { createKeyring, generateKeySpec } from '../src/core/crypto.js';
import { privateKeyring, publicKeyring } from '../src/core/jwe.js';
import { compileTemplate } from '../src/notify/templates.js';
import { DEFAULT_TEMPLATES } from '../src/notify/mail-defaults.js';
import { orders } from './mapping.js';
import { fmt, ratio, type Row } from './util.js';

async function rate(n: number, fn: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return n / ((performance.now() - t0) / 1000);
}

export async function sealingBench(n = 2_000): Promise<Row[]> {
  const body = JSON.stringify(orders(1)[0]);
  const keyring = createKeyring(generateKeySpec('bench'));
  const symmetric = await rate(n, () => keyring.encrypt(body, 'webhook:shop'));
  const rows: Row[] = [];
  for (const [label, pair] of [
    ['RSA-OAEP-256 (2048)', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ECDH-ES+A256KW (P-256)', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ] as const) {
    const pub = publicKeyring([{ kid: 'b', pem: String(pair.publicKey.export({ type: 'spki', format: 'pem' })) }]);
    const priv = privateKeyring([{ kid: 'b', pem: String(pair.privateKey.export({ type: 'pkcs8', format: 'pem' })) }]);
    const seal = await rate(n, () => pub.seal(body, 'webhook:shop'));
    const sealed = await pub.seal(body, 'webhook:shop');
    const open = await rate(Math.ceil(n / 4), () => priv.open(sealed, 'webhook:shop'));
    rows.push({ benchmark: 'webhook sealing', measure: `JWE ${label}: sealed / opened per s (${body.length} B body)`, value: `${fmt(seal)} / ${fmt(open)}`, baseline: `${fmt(symmetric)} (AES-256-GCM keyring)`, ratio: ratio(seal, symmetric) });
  }
  const t = DEFAULT_TEMPLATES['order.*'];
  const [text, html] = [compileTemplate(t.text), compileTemplate(t.html)];
  const fields = { orderNumber: '1001', statusText: 'paid', amount: '$1,234.50', pipeline: 'orders', at: '2025-03-01T10:00:00Z', eventId: 'order:x:paid:1', customer: { firstName: '<b>Zoë</b>', lastName: 'A & B', email: 'a@example.com' } };
  const render = await rate(n * 5, () => text.render(fields, { mode: 'text', locale: 'en-US' }) + html.render(fields, { mode: 'html', locale: 'en-US' }));
  rows.push({ benchmark: 'mail templates', measure: 'order mails rendered per s (text + HTML)', value: fmt(render), baseline: '', ratio: '' });
  return rows;
}
