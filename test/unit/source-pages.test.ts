import { describe, expect, it } from 'vitest';
import { createKeyring, generateKeySpec, sealJson, sealJsonBytes } from '../../src/core/crypto.js';
import { eventSourcePage, openSourcePage, sealPulledPage, SOURCE_PAGE_AAD } from '../../src/jobs/source-pages.js';
import { webhookAad } from '../../src/jobs/webhook-sealing.js';

const ring = createKeyring(generateKeySpec('k1'));
const orders = [{ id: 1, email: 'bob@example.com', note: 'line one\nline two' }, { id: 2, email: 'ann@example.com' }];
const body = Buffer.from(JSON.stringify({ orders, extra: 'kept with the body' }));

describe('source pages', () => {
  it('keeps a page as its body received, and opens it with the records, cursor and deletions', () => {
    const page = { records: orders, cursor: { next: 'https://shop/next?page_info=a\nb' }, done: false, deletions: [{ id: '9' }], raw: { body, recordsAt: 'orders' } };
    const sealed = sealPulledPage(ring, page, 'page:r:0');
    expect(sealed.toString('latin1')).not.toContain('bob@example.com');
    expect(openSourcePage(ring, sealed, 'page:r:0')).toEqual({ records: orders, cursor: page.cursor, done: false, deletions: [{ id: '9' }] });
  });

  it('keeps a page without its body as its JSON', () => {
    const sealed = sealPulledPage(ring, { records: orders, cursor: 7, done: true }, 'page:r:1');
    expect(openSourcePage(ring, sealed, 'page:r:1')).toEqual({ records: orders, cursor: 7, done: true });
  });

  it('opens the forms kept before: a page as JSON bytes, and as enc:v1 text', () => {
    expect(openSourcePage(ring, sealJsonBytes(ring, { records: orders }, 'source-page'), 'source-page')).toEqual({ records: orders });
    expect(openSourcePage(ring, Buffer.from(sealJson(ring, { records: orders, cursor: null, done: true }, 'page:r:2')), 'page:r:2').records).toEqual(orders);
  });

  it('refuses a page bound to other associated data, a tampered one, and a body without its records array', () => {
    const sealed = sealPulledPage(ring, { records: orders, cursor: null, done: true, raw: { body, recordsAt: 'orders' } }, 'page:r:0');
    expect(() => openSourcePage(ring, sealed, 'page:r:1')).toThrow(/failed authentication/);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 20] ^= 1;
    expect(() => openSourcePage(ring, tampered, 'page:r:0')).toThrow(/failed authentication/);
    const wrong = sealPulledPage(ring, { records: orders, cursor: null, done: true, raw: { body, recordsAt: 'customers' } }, 'page:r:0');
    expect(() => openSourcePage(ring, wrong, 'page:r:0')).toThrow(/no "customers" array/);
    const unread = sealPulledPage(ring, { records: orders, cursor: null, done: true, raw: { body: [body], connector: 'shopify', format: 'xml' } }, 'page:r:0');
    expect(() => openSourcePage(ring, unread, 'page:r:0')).toThrow(/in a format no connector reads \(shopify\/xml\)/);
  });

  it("keeps a webhook event's page as its record sealed by the route, not sealed again; bound to its connection and to source pages", () => {
    const sealed = sealJson(ring, orders[0], webhookAad('shop'));
    const page = eventSourcePage('shop', sealed);
    expect(page.toString('latin1')).not.toContain('bob@example.com');
    expect(openSourcePage(ring, page, SOURCE_PAGE_AAD)).toEqual({ records: [orders[0]] });
    // Another connection named in front of it: the AAD no longer matches.
    const moved = Buffer.concat([Buffer.from('#synchub-event 1 other\n'), page.subarray(page.indexOf(0x0a) + 1)]);
    expect(() => openSourcePage(ring, moved, SOURCE_PAGE_AAD)).toThrow(/failed authentication/);
    expect(() => openSourcePage(ring, page, 'page:r:0')).toThrow(/webhook event's page/);
    const tampered = Buffer.from(page);
    tampered[tampered.length - 1] ^= 1;
    expect(() => openSourcePage(ring, tampered, SOURCE_PAGE_AAD)).toThrow(/failed authentication/);
    expect(() => eventSourcePage('shop', 'enc:v1:k1:short')).toThrow(/truncated/);
  });
});
