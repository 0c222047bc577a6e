import { describe, expect, it } from 'vitest';
import { blindIndexOf, ciphertextBytes, createKeyring, decryptRecord, encryptRecord, generateKeySpec, isCiphertext, openJson, openJsonBytes, parseKeys, safeEqual, sealJson, sealJsonBytes, SENSITIVE_PATHS } from '../../src/core/crypto.js';
import type { CanonicalOrder } from '../../src/core/canonical/schemas.js';

const order: CanonicalOrder = {
  externalId: '1', orderNumber: '1001', status: 'paid', currency: 'USD', total: '10.00',
  createdAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-01T00:00:00.000Z',
  customer: { email: 'bob@example.com', firstName: 'Bob', lastName: 'Norman', phone: '+15550100' },
  shippingAddress: { line1: '92 Chestnut Street', city: 'Louisville' },
  lineItems: [{ title: 'Mug', quantity: 1, unitPrice: '10.00', total: '10.00' }],
};

describe('encryption of sensitive fields', () => {
  const spec = generateKeySpec('k1');
  const ring = createKeyring(spec);

  it('marks personal fields sensitive from the canonical schemas', () => {
    const paths = SENSITIVE_PATHS.order.map((p) => p.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['customer.email', 'customer.phone', 'customer.firstName', 'shippingAddress', 'billingAddress', 'note']));
    expect(SENSITIVE_PATHS.customer.map((p) => p.join('.'))).toEqual(expect.arrayContaining(['email', 'phone', 'addresses.*']));
  });

  it('round-trips a record, leaving non-personal fields readable', () => {
    const enc = encryptRecord(ring, 'order', order);
    expect(isCiphertext(enc.customer!.email)).toBe(true);
    expect(isCiphertext(enc.shippingAddress)).toBe(true);
    expect(enc.total).toBe('10.00');
    expect(JSON.stringify(enc)).not.toContain('bob@example.com');
    expect(JSON.stringify(enc)).not.toContain('Chestnut');
    expect(decryptRecord(ring, 'order', enc)).toEqual(order);
  });

  it('rotates: a new first key encrypts, the old one still decrypts', () => {
    const oldEnc = encryptRecord(ring, 'order', order);
    const rotated = createKeyring(`${generateKeySpec('k2')},${spec}`);
    expect(rotated.activeKid).toBe('k2');
    expect(decryptRecord(rotated, 'order', oldEnc)).toEqual(order);
    const newEnc = encryptRecord(rotated, 'order', order);
    expect(String(newEnc.customer!.email)).toMatch(/^enc:v1:k2:/);
    expect(() => decryptRecord(ring, 'order', newEnc)).toThrow(/k2, which is not in the keyring/);
    // Blind indexes stay stable across rotation (derived from the last, oldest key by default).
    expect(rotated.blindIndex('Bob@Example.com')).toBe(ring.blindIndex('bob@example.com'));
  });

  it('rejects tampered ciphertext and values moved to another field', () => {
    const enc = encryptRecord(ring, 'order', order);
    const email = String(enc.customer!.email);
    const parts = email.split(':');
    const body = Buffer.from(parts[4], 'base64');
    body[0] ^= 1;
    parts[4] = body.toString('base64');
    expect(() => decryptRecord(ring, 'order', { ...enc, customer: { ...enc.customer, email: parts.join(':') } })).toThrow(/failed authentication/);
    // Swap: the email ciphertext placed in firstName no longer authenticates (AAD is the field path).
    expect(() => decryptRecord(ring, 'order', { ...enc, customer: { ...enc.customer, firstName: email } })).toThrow(/order\.customer\.firstName/);
  });

  it('seals whole documents bound to their purpose', () => {
    const sealed = sealJson(ring, { email: 'x@example.com' }, 'source');
    expect(openJson(ring, sealed, 'source')).toEqual({ email: 'x@example.com' });
    expect(() => openJson(ring, sealed, 'webhook:shop')).toThrow(/failed authentication/);
  });

  it('seals large documents as bytes, and still opens what was sealed as text', () => {
    const doc = { records: [{ email: 'x@example.com' }] };
    const bytes = sealJsonBytes(ring, doc, 'page:r1:0');
    expect(bytes.includes(Buffer.from('x@example.com'))).toBe(false);
    expect(openJsonBytes(ring, bytes, 'page:r1:0')).toEqual(doc);
    expect(() => openJsonBytes(ring, bytes, 'page:r1:1')).toThrow(/failed authentication/);
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 20] ^= 1;
    expect(() => openJsonBytes(ring, tampered, 'page:r1:0')).toThrow(/failed authentication/);
    expect(() => openJsonBytes(createKeyring(generateKeySpec('k9')), bytes, 'page:r1:0')).toThrow(/k1, which is not in the keyring/);
    expect(openJsonBytes(ring, Buffer.from(sealJson(ring, doc, 'page:r1:0')), 'page:r1:0')).toEqual(doc);
  });

  it('seals a Buffer as its bytes, and gives text ciphertext its bytes form without opening it', () => {
    const ring = createKeyring(generateKeySpec('k1'));
    const json = Buffer.from(JSON.stringify(order));
    const text = ring.encrypt(json, 'webhook:shop');
    expect(ring.decrypt(text, 'webhook:shop')).toBe(json.toString('utf8'));
    expect(ring.decryptBytes(ciphertextBytes(text), 'webhook:shop').equals(json)).toBe(true);
    expect(() => ring.decryptBytes(ciphertextBytes(text), 'webhook:other')).toThrow(/failed authentication/);
    expect(() => ciphertextBytes('plain')).toThrow(/not synchub ciphertext/);
    // Behind a prefix, in the same buffer: the prefix kept as given, the rest the same bytes form.
    const framed = ciphertextBytes(text, Buffer.from('#frame\n'));
    expect(framed.subarray(0, 7).toString('latin1')).toBe('#frame\n');
    expect(framed.subarray(7).equals(ciphertextBytes(text))).toBe(true);
    const [kid, iv, ct] = text.slice('enc:v1:'.length).split(':');
    expect(() => ciphertextBytes(`enc:v1:${kid}:${iv.slice(4)}:${ct}`)).toThrow(/truncated/);
    expect(() => ciphertextBytes(`enc:v1:${kid}:${iv}:${ct.slice(0, 8)}`)).toThrow(/truncated/);
    expect(() => ciphertextBytes(`enc:v1::${iv}:${ct}`)).toThrow(/truncated/);
  });

  it('uses a fresh IV for every encryption, across refills of the IV pool', () => {
    const kr = createKeyring(generateKeySpec('k1'));
    const ivs = new Set<string>();
    for (let i = 0; i < 10_000; i++) ivs.add(kr.encrypt('same text', 'same.field').split(':')[3]);
    expect(ivs.size).toBe(10_000);
  });

  it('leaves the input record as it was', () => {
    const kr = createKeyring(generateKeySpec('k1'));
    const before = structuredClone(order);
    encryptRecord(kr, 'order', order);
    expect(order).toEqual(before);
  });

  it('parses key specs strictly', () => {
    expect(() => parseKeys('k1:short')).toThrow(/32 bytes/);
    expect(() => parseKeys('nokid')).toThrow(/kid:base64key/);
    expect(() => parseKeys(`${spec},${spec}`)).toThrow(/twice/);
    expect(() => parseKeys('')).toThrow(/no encryption key/);
  });

  it('compares secrets in constant time', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});

describe('blindIndexOf (one blind index per record)', () => {
  it('answers what blindIndex answers, again when the value or the keyring changes', () => {
    const ring = createKeyring(generateKeySpec('a'));
    const other = createKeyring(generateKeySpec('b'));
    const customer = { email: 'Ann@Example.com' };
    expect(blindIndexOf(ring, customer, customer.email)).toBe(ring.blindIndex('ann@example.com'));
    expect(blindIndexOf(ring, customer, customer.email)).toBe(ring.blindIndex('ann@example.com'));
    customer.email = 'bob@example.com';
    expect(blindIndexOf(ring, customer, customer.email)).toBe(ring.blindIndex('bob@example.com'));
    expect(blindIndexOf(other, customer, customer.email)).toBe(other.blindIndex('bob@example.com'));
    expect(other.blindIndex('bob@example.com')).not.toBe(ring.blindIndex('bob@example.com'));
  });
});
