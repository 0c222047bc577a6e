import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { generateKeySpec } from '../../src/core/crypto.js';
import { signWebhook, verifyWebhookSignature } from '../../src/notify/webhook.js';

const raw = (notify: unknown[], server: Record<string, unknown> = {}) => ({
  server,
  encryption: { keys: generateKeySpec('k1') },
  connections: {
    shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'x' } },
    crm: { connector: 'hubspot', credentials: { accessToken: 'y' } },
  },
  pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], notify } },
});

function problems(notify: unknown[]): string[] {
  try {
    buildConfig(raw(notify), '/tmp/hub.yaml', { env: {} });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

describe('notification sinks in the config', () => {
  it('reads sinks with their defaults, and the dashboard switch', () => {
    const cfg = buildConfig(raw([
      { type: 'webhook', url: 'https://erp.example.com/hooks', secret: 'a-secret-of-16-chars' },
      { type: 'rabbitmq', url: 'amqp://u:p@rabbit:5672/v', exchange: 'orders', attempts: 3 },
    ], { dashboardWritable: true }), '/tmp/hub.yaml', { env: {} });
    expect(cfg.pipelines.get('orders')!.notify).toEqual([
      { type: 'webhook', url: 'https://erp.example.com/hooks', secret: 'a-secret-of-16-chars', attempts: 6, backoffMs: 1000, timeoutMs: 10_000 },
      { type: 'rabbitmq', url: 'amqp://u:p@rabbit:5672/v', exchange: 'orders', attempts: 3, backoffMs: 1000 },
    ]);
    expect(cfg.server.dashboardWritable).toBe(true);
    expect(buildConfig(raw([]), '/tmp/hub.yaml', { env: {} }).server.dashboardWritable).toBe(false);
  });

  it('names the path of each mistake, against the sink’s own type', () => {
    expect(problems([{ type: 'webhook', url: 'ftp://x', secret: 'short' }])).toEqual([
      'pipelines.orders.notify.0.url: must match pattern "^https?://"',
      'pipelines.orders.notify.0.secret: must NOT have fewer than 16 characters',
    ]);
    expect(problems([{ type: 'rabbitmq', url: 'amqp://h' }])).toContain('pipelines.orders.notify.0.exchange: is required');
    expect(problems([{ type: 'rabbitmq', url: 'amqp://h', exchange: 'x', secret: 'nope' }])).toContain('pipelines.orders.notify.0.secret: is not a known setting');
    expect(problems([{ type: 'kafka' }])).toContain('pipelines.orders.notify.0.type: must be one of "webhook", "rabbitmq", "email"');
  });
});

describe('webhook signatures', () => {
  it('signs t.body with HMAC-SHA256 and verifies timing-safe within the tolerance', () => {
    const body = '{"id":"e1"}';
    const header = signWebhook('k'.repeat(20), body, 1_700_000_000);
    // echo -n '1700000000.{"id":"e1"}' | openssl dgst -sha256 -hmac kkkkkkkkkkkkkkkkkkkk
    expect(header).toBe('t=1700000000,v1=3135e847bb9575282478878bcab6655e6c3205f900429f307506963069c1a7c0');
    expect(verifyWebhookSignature('k'.repeat(20), header, body, 300, 1_700_000_100_000)).toBe(true);
    expect(verifyWebhookSignature('k'.repeat(20), header, body, 300, 1_700_000_400_000)).toBe(false); // too old
    expect(verifyWebhookSignature('k'.repeat(20), header, `${body} `, 300, 1_700_000_000_000)).toBe(false);
    expect(verifyWebhookSignature('k'.repeat(20), 'v1=abc', body)).toBe(false);
  });
});
