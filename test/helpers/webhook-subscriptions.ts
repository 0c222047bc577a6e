import type { HubConfig } from '../../src/config/load.js';
import { runWebhooks, type WebhooksOptions } from '../../src/cli/webhooks.js';
import { quietLogger } from './hub.js';

/** Runs `synchub webhooks ACTION CONNECTION` in-process (so nock answers), as the CLI would: lines printed, exit code, error text. */
export async function webhooksCli(config: HubConfig, action: string, connection: string, opts: WebhooksOptions = {}) {
  const lines: string[] = [];
  try {
    const code = await runWebhooks(config, action, connection, opts, { logger: quietLogger }, (l) => lines.push(l));
    return { code, out: lines.join('\n'), error: '' };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { code: 1, out: lines.join('\n'), error: e.code ? `${e.code}: ${e.message}` : e.message };
  }
}
