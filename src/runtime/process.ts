import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadConfig, resolveConfigPath, type HubConfig } from '../config/load.js';
import { generateKeySpec } from '../core/crypto.js';
import type { Logger } from '../core/logger.js';
import { Hub } from '../jobs/hub.js';
import { configuredAddress, type RedisAddress } from '../state/redis-client.js';
import { INSTALL_REDIS_HINT, redisAnswers, redisServerAvailable, startRedisServer, type LocalRedis } from './redis-server.js';

export const DEFAULT_LOCAL_REDIS = 'redis://127.0.0.1:6379';

/** The demo needs no keys from the user: it makes a local key file once and says so. */
export function ensureDemoKeys(dir: string, logger: Logger): string {
  const file = path.join(dir, 'demo.keys');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${generateKeySpec('demo')}\n`, { mode: 0o600 });
    logger.info({ file }, 'demo: generated a local encryption key file (keep it: it decrypts what the demo stored)');
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * The demo's admin token: generated once into `.synchub/demo.admin-token` (mode 0600) and read
 * from there afterwards, so `curl -H "Authorization: Bearer $(cat .synchub/demo.admin-token)"` works
 * against the demo. Browsers log in with the one-time link the demo prints, never the token.
 */
export function ensureDemoAdminToken(dir: string): { token: string; file: string } {
  const file = path.join(dir, 'demo.admin-token');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  }
  return { token: readFileSync(file, 'utf8').trim(), file };
}

export function loadHubConfig(configArg: string | undefined): HubConfig {
  return loadConfig(resolveConfigPath(configArg));
}

/**
 * Redis for the hub: the configured URL; else 127.0.0.1:6379 when something
 * answers there; else (only for `start`) a redis-server of our own with its data
 * under .synchub/, stopped on exit.
 */
export async function resolveRedis(config: HubConfig, logger: Logger, allowLaunch: boolean): Promise<{ url: RedisAddress; local?: LocalRedis }> {
  const configured = configuredAddress(config.redis);
  if (configured) return { url: configured };
  if (await redisAnswers(DEFAULT_LOCAL_REDIS)) return { url: DEFAULT_LOCAL_REDIS };
  if (!allowLaunch) throw new Error(`no Redis answers on ${DEFAULT_LOCAL_REDIS} and redis.url / REDIS_URL is not set`);
  if (!redisServerAvailable()) throw new Error(INSTALL_REDIS_HINT);
  const local = await startRedisServer({ port: 6379, dir: path.resolve('.synchub/redis'), persist: true });
  logger.info({ url: local.url, dir: '.synchub/redis' }, 'started a local redis-server (appendonly yes, noeviction); it stops when synchub stops');
  return { url: local.url, local };
}

export async function openHub(config: HubConfig, logger: Logger, allowLaunch: boolean): Promise<{ hub: Hub; local?: LocalRedis }> {
  const { url, local } = await resolveRedis(config, logger, allowLaunch);
  return { hub: await Hub.open(config, logger, url), local };
}
