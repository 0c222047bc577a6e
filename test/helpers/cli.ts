import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The CLI as users run it (bin/synchub.js), in its own process. */
export const BIN = path.resolve('bin/synchub.js');

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs a program and returns its exit code and output, whether it succeeded or not. */
export async function execProgram(file: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(file, args, { env: { ...process.env, ...env }, timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    return { code: err.code as number, stdout: err.stdout as string, stderr: err.stderr as string };
  }
}

/** `synchub ARGS…` with warn-level logs unless `env` says otherwise. */
export const synchub = (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> =>
  execProgram(process.execPath, [BIN, ...args], { LOG_LEVEL: 'warn', ...env }, timeoutMs);

/**
 * A config file for CLI tests: one orders pipeline from a Shopify sandbox (REST) to a HubSpot
 * sandbox, on the suite's Redis under its own prefix; the keys come from SYNCHUB_KEYS.
 */
export function writeSandboxConfig(opts: { shopUrl: string; crmUrl: string; redisUrl: string; prefix: string; batchSize: number }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-cli-'));
  const file = path.join(dir, 'hub.yaml');
  writeFileSync(file, `
redis: { url: "${opts.redisUrl}", prefix: "${opts.prefix}" }
encryption: { keys: "\${SYNCHUB_KEYS}" }
connections:
  shop: { connector: shopify, baseUrl: "${opts.shopUrl}", api: rest, credentials: { accessToken: shpat_x } }
  crm: { connector: hubspot, baseUrl: "${opts.crmUrl}", credentials: { accessToken: pat-x } }
pipelines:
  orders:
    source: { connection: shop, entity: order }
    targets: [ { connection: crm, entity: order } ]
    batchSize: ${opts.batchSize}
`);
  return file;
}
