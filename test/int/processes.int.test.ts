import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServerType } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { generateKeySpec } from '../../src/core/crypto.js';
import { Hub } from '../../src/jobs/hub.js';
import { startRun } from '../../src/jobs/pull.js';
import { freePort } from '../../src/runtime/redis-server.js';
import { listen } from '../../src/sandbox/demo.js';
import { HubspotSandbox } from '../../src/sandbox/hubspot.js';
import { ShopifySandbox } from '../../src/sandbox/shopify.js';
import { eventually, quietLogger, testRedisUrl, runFinished } from '../helpers/hub.js';

const BIN = path.resolve('bin/synchub.js');

interface Setup { shop: ShopifySandbox; crm: HubspotSandbox; configFile: string; env: NodeJS.ProcessEnv; hub: Hub; port: number }

const servers: ServerType[] = [];
const children: ChildProcess[] = [];
const hubs: Hub[] = [];

async function setup(orders: number, latencyMs: number, jobs = ''): Promise<Setup> {
  const shop = new ShopifySandbox({ customers: 50, orders });
  const crm = new HubspotSandbox();
  crm.faults = { latencyMs };
  const s = await listen(shop.app());
  const h = await listen(crm.app());
  servers.push(s.server, h.server);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-proc-'));
  const port = await freePort();
  const configFile = path.join(dir, 'hub.yaml');
  writeFileSync(configFile, `
redis: { url: "${testRedisUrl()}", prefix: "proc${Date.now()}${Math.floor(Math.random() * 1000)}" }
server: { port: ${port}, host: 127.0.0.1 }
encryption: { keys: "\${SYNCHUB_KEYS}" }
jobs: { lockDurationMs: 2000, stalledIntervalMs: 1000, pushConcurrency: 2${jobs} }
connections:
  shop: { connector: shopify, baseUrl: "${s.url}", api: rest, credentials: { accessToken: shpat_x } }
  crm: { connector: hubspot, baseUrl: "${h.url}", credentials: { accessToken: pat-x }, http: { rateLimit: { max: 1000, perMs: 1000 } } }
pipelines:
  orders:
    source: { connection: shop, entity: order }
    targets: [ { connection: crm, entity: order } ]
    batchSize: 100
`);
  const env = { ...process.env, SYNCHUB_KEYS: generateKeySpec('p1'), LOG_LEVEL: 'warn' };
  const hub = await Hub.open(loadConfig(configFile, { env }), quietLogger, testRedisUrl());
  hubs.push(hub);
  return { shop, crm, configFile, env, hub, port };
}

function synchub(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return child;
}

const exited = (child: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
  child.once('exit', (code, signal) => resolve({ code, signal }));
});

/** The nice value of each thread of a process (Linux: each has its own); elsewhere the process's. */
function niceOfThreads(pid: number): number[] {
  if (!existsSync(`/proc/${pid}/task`)) return [os.getPriority(pid)];
  return readdirSync(`/proc/${pid}/task`).map((tid) => os.getPriority(Number(tid)));
}

async function finished(hub: Hub, runId: string) {
  return runFinished(hub, runId, 90_000, 200);
}

