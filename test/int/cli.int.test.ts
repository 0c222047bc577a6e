import { synchub, writeSandboxConfig } from '../helpers/cli.js';
import type { ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeySpec } from '../../src/core/crypto.js';
import { listen } from '../../src/sandbox/demo.js';
import { HubspotSandbox } from '../../src/sandbox/hubspot.js';
import { ShopifySandbox } from '../../src/sandbox/shopify.js';
import { testRedisUrl } from '../helpers/hub.js';

describe('synchub CLI', () => {
  const shop = new ShopifySandbox({ customers: 40, orders: 300 });
  const crm = new HubspotSandbox();
  const servers: ServerType[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const s = await listen(shop.app());
    const h = await listen(crm.app());
    servers.push(s.server, h.server);
    const config = writeSandboxConfig({ shopUrl: s.url, crmUrl: h.url, redisUrl: testRedisUrl(), prefix: `cli${Date.now()}`, batchSize: 100 });
    env = { SYNCHUB_KEYS: generateKeySpec('cli'), SYNCHUB_CONFIG: config };
  });
  afterAll(() => servers.forEach((s) => s.close()));

  it('check validates the config and lists the pipelines', async () => {
    const out = await synchub(['check'], env);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('orders: shop/order → crm/order');
  });

  it('check exits 1 naming the path of a problem', async () => {
    const out = await synchub(['check'], { ...env, SYNCHUB_KEYS: '' });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('encryption.keys: environment variable SYNCHUB_KEYS is empty');
  });

  it('sync --wait runs workers when none is running, prints the counts and exits 0; then 2 once a record is dead-lettered', async () => {
    const first = await synchub(['sync', 'orders', '--wait'], env);
    expect(first.stdout).toMatch(/done: 300 record deliveries — pushed 300, skipped 0, dead-lettered 0/);
    expect(first.code).toBe(0);
    expect(crm.objects.deals.size).toBe(300);

    const bad = shop.addOrder(new Date(Date.UTC(2030, 0, 1)));
    bad.currency = 'XX';
    const second = await synchub(['sync', 'orders', '--wait'], env);
    expect(second.stdout).toMatch(/dead-lettered 1/);
    expect(second.code).toBe(2);

    const list = await synchub(['dlq', 'list'], env);
    expect(list.stdout).toMatch(/1 dead letter/);
    expect(list.stdout).toMatch(/map_in .*mapping_failed/);

    // Its person erased, the dead letter stays listed as an erased mark, which a bulk replay passes over.
    expect((await synchub(['erase', '--email', String(bad.email)], env)).code).toBe(0);
    const marked = await synchub(['dlq', 'list'], env);
    expect(marked.stdout).toMatch(/map_in .*mapping_failed: erased \S+ \(erasure [0-9a-f-]{36}\)/);
    expect(marked.stdout).not.toContain(String(bad.email));
    const replay = await synchub(['dlq', 'replay', '--all'], env);
    expect(replay.stdout).toMatch(/replayed 0 dead letter\(s\); 1 erased with their person, not replayed/);
  });

  it('erase removes one person (a dry run first changes nothing and names the targets it would call), records it without personal data, and a repeat does nothing', async () => {
    const email = shop.customers[3].email;
    const orders = shop.orders.filter((o) => (o as { email?: string }).email === email).length;
    expect(orders).toBeGreaterThan(0);
    await synchub(['sync', 'orders', '--wait'], env);
    const dry = await synchub(['erase', '--email', email, '--dry-run', '--propagate'], env);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout.trim().split('\n').at(-1)!).targets).toEqual([{ connection: 'crm', entity: 'order', records: orders, outcome: 'would_remove' }]);
    expect(dry.stdout).toMatch(new RegExp(`erased \\(dry run: nothing changed\\); would remove .*orderSnapshots ${orders}`));
    const done = await synchub(['erase', '--email', email], env);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(new RegExp(`: erased; removed .*orderSnapshots ${orders}`));
    expect(done.stdout + done.stderr).not.toContain(email);
    const again = await synchub(['erase', '--email', email], env);
    expect(again.stdout).toMatch(/already_erased; nothing to remove/);
    expect((await synchub(['erase'], env)).stderr).toContain('usage: synchub erase');
  });

  it('map prints a mapping’s output, and validates it with --entity', async () => {
    const out = await synchub(['map', 'src/mappings/shopify/order.in.jsonata', 'test/fixtures/shopify/order.json', '--entity', 'order'], env);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ orderNumber: '1001', total: '598.94' });
    expect(out.stderr).toContain('valid canonical order');
  });
});
