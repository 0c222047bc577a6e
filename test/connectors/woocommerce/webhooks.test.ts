import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { wooWebhooks } from '../../../src/connectors/woocommerce/webhooks.js';
import { fixture } from '../../helpers/mock-apis.js';

const SECRET = 'woo-webhook-secret';
const sign = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('base64');

function request(body: string, headers: Record<string, string>) {
  return { method: 'POST', url: 'https://hub.example.com/webhooks/woo', headers, rawBody: Buffer.from(body) };
}
const orderBody = JSON.stringify(fixture('woocommerce/order.json'));
const headers = (body: string, extra: Record<string, string> = {}) => ({
  'x-wc-webhook-source': 'https://shop.example.com/', 'x-wc-webhook-topic': 'order.updated', 'x-wc-webhook-resource': 'order',
  'x-wc-webhook-event': 'updated', 'x-wc-webhook-id': '12', 'x-wc-webhook-delivery-id': 'a1b2c3', 'x-wc-webhook-signature': sign(body), ...extra,
});

describe('woocommerce webhooks', () => {
  const handler = wooWebhooks(SECRET);

  it('accepts a signed order.updated and dedupes on the delivery id', async () => {
    const d = await handler.verify(request(orderBody, headers(orderBody)));
    expect(d.events).toEqual([expect.objectContaining({ id: '12:a1b2c3', topic: 'order.updated', entity: 'order', record: expect.objectContaining({ id: 727 }) })]);
  });

  it('refuses a forged or missing signature', async () => {
    expect(() => handler.verify(request(orderBody, headers(orderBody, { 'x-wc-webhook-signature': sign(orderBody, 'other') })))).toThrow(/does not match/);
    const { 'x-wc-webhook-signature': _, ...unsigned } = headers(orderBody);
    expect(() => handler.verify(request(orderBody, unsigned))).toThrow(/missing/);
    const tampered = orderBody.replace('29.35', '0.01');
    expect(() => handler.verify(request(tampered, headers(orderBody)))).toThrow(/does not match/);
  });

  it('answers the ping sent when a webhook is saved with 200 and stores nothing', async () => {
    const d = await handler.verify(request('webhook_id=12', { 'content-type': 'application/x-www-form-urlencoded' }));
    expect(d.events).toEqual([]);
    expect(d.reply?.status).toBe(200);
  });

  it('turns order.deleted (body { id }) into a reference to fetch', async () => {
    const body = '{"id":727}';
    const d = await handler.verify(request(body, headers(body, { 'x-wc-webhook-topic': 'order.deleted', 'x-wc-webhook-delivery-id': 'd9' })));
    expect(d.events).toEqual([{ id: '12:d9', contentId: expect.stringMatching(/^body:[0-9a-f]{64}$/), topic: 'order.deleted', entity: 'order', ref: '727', deletion: 'if_gone' }]);
  });

  it('refuses a signed body that is not JSON or lacks the delivery id', async () => {
    expect(() => handler.verify(request('nope', headers('nope')))).toThrow(/not JSON/);
    const { 'x-wc-webhook-delivery-id': _, ...noDelivery } = headers(orderBody);
    expect(() => handler.verify(request(orderBody, noDelivery))).toThrow(/Delivery-ID/);
  });
});
