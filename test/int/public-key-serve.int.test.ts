import { generateKeyPairSync, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Job } from 'bullmq';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { processKeyProblems } from '../../src/config/sealing.js';
import { Hub } from '../../src/jobs/hub.js';
import { openWebhookRecord } from '../../src/jobs/webhook-sealing.js';
import type { WebhookBatchJobData } from '../../src/jobs/queues.js';
import { startWorkers, type WorkerSet } from '../../src/jobs/workers.js';
import { createApp } from '../../src/server.js';
import { eventually, quietLogger, SHOP_WEBHOOK_SECRET, TEST_KEYS, testRedisUrl } from '../helpers/hub.js';
import { dumpPrefix } from '../helpers/redis-scan.js';
import { hubspotDealsMock, numberedOrder, shopifyDelivery } from '../helpers/webhook-crm.js';

const pem = (k: { export: (o: any) => string | Buffer }, type: 'spki' | 'pkcs8') => String(k.export({ type, format: 'pem' }));
const pair = (kind: 'rsa' | 'ec') => (kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' }));
const old = pair('rsa');
const current = pair('ec');

function config(prefix: string, encryption: Record<string, unknown>) {
  return buildConfig({
    redis: { url: testRedisUrl(), prefix },
    encryption,
    jobs: { lockDurationMs: 2000, stalledIntervalMs: 1000, backoffMs: 50, pushLingerMs: 0 },
    connections: {
      shop: { connector: 'shopify', baseUrl: 'https://acme.myshopify.com', api: 'rest', credentials: { accessToken: 'shpat', webhookSecret: SHOP_WEBHOOK_SECRET } },
      crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } },
    },
    pipelines: { orders: { source: { connection: 'shop', entity: 'order' }, targets: [{ connection: 'crm', entity: 'order' }], webhooks: true } },
  }, path.resolve('test/fixtures/hub.yaml'), { env: {} });
}

describe('a serve process that holds only public keys', () => {
  const open: { hub: Hub; workers?: WorkerSet }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) {
      await o.workers?.close(true);
      await o.hub.close();
    }
    nock.cleanAll();
  });

  it('stores webhooks it cannot open; workers open them, with the old key after a rotation too', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const deals = hubspotDealsMock();
    // Before the rotation the serve process sealed for the old key; after it, for the current one.
    const serveBefore = config(prefix, { publicKeys: [{ kid: 'w2025', key: pem(old.publicKey, 'spki') }] });
    const serveAfter = config(prefix, { publicKeys: [{ kid: 'w2026', key: pem(current.publicKey, 'spki') }, { kid: 'w2025', key: pem(old.publicKey, 'spki') }] });
    const worker = config(prefix, {
      keys: TEST_KEYS,
      publicKeys: [{ kid: 'w2026', key: pem(current.publicKey, 'spki') }],
      privateKeys: [{ kid: 'w2026', key: pem(current.privateKey, 'pkcs8') }, { kid: 'w2025', key: pem(old.privateKey, 'pkcs8') }],
    });
    expect(processKeyProblems(serveAfter, 'serve')).toEqual([]);
    expect(processKeyProblems(worker, 'worker')).toEqual([]);

    const base = { id: 7_100_000, number: 7100 };
    for (const [cfg, n] of [[serveBefore, 1], [serveAfter, 2]] as const) {
      const hub = await Hub.open(cfg, quietLogger, testRedisUrl());
      open.push({ hub });
      const res = await createApp(hub).request('/webhooks/shop', shopifyDelivery(numberedOrder(n, base, { email: `buyer${n}@example.com` }), `wh-${n}`));
      expect(res.status).toBe(200);
    }
    const serveHub = open[1].hub;
    const jobs = (await serveHub.ingestQueue.getWaiting()) as Job<WebhookBatchJobData>[];
    const events = jobs.flatMap((j) => j.data.events);
    expect(events).toHaveLength(2);
    for (const e of events) {
      expect(e.sealed).toBeUndefined();
      expect(e.sealedFor!.split('.')).toHaveLength(5);
    }
    // Nothing personal in Redis in plaintext, and the serve process cannot open what it stored.
    const stored = [...(await dumpPrefix(serveHub.redis, prefix)).values()].join('\n');
    expect(stored).toContain('wh-1');
    expect(stored).not.toMatch(/buyer1@example\.com|buyer2@example\.com|Chestnut|Norman/);
    for (const e of events) await expect(openWebhookRecord(serveHub, { ...e, connection: 'shop' })).rejects.toThrow(/holds no private key/);
    expect(() => serveHub.config.keyring.decrypt('enc:v1:t1:x:y', 'x')).toThrow(/not supported/);

    const workerHub = await Hub.open(worker, quietLogger, testRedisUrl());
    open.push({ hub: workerHub, workers: startWorkers(workerHub) });
    await eventually(() => deals.deals.size === 2);
    expect([...deals.deals.keys()].sort()).toEqual(['7101', '7102']);
    expect(await workerHub.redis.get(`${prefix}:ordernum:7101`)).toBeTruthy();

    // A worker that lost the old key names what it misses.
    const partial = config(prefix, { keys: TEST_KEYS, publicKeys: [{ kid: 'w2026', key: pem(current.publicKey, 'spki') }], privateKeys: [{ kid: 'w2026', key: pem(current.privateKey, 'pkcs8') }] });
    const partialHub = await Hub.open(partial, quietLogger, testRedisUrl());
    open.push({ hub: partialHub });
    const oldEvent = events.find((e) => JSON.parse(Buffer.from(e.sealedFor!.split('.')[0], 'base64url').toString()).kid === 'w2025')!;
    await expect(openWebhookRecord(partialHub, { ...oldEvent, connection: 'shop' })).rejects.toThrow(/sealed for key w2025, which this process does not hold/);
  });

  it('refuses keys that do not fit the process, naming the path', () => {
    const prefix = 'tkeys';
    const serveOnly = config(prefix, { publicKeys: [{ kid: 'w1', key: pem(current.publicKey, 'spki') }] });
    expect(processKeyProblems(serveOnly, 'worker')).toEqual([
      'encryption.keys: synchub worker needs the keys (only an internet-facing serve process goes without them, with encryption.publicKeys)',
      'encryption.privateKeys: synchub worker opens webhooks sealed with encryption.publicKeys and needs their private keys',
    ]);
    expect(processKeyProblems({ ...serveOnly, server: { ...serveOnly.server, adminToken: 'x'.repeat(32) } }, 'serve')).toEqual([expect.stringMatching(/^server\.adminToken: the admin API opens sealed data/)]);
    const problems = (enc: Record<string, unknown>) => {
      try {
        config(prefix, enc);
        return [];
      } catch (err) {
        return (err as { problems: string[] }).problems;
      }
    };
    expect(problems({})).toEqual(['encryption.keys: is required']);
    expect(problems({ publicKeys: [{ kid: 'w1', key: 'nope' }] })).toEqual([expect.stringMatching(/^encryption\.publicKeys\[0\]\.key: not a PEM public key/)]);
    expect(problems({ keys: TEST_KEYS, publicKeys: [{ kid: 'w1', key: pem(current.publicKey, 'spki') }], privateKeys: [{ kid: 'w1', key: pem(old.privateKey, 'pkcs8') }] }))
      .toEqual(["encryption.publicKeys[0]: key w1 is not the public half of encryption.privateKeys' key w1"]);
    expect(problems({ keys: TEST_KEYS, privateKeys: [{ kid: 'w1', key: pem(old.privateKey, 'pkcs8') }] })).toEqual(['encryption.privateKeys: given without encryption.publicKeys']);
  });
});
