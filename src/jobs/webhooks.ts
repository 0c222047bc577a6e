import { StoreUnavailableError, SynchubError } from '../core/errors.js';
import type { HubConfig } from '../config/load.js';
import type { PrivacyRequest, WebhookReply, WebhookRequest } from '../connectors/types.js';
import { handlePrivacyRequest } from '../operations/privacy-requests.js';
import { emailsAt } from '../core/redact.js';
import { applyDeletions } from '../operations/deletions.js';
import type { Hub } from './hub.js';
import type { IncomingWebhookEvent } from './webhook-store.js';
import { wakeWaitingPulls } from './source-wake.js';
import { sealForWorkers, sealWebhookRecord } from './webhook-sealing.js';

export type WebhookResult =
  | { kind: 'stored'; reply: WebhookReply; stored: number; duplicates: number }
  | { kind: 'refused'; status: number; error: SynchubError; reply?: WebhookReply };

/**
 * verify → dedupe → store → answer. The answer is 2xx only once every new event
 * of the delivery is in the queue; a duplicate is answered 200 and not queued again.
 * Dedupe and store go through hub.webhookEvents, which batches concurrent deliveries
 * (see WebhookEventStore); accepted deliveries are counted for /metrics there.
 */
export async function acceptWebhook(hub: Hub, connection: string, req: WebhookRequest): Promise<WebhookResult> {
  const conn = hub.config.connections.get(connection);
  const handler = conn ? hub.client(connection).webhooks : undefined;
  if (!conn || !handler) {
    return { kind: 'refused', status: 404, error: new SynchubError('webhook_unknown_connection', `no connection "${connection}" takes webhooks`) };
  }
  const refuse = (status: number, error: SynchubError): WebhookResult => ({ kind: 'refused', status, error, reply: handler.reject?.(status, error) });

  let delivery;
  try {
    delivery = await handler.verify(req);
  } catch (err) {
    if (err instanceof SynchubError && err.code === 'webhook_signature') return refuse(401, err);
    if (err instanceof SynchubError && err.code === 'webhook_malformed') return refuse(400, err);
    if (err instanceof SynchubError && err.retryable) return refuse(503, err);
    throw err;
  }
  // Every event can cost a record fetch and a push: one delivery may not carry more than the configured share.
  const maxEvents = hub.config.server.maxWebhookEvents;
  if (delivery.events.length > maxEvents) {
    return refuse(413, new SynchubError('webhook_too_large', `the delivery carries ${delivery.events.length} events, more than server.maxWebhookEvents (${maxEvents})`));
  }
  if (delivery.wake?.length) await wakeWaitingPulls(hub, connection, delivery.wake);
  if (delivery.reply) {
    await hub.metrics.webhookReceived(connection, 'stored').catch(() => {});
    return { kind: 'stored', reply: delivery.reply, stored: 0, duplicates: 0 };
  }

  // Only events some pipeline takes are stored; the rest are verified and acknowledged.
  // Data-subject requests are stored whatever the pipelines (they concern everything the hub holds).
  const entities = webhookEntities(hub, connection);
  const receivedAt = new Date().toISOString();
  const taken = delivery.events.filter((e) => entities.has(e.entity));
  const privacy = delivery.privacy ?? [];
  const personalFields = hub.config.connectorOf(connection).personalFields;
  const sealedFor = await sealForWorkers(hub, connection, [...taken.map((e) => e.record), ...privacy]);
  const events: IncomingWebhookEvent[] = [
    ...taken.map((e, i) => ({
      id: e.id,
      contentId: e.contentId,
      // Who the stored body names (by the email-shaped values under the connector's personalFields), for erasure.
      // A process holding only public keys has no index key: its bodies are found when their jobs run.
      persons: () => (e.record === undefined || !hub.config.sealing.hasKeys ? [] : emailsAt(e.record, personalFields).map((m) => `customer:${hub.config.keyring.blindIndex(m)}`)),
      job: () => ({
        connection, eventId: e.id, topic: e.topic, entity: e.entity, ref: e.ref, receivedAt,
        ...(e.deletion ? { deletion: e.deletion, occurredAt: e.occurredAt } : {}),
        ...(sealedFor?.[i] ?? sealWebhookRecord(hub, connection, e.record, e.recordJson)),
      }),
    })),
    ...privacy.map((r, i) => ({
      id: r.id,
      contentId: r.contentId,
      job: () => ({ connection, eventId: r.id, topic: r.topic, entity: 'customer' as const, privacy: r.kind, receivedAt, ...(sealedFor?.[taken.length + i] ?? sealWebhookRecord(hub, connection, r)) }),
    })),
  ];
  let outcome;
  try {
    outcome = await hub.webhookEvents.store(connection, events);
  } catch (err) {
    if (err instanceof StoreUnavailableError) return refuse(503, err);
    throw err;
  }
  const { stored, duplicates } = outcome;
  return {
    kind: 'stored', stored, duplicates,
    reply: handler.acknowledge?.(delivery) ?? { status: 200, body: JSON.stringify({ ok: true, stored, duplicates }), contentType: 'application/json' },
  };
}

const entitiesByConfig = new WeakMap<HubConfig, Map<string, Set<string>>>();

/** Entities of a connection that some pipeline takes by webhook (worked out once per config). */
function webhookEntities(hub: Hub, connection: string): Set<string> {
  let byConnection = entitiesByConfig.get(hub.config);
  if (!byConnection) {
    byConnection = new Map();
    for (const p of hub.config.pipelines.values()) {
      if (!p.webhooks) continue;
      let set = byConnection.get(p.source.connection);
      if (!set) byConnection.set(p.source.connection, (set = new Set()));
      set.add(p.source.entity);
    }
    entitiesByConfig.set(hub.config, byConnection);
  }
  return byConnection.get(connection) ?? NONE;
}

const NONE = new Set<string>();
