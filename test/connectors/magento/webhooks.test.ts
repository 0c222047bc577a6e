import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { magentoWebhooks } from '../../../src/connectors/magento/webhooks.js';
import { fixture } from '../../helpers/mock-apis.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUB = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const signBody = (body: string, key = privateKey) => sign('sha256', Buffer.from(body), key).toString('base64');
const req = (body: string, headers: Record<string, string>) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/mage', headers, rawBody: Buffer.from(body) });

describe('magento (Adobe Commerce) webhooks', () => {
  const handler = magentoWebhooks(PUB);
  const body = JSON.stringify({ eventName: 'observer.sales_order_save_after', data: { order: fixture('magento/order.json') } });

  it('accepts a body signed with the store key pair (RSA-SHA256, base64); a retry has the same dedupe id', async () => {
    const a = await handler.verify(req(body, { 'x-adobe-commerce-webhook-signature': signBody(body) }));
    const b = await handler.verify(req(body, { 'x-adobe-commerce-webhook-signature': signBody(body) }));
    expect(a.events).toEqual([expect.objectContaining({ topic: 'observer.sales_order_save_after', entity: 'order', record: expect.objectContaining({ entity_id: 3 }) })]);
    expect(a.events[0].id).toBe(b.events[0].id);
    expect(handler.acknowledge!(a)).toEqual({ status: 200, body: '{"op":"success"}', contentType: 'application/json' });
  });

  it('refuses another key, a tampered body and a missing signature', () => {
    expect(() => handler.verify(req(body, { 'x-adobe-commerce-webhook-signature': signBody(body, other.privateKey) }))).toThrow(/does not match/);
    expect(() => handler.verify(req(body.replace('141.2', '1.2'), { 'x-adobe-commerce-webhook-signature': signBody(body) }))).toThrow(/does not match/);
    expect(() => handler.verify(req(body, {}))).toThrow(/missing/);
  });

  it('refuses a signed body without data', () => {
    const bad = '{"eventName":"x"}';
    expect(() => handler.verify(req(bad, { 'x-adobe-commerce-webhook-signature': signBody(bad) }))).toThrow(/no "data"/);
  });
});
