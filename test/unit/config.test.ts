import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig, loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { generateKeySpec } from '../../src/core/crypto.js';

const KEYS = generateKeySpec('k1');
const base = () => ({
  encryption: { keys: '${SYNCHUB_KEYS}' },
  connections: {
    shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: '${SHOPIFY_TOKEN}', webhookSecret: '${SHOPIFY_WEBHOOK_SECRET:-}' } },
    crm: { connector: 'hubspot', credentials: { accessToken: '${HUBSPOT_TOKEN}' } },
  },
  pipelines: {
    orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], schedule: '*/5 * * * *', webhooks: true },
  },
});
const env = { SYNCHUB_KEYS: KEYS, SHOPIFY_TOKEN: 'shpat_x', HUBSPOT_TOKEN: 'pat-x' };

function problems(raw: unknown, e: NodeJS.ProcessEnv = env): string[] {
  try {
    buildConfig(raw, '/tmp/hub.yaml', { env: e });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('config', () => {
  it('loads a valid config, interpolating env with defaults, and compiles its mappings', () => {
    const cfg = buildConfig({ ...base(), server: { port: '${PORT:-3100}' } }, '/tmp/hub.yaml', { env });
    expect(cfg.server.port).toBe(3100);
    expect(cfg.connections.get('shop')!.credentials.accessToken).toBe('shpat_x');
    expect(cfg.connections.get('crm')!.baseUrl).toBe('https://api.hubapi.com');
    expect(cfg.pipelines.get('orders')!.batchSize).toBe(100);
    expect(cfg.pipelines.get('orders')!.source.mapIn.file).toMatch(/mappings\/shopify\/order\.in\.jsonata$/);
  });

  it('takes a Redis Cluster\'s seed nodes and the webhook WAIT setting; names the path of a bad one', () => {
    const cfg = buildConfig({ ...base(), redis: { cluster: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379'], waitReplicas: 1 } }, '/tmp/hub.yaml', { env });
    expect(cfg.redis).toMatchObject({ cluster: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379'], waitReplicas: 1, waitTimeoutMs: 500, prefix: 'synchub' });
    expect(buildConfig(base(), '/tmp/hub.yaml', { env }).redis).toMatchObject({ waitReplicas: 0 });
    expect(problems({ ...base(), redis: { url: 'redis://10.0.0.1:6379', cluster: ['redis://10.0.0.2:6379'] } })).toEqual([expect.stringMatching(/^redis\.cluster: set either redis\.url .* not both/)]);
    expect(problems({ ...base(), redis: { cluster: ['10.0.0.2:6379'] } })).toEqual([expect.stringMatching(/^redis\.cluster\.0: must match pattern/)]);
    expect(problems({ ...base(), redis: { cluster: [] } })).toEqual([expect.stringMatching(/^redis\.cluster: must NOT have fewer than 1 items/)]);
    expect(problems({ ...base(), redis: { waitReplicas: -1 } })).toEqual([expect.stringMatching(/^redis\.waitReplicas: must be >= 0/)]);
  });

  it('names the path of an unset variable', () => {
    expect(problems(base(), { SYNCHUB_KEYS: KEYS, HUBSPOT_TOKEN: 'x' })).toEqual([
      'connections.shop.credentials.accessToken: environment variable SHOPIFY_TOKEN is not set',
    ]);
  });

  it('validates each connection against its connector’s own schema', () => {
    const raw = base();
    (raw.connections.crm as any).credentials = {};
    (raw.connections.shop as any).apiVersion = 'latest';
    (raw.connections.shop as any).colour = 'blue';
    expect(problems(raw)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^connections\.crm\.credentials: set accessToken \(a Service Key/), // HubSpot names the combinations it takes
      expect.stringMatching(/^connections\.shop\.apiVersion: must match pattern/),
      'connections.shop.colour: is not a known setting',
    ]));
  });

  it('refuses unknown connectors, missing connections and capabilities a connector lacks', () => {
    const raw = base();
    (raw.connections as any).erp = { connector: 'sap', credentials: {} };
    (raw.pipelines as any).bad = { source: { connection: 'nowhere', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }] };
    (raw.pipelines as any).push = { source: { connection: 'shop', entity: 'payment' }, targets: [{ connection: 'crm', entity: 'order' }] };
    expect(problems(raw)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^connections\.erp\.connector: unknown connector "sap"/),
      'pipelines.bad.source.connection: no connection named "nowhere"',
      'pipelines.push.source: shopify cannot read payment records (not supported)',
    ]));
  });

  it('reports a bad mapping with file, line, column and the JSONata code', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-'));
    writeFileSync(path.join(dir, 'broken.jsonata'), '{\n  "total": total_price +\n}');
    const raw = base();
    (raw.pipelines.orders as any).transform = 'broken.jsonata';
    let err: ConfigError | undefined;
    try {
      buildConfig(raw, path.join(dir, 'hub.yaml'), { env });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.problems[0]).toMatch(/^pipelines\.orders\.transform: .*broken\.jsonata:3:\d+: does not compile: .*\(S0\d{3}\)$/);
  });

  it('reports YAML syntax errors with their position, and a missing file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-'));
    const file = path.join(dir, 'hub.yaml');
    writeFileSync(file, 'connections:\n  shop: [unclosed\n');
    expect(() => loadConfig(file, { env })).toThrow(/line \d+, column \d+/);
    expect(() => loadConfig(path.join(dir, 'nope.yaml'), { env })).toThrow(/config file not found/);
  });

  it('reads secrets from files with ${file:…}', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-'));
    writeFileSync(path.join(dir, 'token.txt'), 'from-file\n');
    const raw = base();
    (raw.connections.crm as any).credentials.accessToken = '${file:token.txt}';
    const cfg = buildConfig(raw, path.join(dir, 'hub.yaml'), { env });
    expect(cfg.connections.get('crm')!.credentials.accessToken).toBe('from-file');
  });
});
