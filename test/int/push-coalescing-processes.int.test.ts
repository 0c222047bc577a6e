import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServerType } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { generateKeySpec } from '../../src/core/crypto.js';
import { Hub } from '../../src/jobs/hub.js';
import { listen } from '../../src/sandbox/demo.js';
import { HubspotSandbox } from '../../src/sandbox/hubspot.js';
import { createApp } from '../../src/server.js';
import { eventually, quietLogger, testRedisUrl } from '../helpers/hub.js';
import { fixture } from '../helpers/mock-apis.js';

const BIN = path.resolve('bin/synchub.js');
const SECRET = 'coalesce-webhook-secret';

const servers: ServerType[] = [];
const children: ChildProcess[] = [];
const hubs: Hub[] = [];

function synchub(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return child;
}

const exited = (child: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
  child.once('exit', (code, signal) => resolve({ code, signal }));
});

function signed(order: Record<string, unknown>) {
  const body = JSON.stringify(order);
  return {
    method: 'POST', body,
    headers: {
      'content-type': 'application/json', 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': `wh-${order.id}`,
      'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(body).digest('base64'),
    },
  };
}

describe('coalescing across worker processes', () => {
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of servers.splice(0)) s.close();
    for (const h of hubs.splice(0)) await h.close();
  });

  it('a worker SIGKILLed while webhook records wait to be coalesced: another worker pushes every one, none lost or doubled', async () => {
    const crm = new HubspotSandbox();
    crm.faults = { latencyMs: 150 };
    const h = await listen(crm.app());
    servers.push(h.server);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-coalesce-'));
    const configFile = path.join(dir, 'hub.yaml');
    writeFileSync(configFile, `
redis: { url: "${testRedisUrl()}", prefix: "co${Date.now()}${Math.floor(Math.random() * 1000)}" }
encryption: { keys: "\${SYNCHUB_KEYS}" }
jobs: { lockDurationMs: 2000, stalledIntervalMs: 1000, pushConcurrency: 2, pushLingerMs: 1500 }
connections:
  shop: { connector: shopify, baseUrl: "http://127.0.0.1:9", api: rest, credentials: { accessToken: shpat_x, webhookSecret: ${SECRET} } }
  crm: { connector: hubspot, baseUrl: "${h.url}", credentials: { accessToken: pat-x }, http: { rateLimit: { max: 1000, perMs: 1000 } } }
pipelines:
  orders:
    source: { connection: shop, entity: order }
    targets: [ { connection: crm, entity: order } ]
    webhooks: true
`);
    const env = { ...process.env, SYNCHUB_KEYS: generateKeySpec('c1'), LOG_LEVEL: 'warn' };
    const hub = await Hub.open(loadConfig(configFile, { env }), quietLogger, testRedisUrl());
    hubs.push(hub);
    const app = createApp(hub);
    const waiting = () => hub.redis.llen(hub.store.coalesce.coalesceKey('orders', 'crm', 'order'));

    const first = synchub(['worker', '--config', configFile], env);
    const orders = Array.from({ length: 250 }, (_, i) => ({ ...fixture('shopify/order.json'), id: 7_000_000 + i, order_number: 20_000 + i, total_price: `${100 + i}.${String(i % 100).padStart(2, '0')}` }));
    for (const o of orders) expect((await app.request('/webhooks/shop', signed(o))).status).toBe(200);

    // Full batches go at once; the rest lingers in Redis for its window.
    await eventually(async () => (await waiting()) > 0 && crm.objects.deals.size < orders.length, 60_000, 20);
    first.kill('SIGKILL');
    expect((await exited(first)).signal).toBe('SIGKILL');
    expect(await waiting()).toBeGreaterThan(0);

    synchub(['worker', '--config', configFile], env);
    await eventually(async () => {
      const s = await hub.store.pipelineStats('orders');
      return s.pushed + s.skipped + s.dead >= orders.length;
    }, 90_000, 200);
    const stats = await hub.store.pipelineStats('orders');
    expect(stats).toMatchObject({ pushed: orders.length, dead: 0 });
    expect(crm.objects.deals.size).toBe(orders.length);
    const byNumber = new Map([...crm.objects.deals.values()].map((d) => [d.properties.synchub_order_number, d.properties.amount]));
    for (const o of orders) expect(byNumber.get(String(o.order_number))).toBe(o.total_price);
    // Only a batch in flight at the kill can have been sent twice (upserts by order number make that harmless).
    expect([...crm.writes.deals.values()].filter((n) => n > 1).length).toBeLessThanOrEqual(100);
    expect(await waiting()).toBe(0);
  });
});
