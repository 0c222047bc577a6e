import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { paypal } from '../../../src/connectors/paypal/index.js';
import { canonicalProblems } from '../../../src/core/canonical/validate.js';
import { defaultMappingFile, loadMapping } from '../../../src/mappings/engine.js';
import { quietLogger } from '../../helpers/hub.js';
import { testConnection } from '../../helpers/connection.js';

const API = 'https://api-m.sandbox.paypal.com';
function connector() {
  return paypal.create(testConnection({ name: 'pp', connector: 'paypal', baseUrl: API, credentials: { clientId: 'AYSq3', clientSecret: 'EGnHD', webhookId: '1JE4291016473214C' } }), { logger: quietLogger });
}
const capture = (extra: Record<string, unknown> = {}) => ({
  id: '42311647XV020574X', status: 'COMPLETED', amount: { currency_code: 'USD', value: '20.00' }, final_capture: true, invoice_id: '1001', custom_id: 'c-1001',
  create_time: '2025-03-01T10:00:00Z', update_time: '2025-03-01T10:00:04Z', links: [{ rel: 'self', href: `${API}/v2/payments/captures/42311647XV020574X`, method: 'GET' }], ...extra,
});
const event = (type: string, resource: object, id = 'WH-58D329510W468432D-8HN650336L201105X') => ({ id, event_version: '1.0', create_time: '2025-03-01T10:00:05.000Z', resource_type: 'capture', event_type: type, summary: 'Payment completed', resource });
const headers = { 'paypal-auth-algo': 'SHA256withRSA', 'paypal-cert-url': 'https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42', 'paypal-transmission-id': 'dfb3be50-fd74-11e4-8bf3-77339302725b', 'paypal-transmission-sig': 'thy4/U002quzxFavHPwbfJGcc46E8rc5jzgyeafWm5mICTBdY/8rl7WJpn8JA0GKA+oDTPsSruqusw+XXg5RLAP7ip53Euh9Xu3UbUhQFX7UgwzE2FeYoY6lyRMiiiQLzy9BvHfIzNIVhPad5KnuqEq/U+dYQ/8Hmn6f72AdWuN7Mhb1YsUA4Rj0bCS41IUTWFXcP/UPiSvZw0GXgQlZD5nZU6BRtF0/IjmVuzs2wFg7e+FifKx7b3R2hMd7/z2pdqBvmpi9DdpVN+6g8c1uhvmy6NU9vGUdJf+1LMi2HcaY0mn8Ca8HN64ix4PJpsfwBvUdgDxJaZ1Em7OIs6nqGGg==', 'paypal-transmission-time': '2025-03-01T10:00:06Z' };
const req = (body: string, h: Record<string, string> = headers) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/pp', headers: h, rawBody: Buffer.from(body) });