describe('worker processes', () => {
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of servers.splice(0)) s.close();
    for (const h of hubs.splice(0)) await h.close();
  });

  it('a worker SIGKILLed mid-batch: its jobs are taken up after the lock expires, and every order is in the CRM once with its exact amount', async () => {
    const s = await setup(1500, 150);
    const first = synchub(['worker', '--config', s.configFile], s.env);
    const { runId } = await startRun(s.hub, 'orders', false);
    await eventually(() => s.crm.objects.deals.size >= 200, 60_000);
    first.kill('SIGKILL');
    expect((await exited(first)).signal).toBe('SIGKILL');
    const atKill = s.crm.objects.deals.size;
    expect(atKill).toBeLessThan(1500);

    synchub(['worker', '--config', s.configFile], s.env);
    const run = await finished(s.hub, runId);
    expect(run).toMatchObject({ expected: 1500, dead: 0 });
    expect(run.pushed + run.skipped).toBe(1500);
    expect(s.crm.objects.deals.size).toBe(1500);
    const byNumber = new Map([...s.crm.objects.deals.values()].map((d) => [d.properties.synchub_order_number, d.properties.amount]));
    for (const o of s.shop.orders) expect(byNumber.get(String(o.order_number))).toBe(o.total_price);
    // Only the batches in flight at the kill can have been sent twice (upserts by order number make that harmless).
    const twice = [...s.crm.writes.deals.values()].filter((n) => n > 1).length;
    expect(twice).toBeLessThanOrEqual(2 * 100);
  });

  it('a worker with jobs.threads: 2 takes pages and pushes on both threads, every order lands once, and SIGTERM stops both', async () => {
    const s = await setup(2000, 30, ', threads: 2');
    const proc = synchub(['worker', '--config', s.configFile], s.env);
    let stderr = '';
    proc.stderr!.on('data', (d) => { stderr += d; });
    const { runId } = await startRun(s.hub, 'orders', false);
    const run = await finished(s.hub, runId);
    expect(run).toMatchObject({ expected: 2000, pushed: 2000, dead: 0, pages: 20 });
    expect(s.crm.objects.deals.size).toBe(2000);
    expect([...s.crm.writes.deals.values()].every((n) => n === 1)).toBe(true);
    const byNumber = new Map([...s.crm.objects.deals.values()].map((d) => [d.properties.synchub_order_number, d.properties.amount]));
    for (const o of s.shop.orders) expect(byNumber.get(String(o.order_number))).toBe(o.total_price);
    // Both threads of the one process took jobs (each job keeps the name of the worker that processed it).
    const takers = async (q: { getJobs(types: 'completed'[]): Promise<{ processedBy?: string }[]> }) => new Set((await q.getJobs(['completed'])).map((j) => j.processedBy));
    const threads = new Set([...(await takers(s.hub.pushQueue('crm'))), ...(await takers(s.hub.pullQueue))]);
    expect([...threads].every((t) => t?.startsWith(`${os.hostname()}:${proc.pid}:`))).toBe(true);
    expect(threads.size).toBe(2);
    // jobs.workerNice (default 5): every thread of the worker process, the worker thread's
    // included, runs at the lower CPU priority, so a serve process and Redis beside it come first.
    const nice = niceOfThreads(proc.pid!);
    expect(nice.length).toBeGreaterThan(5);
    expect(nice.every((n) => n >= 5), nice.join(' ')).toBe(true);
    proc.kill('SIGTERM');
    expect((await exited(proc)).code, stderr).toBe(0);
  });

  it('SIGTERM: stops taking requests, lets the batch in progress finish, and exits 0', async () => {
    const s = await setup(400, 400);
    const proc = synchub(['start', '--config', s.configFile], s.env);
    let stderr = '';
    proc.stderr!.on('data', (d) => { stderr += d; });
    await eventually(async () => (await fetch(`http://127.0.0.1:${s.port}/healthz`).catch(() => null))?.ok, 30_000, 100);
    const { runId } = await startRun(s.hub, 'orders', false);
    await eventually(async () => (await s.hub.pushQueue('crm').getJobCounts('active')).active > 0, 30_000, 20);
    // `synchub start` answers webhooks in the same process: it keeps the priority it was started with.
    expect(niceOfThreads(proc.pid!).every((n) => n === os.getPriority())).toBe(true);
    proc.kill('SIGTERM');
    const { code } = await exited(proc);
    expect(code, stderr).toBe(0);
    // Nothing was left claimed by the stopped process: no job waits for a lock to expire.
    expect((await s.hub.pushQueue('crm').getJobCounts('active')).active).toBe(0);
    expect(await fetch(`http://127.0.0.1:${s.port}/healthz`).then(() => 'up', () => 'down')).toBe('down');
    // The run is not lost: another worker finishes it.
    synchub(['worker', '--config', s.configFile], s.env);
    expect(await finished(s.hub, runId)).toMatchObject({ expected: 400, dead: 0 });
    expect(s.crm.objects.deals.size).toBe(400);
  });
});
