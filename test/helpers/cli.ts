import { execFile } from 'node:child_process';
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
