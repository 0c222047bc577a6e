import type { ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeySpec } from '../../src/core/crypto.js';
import { listen } from '../../src/sandbox/demo.js';
import { HubspotSandbox } from '../../src/sandbox/hubspot.js';
import { ShopifySandbox } from '../../src/sandbox/shopify.js';
import { testRedisUrl } from '../helpers/hub.js';
import { BIN, execProgram, writeSandboxConfig } from '../helpers/cli.js';

const exec = (file: string, args: string[], env: NodeJS.ProcessEnv) => execProgram(file, args, env, 120_000);

/** The CLI on a pseudo-terminal, as a person runs it: util-linux `script` gives it one (Debian's bsdutils, always there). */
const onTerminal = (args: string[], env: NodeJS.ProcessEnv) =>
  exec('script', ['-qfec', [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], { ...env, COLUMNS: '200' });
const piped = (args: string[], env: NodeJS.ProcessEnv) => exec(process.execPath, [BIN, ...args], env);

describe('what synchub prints for people and for machines', () => {
  const shop = new ShopifySandbox({ customers: 30, orders: 400 });
  const crm = new HubspotSandbox();
  const servers: ServerType[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const s = await listen(shop.app());
    const h = await listen(crm.app());
    servers.push(s.server, h.server);
    const config = writeSandboxConfig({ shopUrl: s.url, crmUrl: h.url, redisUrl: testRedisUrl(), prefix: `cliout${Date.now()}`, batchSize: 50 });
    env = { SYNCHUB_KEYS: generateKeySpec('cliout'), SYNCHUB_CONFIG: config, LOG_LEVEL: 'info', SYNCHUB_LOG_FORMAT: '' };
  });
  afterAll(() => servers.forEach((s) => s.close()));

  it('sync --wait on a terminal shows a progress line rewritten in place, short log lines, and a final table', async () => {
    const out = await onTerminal(['sync', 'orders', '--wait'], env);
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toMatch(/\r\x1b\[2Kpages \d+ \((pulling|[\d,]+ to settle)\) · pushed [\d,]+ · skipped \d+ · dead-lettered 0 · [\d,]+ records\/s/);
    expect(out.stdout).toMatch(/done: 400 record deliveries — pushed 400, skipped 0, dead-lettered 0/);
    expect(out.stdout).toMatch(/ {2}pushed +400\r?\n/);
    expect(out.stdout).toMatch(/ {2}records\/s +[\d,]+/);
    // Logs for people: a time, a level word and the message; no JSON objects.
    expect(out.stdout).toMatch(/\[\d\d:\d\d:\d\d\] .*INFO.*: .*run started/);
    expect(out.stdout).not.toMatch(/\{"level":/);
    expect(crm.objects.deals.size).toBe(400);
  });

  it('piped, it prints JSON log lines and the final counts only', async () => {
    shop.addOrder(new Date(Date.UTC(2031, 0, 1)));
    const out = await piped(['sync', 'orders', '--wait'], env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).not.toContain('\r');
    expect(out.stdout).not.toMatch(/records\/s/);
    expect(out.stdout).toMatch(/done: \d+ record deliveries — pushed 1, skipped \d+, dead-lettered 0\n/);
    const logLines = out.stdout.split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    for (const l of logLines) expect(JSON.parse(l)).toHaveProperty('level');
  });

  it('--log-format json keeps JSON lines on a terminal; an unknown format is refused naming the flag', async () => {
    const out = await onTerminal(['sync', 'orders', '--wait', '--log-format', 'json'], env);
    expect(out.code, out.stdout).toBe(0);
    expect(out.stdout).toMatch(/\{"level":30,/);
    const bad = await piped(['check', '--log-format', 'xml'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--log-format must be one of json, pretty, not "xml"');
  });
});
