import { createHash } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { ConfigError, RemoteRejectedError } from '../../core/errors.js';
import { listShapeError } from '../webhook-subscriptions.js';
import type { Connection, ConnectorContext, WebhookSubscription, WebhookSubscriptionApi, WebhookSubscriptionSupport } from '../types.js';
import { ZohoClient } from './client.js';

/**
 * Zoho CRM notification channels (zoho.com/crm/developer/docs/api/v8/notifications: enable, get
 * details): `GET /crm/v8/actions/watch` lists the channels (one entry per module of a channel, 204
 * when there are none; entries carry the channel's `token`, which is never printed), `POST` enables
 * a channel `{ watch: [{ channel_id, events, notify_url, token, channel_expiry }] }` and answers a
 * status per channel. A channel expires: one hour when no expiry is given, one week at most since
 * API v4 (Zoho's "Kaizen #170: FAQs on Notification APIs"), and is renewed by enabling it again,
 * so every `subscribe` run re-enables the hub's channel with a fresh expiry.
 */

/** Asked for a week less an hour: inside Zoho's one-week maximum whatever the clocks' drift. */
export const ZOHO_CHANNEL_MS = 7 * 24 * 3600_000 - 3600_000;

interface WatchEntry { channel_id?: string | number; events?: string[]; notify_url?: string; channel_expiry?: string; resource_name?: string }
interface WatchStatus { code?: string; status?: string; message?: string; details?: unknown }

/** `2026-12-13T17:00:00+00:00`: the offset form Zoho's examples use. */
function zohoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

const OPERATIONS = ['create', 'edit', 'delete'];

/** The details answer may list a module's `.all` as its three operations (as Zoho's example does): folded back to `.all`. */
function foldAll(events: string[]): string[] {
  const full = new Set(events.map((e) => e.split('.')[0]).filter((m) => OPERATIONS.every((op) => events.includes(`${m}.${op}`))));
  const out: string[] = [];
  for (const e of events) {
    const [module, op] = e.split('.');
    const event = full.has(module) && OPERATIONS.includes(op) ? `${module}.all` : e;
    if (!out.includes(event)) out.push(event);
  }
  return out;
}

/** Entries of one channel (one per module) are one subscription: its events together, its earliest expiry. */
function channels(entries: WatchEntry[]): WebhookSubscription[] {
  const byId = new Map<string, WebhookSubscription>();
  for (const e of entries) {
    const id = String(e.channel_id);
    const s = byId.get(id) ?? { id, topics: [], url: String(e.notify_url ?? '') };
    for (const ev of foldAll(e.events ?? [])) if (!s.topics.includes(ev)) s.topics.push(ev);
    if (e.channel_expiry && (!s.expiresAt || Date.parse(e.channel_expiry) < Date.parse(s.expiresAt))) s.expiresAt = e.channel_expiry;
    byId.set(id, s);
  }
  return [...byId.values()];
}

/** A channel id of our own, stable for a connection and URL (Zoho's channel_id is a long). */
function channelIdFor(conn: Connection, url: string): string {
  return String(parseInt(createHash('sha256').update(`${conn.name}\n${url}`).digest('hex').slice(0, 12), 16));
}

function zohoSubscriptions(conn: Connection, ctx: ConnectorContext): WebhookSubscriptionApi {
  const client = new ZohoClient(conn, ctx);
  return {
    async list(signal) {
      const res = await client.http.request<{ watch?: WatchEntry[] } | ''>({ method: 'GET', url: '/actions/watch', signal });
      if (res.status === 204 || res.data === '') return [];
      if (!res.data || !Array.isArray(res.data.watch)) throw listShapeError(conn.name, 'GET /actions/watch', res.data);
      return channels(res.data.watch);
    },
    async ensure({ url, wanted, missing, ours, signal }) {
      const token = conn.credentials.notificationToken;
      if (!token) {
        throw new ConfigError([`connections.${conn.name}.credentials.notificationToken: is required to subscribe: Zoho sends it back in every notification and the hub checks it (at most 50 characters, e.g. \`openssl rand -hex 20\` into an environment variable)`]);
      }
      const current = ours[0];
      // Events the channel already has stay on it: nothing is unsubscribed by a renewal.
      const events = current ? [...new Set([...current.topics, ...missing])] : wanted;
      const channelId = current?.id ?? channelIdFor(conn, url);
      const expiry = zohoTime(Date.now() + ZOHO_CHANNEL_MS);
      const res = await client.http.request<{ watch?: WatchStatus[] }>({
        method: 'POST', url: '/actions/watch', signal, accept: [400],
        data: { watch: [{ channel_id: channelId, events, channel_expiry: expiry, token, notify_url: url, notify_on_related_action: false }] },
      });
      const status = res.data?.watch?.[0];
      if (res.status === 400 || status?.status !== 'success') {
        const code = status?.code ?? (res.data as WatchStatus | undefined)?.code ?? `HTTP ${res.status}`;
        const message = status?.message ?? (res.data as WatchStatus | undefined)?.message ?? 'no status in the answer';
        throw new RemoteRejectedError(`${conn.name}: POST /actions/watch refused: ${code}: ${message}`, { status: res.status, details: { code, details: status?.details } });
      }
      const subscription: WebhookSubscription = { id: channelId, topics: events, url, expiresAt: expiry };
      return {
        changes: [{ action: current ? (missing.length ? 'updated' : 'renewed') : 'created', subscription }],
        notes: [`Zoho channel ${channelId} expires at ${expiry}: run \`synchub webhooks subscribe ${conn.name}\` again before then (daily from cron, say) to renew it`],
      };
    },
  };
}

export const zohoSubscriptionSupport: WebhookSubscriptionSupport = {
  howTo: 'synchub webhooks subscribe enables (or renews) one notification channel through POST /crm/v8/actions/watch; channels expire within a week, so run it again before then',
  topics: (entity: Entity, conn: Connection) => {
    if (entity === 'customer') return ['Contacts.all'];
    if (entity === 'order') return [`${String(conn.options.orderModule ?? 'Sales_Orders')}.all`];
    return [];
  },
  open: zohoSubscriptions,
};
