import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { eventually, testRedisUrl } from '../helpers/hub.js';

/**
 * `synchub start --demo` as `npm start` runs it, in its own process on the suite's Redis (REDIS_URL)
 * and a free port: one start-up line with the one-time login link, the queue dashboard and the API,
 * then summary lines in which payment results arrive.
 */
describe('synchub start --demo', () => {
  let child: ChildProcess | undefined;
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'synchub-demo-'));

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    rmSync(cwd, { recursive: true, force: true });
  });

  it('prints a one-time login link (used once), the dashboard and API addresses, and a live summary with payments', async () => {
    let stdout = '';
    child = spawn(process.execPath, [BIN, 'start', '--demo', '--config', path.resolve('config/demo.yaml'), '--log-format', 'json'], {
      cwd, env: { ...process.env, REDIS_URL: testRedisUrl(), PORT: '0', LOG_LEVEL: 'warn', SYNCHUB_ADMIN_TOKEN: '' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout!.on('data', (d) => { stdout += String(d); });

    const line = await eventually(() => stdout.split('\n').find((l) => l.startsWith('demo: admin page ')), 60_000);
    const m = /^demo: admin page (http:\/\/127\.0\.0\.1:(\d+)\/admin\/login\/link\?code=[\w-]{43}) \(one-time login link, 10 minutes\) · queue dashboard (\S+) · API (\S+) \(Bearer token in (\S+)\)$/.exec(line);
    expect(m, line).not.toBeNull();
    const [, link, port, dashboard, api, tokenFile] = m!;
    expect(dashboard).toBe(`http://127.0.0.1:${port}/admin/queues`);
    expect(api).toBe(`http://127.0.0.1:${port}/api`);
    expect(statSync(path.join(cwd, tokenFile)).mode & 0o077).toBe(0);

    const first = await fetch(link, { redirect: 'manual' });
    expect(first.status).toBe(303);
    const cookie = /synchub_admin=[^;]+/.exec(first.headers.get('set-cookie') ?? '')![0];
    expect((await fetch(`http://127.0.0.1:${port}/api/pipelines`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(401);

    // The summary lines come every 5 s; payment results arrive every 2 s.
    const summary = await eventually(() => stdout.split('\n').find((l) => /^demo \d\d:\d\d:\d\d · .*payment results [1-9]\d* posted/.test(l)), 60_000);
    expect(summary).toMatch(/orders synced to the CRM \d+/);
    expect(summary).toMatch(/shop: .*paid/);
    expect(summary).toMatch(/CRM deals: /);
    expect(summary).toMatch(/dead letters \d+$/);
  });
});
