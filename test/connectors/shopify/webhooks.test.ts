import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { shopifyWebhooks, verifyShopifyHmac } from '../../../src/connectors/shopify/webhooks.js';
import { fixture } from '../../helpers/mock-apis.js';

const SECRET = 'hush';
const sign = (body: string | Buffer, secret = SECRET) => createHmac('sha256', secret).update(body).digest('base64');
const req = (body: string, headers: Record<string, string>) => ({ method: 'POST', url: 'https://hub/webhooks/shop', headers, rawBody: Buffer.from(body) });

describe('shopify webhooks', () => {
  const handler = shopifyWebhooks(SECRET);
  const body = JSON.stringify(fixture('shopify/order.json'));
  const headers = (b: string) => ({ 'x-shopify-hmac-sha256': sign(b), 'x-shopify-topic': 'orders/updated', 'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043', 'x-shopify-triggered-at': '2025-01-10T16:00:00Z' });

  it('accepts a body signed with the secret (base64 HMAC-SHA256 of the raw bytes)', () => {
    const d = handler.verify(req(body, headers(body))) as any;
    expect(d.events).toEqual([expect.objectContaining({ id: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043', topic: 'orders/updated', entity: 'order', record: expect.objectContaining({ id: 450789469 }) })]);
  });

  it('dedupes by the checked signature (the same body under a new id is the same content), and keeps the body as received for sealing', () => {
    const d = handler.verify(req(body, headers(body))) as any;
    const again = handler.verify(req(body, { ...headers(body), 'x-shopify-webhook-id': 'another-id' })) as any;
    expect(d.events[0].contentId).toMatch(/^sig:[0-9a-f]{64}$/);
    expect(again.events[0].contentId).toBe(d.events[0].contentId);
    const other = JSON.stringify({ ...JSON.parse(body), note: 'changed' });
    expect((handler.verify(req(other, headers(other))) as any).events[0].contentId).not.toBe(d.events[0].contentId);
    expect(d.events[0].recordJson.equals(Buffer.from(body))).toBe(true);
  });

  it('refuses a forged, re-serialised or unsigned body', () => {
    expect(() => handler.verify(req(body, { ...headers(body), 'x-shopify-hmac-sha256': sign(body, 'other') }))).toThrow(/does not match/);
    const reformatted = JSON.stringify(JSON.parse(body), null, 2);
    expect(() => handler.verify(req(reformatted, headers(body)))).toThrow(/does not match/);
    const { 'x-shopify-hmac-sha256': _, ...unsigned } = headers(body);
    expect(() => handler.verify(req(body, unsigned))).toThrow(/missing/);
    expect(verifyShopifyHmac(Buffer.from(body), 'short', SECRET)).toBe(false);
  });

  it('refuses malformed deliveries once they are authentic', () => {
    expect(() => handler.verify(req('{nope', headers('{nope')))).toThrow(/not JSON/);
    const noId = JSON.stringify({ name: '#1' });
    expect(() => handler.verify(req(noId, headers(noId)))).toThrow(/no id/);
    const { 'x-shopify-webhook-id': _, ...missing } = headers(body);
    expect(() => handler.verify(req(body, missing))).toThrow(/X-Shopify-Webhook-Id/);
  });

  it('turns refunds/create into a reference to its order, and acknowledges topics it does not sync', () => {
    const refund = JSON.stringify({ id: 509562969, order_id: 450789469, transactions: [] });
    expect((handler.verify(req(refund, { ...headers(refund), 'x-shopify-topic': 'refunds/create' })) as any).events)
      .toEqual([expect.objectContaining({ entity: 'order', ref: '450789469' })]);
    const product = JSON.stringify({ id: 1, title: 'Mug' });
    expect((handler.verify(req(product, { ...headers(product), 'x-shopify-topic': 'products/update' })) as any).events).toEqual([]);
  });
});
