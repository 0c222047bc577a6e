import { openJson, sealJson } from '../core/crypto.js';
import { DecryptError } from '../core/errors.js';
import type { Hub } from './hub.js';
import type { WebhookJobData } from './queues.js';

/**
 * How a stored webhook event's record is sealed. With `encryption.publicKeys` it is a JWE for the
 * workers' private keys (`sealedFor`): the serve process that stores it cannot open it. Otherwise
 * it is sealed with the symmetric keyring (`sealed`). The AAD (or the JWE's `ctx` header) binds the
 * record to its connection.
 */
export const webhookAad = (connection: string) => `webhook:${connection}`;

/**
 * A record sealed with the symmetric keyring (done lazily, for new events only: see WebhookEventStore);
 * `json`: the record's JSON as received (WebhookEvent.recordJson), sealed as it is.
 */
export function sealWebhookRecord(hub: Hub, connection: string, record: unknown, json?: Buffer): Pick<WebhookJobData, 'sealed'> {
  if (record === undefined) return {};
  return { sealed: json ? hub.config.keyring.encrypt(json, webhookAad(connection)) : sealJson(hub.config.keyring, record, webhookAad(connection)) };
}

/**
 * With `encryption.publicKeys`: each record sealed for the workers (JWE; sealing is asynchronous,
 * so it is done for every event of the delivery before the store dedupes them). Undefined without.
 */
export async function sealForWorkers(hub: Hub, connection: string, records: readonly unknown[]): Promise<Pick<WebhookJobData, 'sealedFor'>[] | undefined> {
  const publicKeys = hub.config.sealing.publicKeys;
  if (!publicKeys) return undefined;
  return Promise.all(records.map(async (r) => (r === undefined ? {} : { sealedFor: await publicKeys.seal(JSON.stringify(r), webhookAad(connection)) })));
}

/** The record of a stored event, opened in memory (workers). */
export async function openWebhookRecord(hub: Hub, d: WebhookJobData): Promise<unknown> {
  if (d.sealed) return openJson(hub.config.keyring, d.sealed, webhookAad(d.connection));
  const privateKeys = hub.config.sealing.privateKeys;
  if (!privateKeys) throw new DecryptError(`${webhookAad(d.connection)}: sealed with a public key, and this process holds no private key (encryption.privateKeys)`);
  return JSON.parse(new TextDecoder().decode(await privateKeys.open(d.sealedFor!, webhookAad(d.connection))));
}