describe('paypal', () => {
  beforeEach(() => {
    nock.disableNetConnect();
    nock(API).persist().post('/v1/oauth2/token', 'grant_type=client_credentials').matchHeader('authorization', `Basic ${Buffer.from('AYSq3:EGnHD').toString('base64')}`)
      .reply(200, { scope: 'https://uri.paypal.com/services/payments', access_token: 'A21AAF', token_type: 'Bearer', app_id: 'APP-80W284485P519543T', expires_in: 32400 });
  });
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('asks PayPal to verify each delivery with the five transmission headers and the webhook id; only SUCCESS passes', async () => {
    let asked: any;
    nock(API).post('/v1/notifications/verify-webhook-signature', (b) => { asked = b; return true; }).matchHeader('authorization', 'Bearer A21AAF').reply(200, { verification_status: 'SUCCESS' });
    const body = JSON.stringify(event('PAYMENT.CAPTURE.COMPLETED', capture()));
    const d = await connector().webhooks!.verify(req(body));
    expect(d.events).toEqual([expect.objectContaining({ id: 'WH-58D329510W468432D-8HN650336L201105X', entity: 'payment' })]);
    expect(asked).toMatchObject({ auth_algo: 'SHA256withRSA', transmission_id: 'dfb3be50-fd74-11e4-8bf3-77339302725b', webhook_id: '1JE4291016473214C', webhook_event: { id: 'WH-58D329510W468432D-8HN650336L201105X' } });

    nock(API).post('/v1/notifications/verify-webhook-signature').reply(200, { verification_status: 'FAILURE' });
    await expect(connector().webhooks!.verify(req(body))).rejects.toThrow(/did not verify/);
    const { 'paypal-transmission-sig': _, ...unsigned } = headers;
    await expect(connector().webhooks!.verify(req(body, unsigned))).rejects.toThrow(/missing paypal-transmission-sig/);
  });

  it('sends PayPal the event exactly as it arrived (1.0, \\u escapes, key order, spacing), not a re-serialisation', async () => {
    // Re-serialising this body changes it: 1.0 → 1, "\u00e9" → "é", "\/" → "/", the spacing goes.
    const body = '{\n  "resource": {"id": "42311647XV020574X", "status": "COMPLETED", "amount": {"value": "20.00", "currency_code": "USD"}, "invoice_id": "1001", "seller_receivable_breakdown": {"exchange_rate": {"value": 1.0}}},\n'
      + '  "id": "WH-58D329510W468432D-8HN650336L201105X", "event_version": 1.0, "create_time": "2025-03-01T10:00:05.000Z",\n'
      + '  "event_type": "PAYMENT.CAPTURE.COMPLETED", "summary": "Paiement re\\u00e7u de Ren\\u00e9e", "resource_type": "capture",\n'
      + '  "links": [{"href": "https:\\/\\/api.sandbox.paypal.com\\/v1\\/notifications\\/webhooks-events\\/WH-58D329510W468432D", "rel": "self"}]\n}';
    expect(JSON.stringify(JSON.parse(body))).not.toBe(body);
    let sent = '';
    nock(API).post('/v1/notifications/verify-webhook-signature').matchHeader('content-type', /application\/json/)
      .reply(function () {
        sent = (this.req as any).requestBodyBuffers ? Buffer.concat((this.req as any).requestBodyBuffers).toString('utf8') : '';
        return [200, { verification_status: 'SUCCESS' }];
      });
    const d = await connector().webhooks!.verify(req(body));
    expect(d.events).toEqual([expect.objectContaining({ id: 'WH-58D329510W468432D-8HN650336L201105X', entity: 'payment' })]);
    expect(sent).toContain(`"webhook_event":${body}`);
    const asked = JSON.parse(sent);
    expect(asked).toMatchObject({ auth_algo: 'SHA256withRSA', cert_url: headers['paypal-cert-url'], transmission_id: 'dfb3be50-fd74-11e4-8bf3-77339302725b', transmission_sig: headers['paypal-transmission-sig'], transmission_time: '2025-03-01T10:00:06Z', webhook_id: '1JE4291016473214C' });
    expect(Object.keys(asked)).toEqual(['auth_algo', 'cert_url', 'transmission_id', 'transmission_sig', 'transmission_time', 'webhook_id', 'webhook_event']);
  });

  it('refuses with a retryable error (503) when PayPal cannot be asked', async () => {
    nock(API).post('/v1/notifications/verify-webhook-signature').times(3).reply(503, { name: 'SERVICE_UNAVAILABLE', message: 'down' });
    const err = await Promise.resolve(connector().webhooks!.verify(req(JSON.stringify(event('PAYMENT.CAPTURE.COMPLETED', capture()))))).catch((e: any) => e);
    expect(err.retryable).toBe(true);
  });

  it('reconciles through /v1/reporting/transactions in windows of at most 31 days, page by page', async () => {
    const seen: Record<string, string>[] = [];
    nock(API).persist().get('/v1/reporting/transactions').query((q) => { seen.push(q as Record<string, string>); return true; })
      .reply((uri) => {
        const q = new URL(uri, API).searchParams;
        return [200, { transaction_details: [{ transaction_info: { transaction_id: `T${q.get('page')}`, transaction_event_code: 'T0006', transaction_status: 'S', transaction_amount: { currency_code: 'USD', value: '20.00' }, invoice_id: '1001', transaction_updated_date: '2025-03-01T10:00:04+0000' } }], page: Number(q.get('page')), total_pages: 2 }];
      });
    const start = new Date(Date.now() - 40 * 24 * 3600_000).toISOString();
    const c = connector();
    let cursor: unknown = { since: start };
    for (let i = 0; i < 6; i++) {
      const p = await c.pull('payment', { cursor, pageSize: 100 });
      cursor = p.cursor;
      if (p.done) break;
    }
    const spans = seen.map((q) => Date.parse(q.end_date.replace(/-0000$/, 'Z')) - Date.parse(q.start_date.replace(/-0000$/, 'Z')));
    expect(Math.max(...spans)).toBeLessThanOrEqual(31 * 24 * 3600_000);
    expect(seen.map((q) => q.page)).toEqual(['1', '2', '1', '2']);
    expect(seen[2].start_date).toBe(seen[0].end_date);
  });

  it('maps captures, denials, refunds (of their capture) and report lines', async () => {
    const m = loadMapping(defaultMappingFile('paypal', 'payment', 'in'), { connector: 'paypal', statusMap: paypal.statusMap });
    const ok: any = await m.evaluate(event('PAYMENT.CAPTURE.COMPLETED', capture()));
    expect(canonicalProblems('payment', ok)).toEqual([]);
    expect(ok).toMatchObject({ externalId: '42311647XV020574X', orderNumber: '1001', status: 'succeeded', amount: '20.00', currency: 'USD' });
    expect(await m.evaluate(event('PAYMENT.CAPTURE.DENIED', capture({ status: 'DECLINED', status_details: { reason: 'DECLINED_BY_RISK_FRAUD_FILTERS' } })))).toMatchObject({ status: 'failed', failureReason: 'DECLINED_BY_RISK_FRAUD_FILTERS' });
    const refund: any = await m.evaluate(event('PAYMENT.CAPTURE.REFUNDED', { id: '1Y107995YT783435V', status: 'COMPLETED', amount: { currency_code: 'USD', value: '5.00' }, invoice_id: '1001', update_time: '2025-03-02T10:00:00Z', links: [{ rel: 'up', href: `${API}/v2/payments/captures/42311647XV020574X`, method: 'GET' }] }));
    expect(refund).toMatchObject({ externalId: '42311647XV020574X', refundId: '1Y107995YT783435V', refundedAmount: '5.00', status: 'partially_refunded' });
    const line: any = await m.evaluate({ transaction_info: { transaction_id: '5TY05013RG002845M', transaction_event_code: 'T0006', transaction_status: 'S', transaction_amount: { currency_code: 'USD', value: '20.00' }, invoice_id: '1001', transaction_updated_date: '2025-03-01T10:00:04+0000' } });
    expect(canonicalProblems('payment', line)).toEqual([]);
    expect(line).toMatchObject({ status: 'succeeded', amount: '20.00' });
  });
});
