import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hubspotWebhooks, verifyHubspotV3 } from '../../../src/connectors/hubspot/webhooks.js';
import { fixture } from '../../helpers/mock-apis.js';

const SECRET = 'client-secret';
const URL_ = 'https://hub.example.com/webhooks/crm';

function signed(body: string, ts = Date.now(), secret = SECRET, method = 'POST', uri = URL_) {
  const sig = createHmac('sha256', secret).update(`${method}${uri}${body}${ts}`).digest('base64');
  return { method, url: uri, rawBody: Buffer.from(body), headers: { 'x-hubspot-signature-v3': sig, 'x-hubspot-request-timestamp': String(ts), 'content-type': 'application/json' } };
}

describe('hubspot webhooks v3', () => {
  const handler = hubspotWebhooks(SECRET);
  const body = JSON.stringify(fixture('hubspot/webhook-events.json'));

  it('accepts a v3 signature over method + URI + body + timestamp and turns events into references', () => {
    const d = handler.verify(signed(body)) as any;
    expect(d.events).toEqual([
      expect.objectContaining({ id: '100', topic: 'deal.propertyChange', entity: 'order', ref: '1001', occurredAt: '2025-01-01T10:00:00.000Z' }),
      expect.objectContaining({ id: '101', topic: 'contact.creation', entity: 'customer', ref: '2002' }),
    ]);
  });

  it('refuses a stale timestamp, another URI, a forged signature', () => {
    expect(() => handler.verify(signed(body, Date.now() - 5 * 60 * 1000 - 1000))).toThrow(/stale/);
    const other = signed(body, Date.now(), SECRET, 'POST', 'https://evil.example.com/webhooks/crm');
    expect(() => handler.verify({ ...other, url: URL_ })).toThrow(/does not match/);
    expect(() => handler.verify(signed(body, Date.now(), 'wrong'))).toThrow(/does not match/);
    expect(verifyHubspotV3({ method: 'POST', uri: URL_, rawBody: Buffer.from(body), timestamp: 'abc', signature: 'x', secret: SECRET })).toBe(false);
  });

  it('verifies against the public URL when a proxy changes what the hub sees', () => {
    const h = hubspotWebhooks(SECRET, URL_);
    const s = signed(body);
    expect((h.verify({ ...s, url: 'http://10.0.0.5:3000/webhooks/crm' }) as any).events).toHaveLength(2);
  });

  it('refuses bodies that are not an array of events', () => {
    expect(() => handler.verify(signed('{"eventId":1}'))).toThrow(/array/);
    expect(() => handler.verify(signed('[{"eventId":1}]'))).toThrow(/eventId, subscriptionType and objectId/);
  });
});
