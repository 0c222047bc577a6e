import { listShapeError } from '../webhook-subscriptions.js';
import type { Connection, ConnectorContext, WebhookSubscription, WebhookSubscriptionApi, WebhookSubscriptionSupport } from '../types.js';
import { PaypalClient } from './client.js';
import { PAYPAL_EVENTS } from './webhooks.js';

/**
 * PayPal Webhooks Management v1 (developer.paypal.com/api/webhooks/v1): `GET /v1/notifications/webhooks`
 * lists the app's webhooks (`webhooks[]` with `id`, `url`, `event_types[{name}]`), `POST` creates one
 * with `url` and `event_types` (201, the webhook with its id), `PATCH /v1/notifications/webhooks/{id}`
 * replaces `event_types` (JSON Patch). One webhook per URL (WEBHOOK_URL_ALREADY_EXISTS), so a missing
 * event is added to the hub's webhook. Its id is what the connection verifies deliveries with
 * (verify-webhook-signature's `webhook_id`), so the command prints it and says where it goes.
 */

interface Webhook { id?: string; url?: string; event_types?: { name?: string; status?: string }[] }

function toSubscription(w: Webhook): WebhookSubscription {
  const names = (w.event_types ?? []).map((e) => String(e.name));
  return { id: String(w.id), topics: names, url: String(w.url ?? '') };
}

function paypalSubscriptions(conn: Connection, ctx: ConnectorContext): WebhookSubscriptionApi {
  const { http } = new PaypalClient(conn, ctx);
  const configured = conn.credentials.webhookId;
  const idNote = (id: string) =>
    configured === id ? [] : [`put ${id} in connections.${conn.name}.credentials.webhookId${configured ? ` (it now holds ${configured}, another webhook)` : ''}: the hub verifies PayPal's deliveries with it, and refuses them without it`];
  return {
    async list(signal) {
      const res = await http.request<{ webhooks?: Webhook[] }>({ method: 'GET', url: '/v1/notifications/webhooks', params: { anchor_type: 'APPLICATION' }, signal });
      if (!Array.isArray(res.data?.webhooks)) throw listShapeError(conn.name, 'GET /v1/notifications/webhooks', res.data);
      return res.data.webhooks.map(toSubscription);
    },
    async ensure({ url, wanted, missing, ours, signal }) {
      if (ours.length && !missing.length) return { changes: [], notes: idNote(ours[0].id) };
      if (ours.length) {
        const target = ours[0];
        const names = [...new Set([...target.topics, ...missing])];
        const res = await http.request<Webhook>({
          method: 'PATCH', url: `/v1/notifications/webhooks/${encodeURIComponent(target.id)}`, signal,
          data: [{ op: 'replace', path: '/event_types', value: names.map((name) => ({ name })) }],
        });
        return { changes: [{ action: 'updated', subscription: toSubscription(res.data) }], notes: idNote(target.id) };
      }
      const res = await http.request<Webhook>({ method: 'POST', url: '/v1/notifications/webhooks', data: { url, event_types: wanted.map((name) => ({ name })) }, signal });
      if (!res.data?.id) throw listShapeError(conn.name, 'POST /v1/notifications/webhooks', res.data);
      return { changes: [{ action: 'created', subscription: toSubscription(res.data) }], notes: idNote(String(res.data.id)) };
    },
  };
}

export const paypalSubscriptionSupport: WebhookSubscriptionSupport = {
  howTo: 'synchub webhooks subscribe creates the app\u2019s webhook for the hub URL (POST /v1/notifications/webhooks) and prints the webhook id that goes in credentials.webhookId',
  topics: (entity) => (entity === 'payment' ? [...PAYPAL_EVENTS] : []),
  open: paypalSubscriptions,
};
