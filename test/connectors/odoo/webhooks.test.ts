import { describe, expect, it } from 'vitest';
import { odooWebhooks } from '../../../src/connectors/odoo/webhooks.js';

const TOKEN = 'odoo-automation-token-0123456789';
const req = (body: string, headers: Record<string, string>) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/erp', headers, rawBody: Buffer.from(body) });

describe('odoo webhooks (automation rules with a shared token)', () => {
  const handler = odooWebhooks(TOKEN);
  const body = JSON.stringify({ _action: 'Send Webhook Notification(#12)', _id: 42, _model: 'sale.order', id: 42, name: 'S00042', state: 'sale' });

  it('accepts the token and names the record to fetch; a retry of the same body has the same dedupe id', async () => {
    const a = await handler.verify(req(body, { 'x-synchub-token': TOKEN }));
    const b = await handler.verify(req(body, { 'x-synchub-token': TOKEN }));
    expect(a.events).toEqual([{ id: expect.any(String), topic: 'sale.order.write', entity: 'order', ref: '42' }]);
    expect(a.events[0].id).toBe(b.events[0].id);
  });

  it('refuses a wrong or missing token', () => {
    expect(() => handler.verify(req(body, { 'x-synchub-token': 'odoo-automation-token-0123456780' }))).toThrow(/missing or wrong/);
    expect(() => handler.verify(req(body, {}))).toThrow(/missing or wrong/);
  });

  it('refuses a body without _model and _id, and ignores models it does not sync', async () => {
    expect(() => handler.verify(req('{"x":1}', { 'x-synchub-token': TOKEN }))).toThrow(/_model and _id/);
    expect((await handler.verify(req('{"_model":"stock.picking","_id":3}', { 'x-synchub-token': TOKEN }))).events).toEqual([]);
  });
});
