import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { HubConfig } from '../config/load.js';
import type { Logger } from '../core/logger.js';
import { ConfigError } from '../core/errors.js';
import type { ConnectorContext, WebhookSubscription } from '../connectors/types.js';
import { listWebhookSubscriptions, subscribeWebhooks, type SubscriptionView } from '../admin/webhook-subscriptions.js';
import { loadHubConfig, resolveRedis } from '../runtime/process.js';
import { connectRedis, isClusterAddress, type RedisAddress } from '../state/redis-client.js';
import { stateKeyPrefix } from '../state/key-layout.js';

export const WEBHOOKS_USAGE = 'usage: synchub webhooks list|subscribe CONNECTION [--config FILE] [--secret-file PATH | --print-secret]';

export interface WebhooksOptions {
  /** Where a one-time signing secret (Stripe's, on creation) is written, mode 0600; never overwritten. */
  secretFile?: string;
  /** Print a one-time signing secret to stdout, once. */
  printSecret?: boolean;
}

type Out = (line: string) => void;

function describe(s: WebhookSubscription): string {
  return `${s.topics.join(',') || '(no topics)'}  ${s.id}${s.status ? `  ${s.status}` : ''}${s.expiresAt ? `  expires ${s.expiresAt}` : ''}`;
}

function printView(v: SubscriptionView, out: Out): void {
  const needed = new Set(v.wanted);
  for (const s of v.ours) {
    const extra = s.topics.filter((t) => !needed.has(t));
    out(`  hub        ${describe(s)}${extra.length ? `  (not needed by any pipeline: ${extra.join(', ')})` : ''}`);
  }
  for (const s of v.elsewhere) out(`  elsewhere  ${describe(s)}  → ${s.url}`);
}

/** `synchub webhooks list|subscribe CONNECTION` on a loaded config; returns the exit code. Errors are thrown. */
export async function runWebhooks(config: HubConfig, action: string | undefined, connection: string | undefined, opts: WebhooksOptions, ctx: ConnectorContext, out: Out): Promise<number> {
  if ((action !== 'list' && action !== 'subscribe') || !connection) throw new Error(WEBHOOKS_USAGE);
  const connector = config.connections.get(connection)?.connector;
  if (action === 'list') {
    const v = await listWebhookSubscriptions(config, connection, ctx);
    out(`${connection} (${connector}): ${v.ours.length + v.elsewhere.length} subscription(s); the hub receives at ${v.url}`);
    printView(v, out);
    if (v.wanted.length) out(v.missing.length ? `missing: ${v.missing.join(', ')} (synchub webhooks subscribe ${connection} creates them)` : `every topic the pipelines need is subscribed: ${v.wanted.join(', ')}`);
    else out(`no pipeline takes webhooks from ${connection}`);
    return 0;
  }
  const secretFile = opts.secretFile ? path.resolve(opts.secretFile) : undefined;
  // Checked before anything is created: a secret the provider shows once must have somewhere to go.
  if (secretFile && existsSync(secretFile)) throw new ConfigError([`--secret-file: ${secretFile} exists; name a new file (a secret file is never overwritten)`]);
  const r = await subscribeWebhooks(config, connection, ctx, { keepsSecret: Boolean(secretFile || opts.printSecret) });
  out(`${connection} (${connector}) → ${r.url}`);
  for (const c of r.changes) out(`  ${c.action.padEnd(10)} ${describe(c.subscription)}`);
  const changed = new Set(r.changes.map((c) => c.subscription.id));
  for (const s of r.ours.filter((s) => !changed.has(s.id))) out(`  exists     ${describe(s)}`);
  for (const s of r.elsewhere) out(`  elsewhere  ${describe(s)}  → ${s.url}  (left as is)`);
  for (const u of r.unneeded) out(`  unneeded   ${u.topic}  ${u.subscription.id}  (no pipeline needs it; left as is)`);
  if (r.secret) {
    if (secretFile) {
      writeFileSync(secretFile, `${r.secret.value}\n`, { mode: 0o600, flag: 'wx' });
      out(`  the signing secret is in ${secretFile} (mode 0600): put it in connections.${connection}.credentials.${r.secret.credential} (e.g. through an environment variable), then delete the file`);
    } else {
      out(`  signing secret (shown once; put it in connections.${connection}.credentials.${r.secret.credential}): ${r.secret.value}`);
    }
  }
  for (const n of r.notes) out(`  note: ${n}`);
  const created = r.changes.filter((c) => c.action === 'created').length;
  const renewed = r.changes.filter((c) => c.action === 'renewed').length;
  out(`created ${created}, updated ${r.changes.length - created - renewed}, renewed ${renewed}, already there ${r.ours.filter((s) => !changed.has(s.id)).length}, pointing elsewhere ${r.elsewhere.length}, topics no pipeline needs ${r.unneeded.length}`);
  return 0;
}

/**
 * The CLI entry: loads the config and, when a Redis answers, hands connectors the hub's shared
 * state (Shopify's rotating refresh token lives there). Without one, connections that need it say so.
 */
export async function webhooksCommand(args: string[], configArg: string | undefined, opts: WebhooksOptions, logger: Logger): Promise<number> {
  if (!['list', 'subscribe'].includes(args[0] ?? '') || !args[1]) {
    console.error(WEBHOOKS_USAGE);
    return 1;
  }
  const config = loadHubConfig(configArg);
  let redis: Redis | undefined;
  let address: RedisAddress | undefined;
  try {
    const { url } = await resolveRedis(config, logger, false);
    address = url;
    redis = connectRedis(url, { maxRetriesPerRequest: 2, lazyConnect: true, retryStrategy: () => null });
    await redis.connect();
  } catch {
    redis?.disconnect();
    redis = undefined;
  }
  const ctx: ConnectorContext = { logger, shared: redis ? { redis, prefix: stateKeyPrefix(config.redis.prefix, address !== undefined && isClusterAddress(address)), keyring: config.keyring } : undefined };
  try {
    return await runWebhooks(config, args[0], args[1], opts, ctx, (line) => console.log(line));
  } finally {
    redis?.disconnect();
  }
}
