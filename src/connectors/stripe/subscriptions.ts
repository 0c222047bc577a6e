import { createHash } from 'node:crypto';
import { SynchubError } from '../../core/errors.js';
import { listShapeError, MAX_SUBSCRIPTION_PAGES } from '../webhook-subscriptions.js';
import type { Connection, ConnectorContext, WebhookSubscription, WebhookSubscriptionApi, WebhookSubscriptionChange, WebhookSubscriptionSupport } from '../types.js';
import { DEFAULT_STRIPE_VERSION, StripeClient } from './client.js';
import { stripeForm } from './form.js';
import { PAYMENT_EVENTS, CUSTOMER_EVENTS } from './webhooks.js';

/**
 * Stripe webhook endpoints (docs.stripe.com/api/webhook_endpoints): `GET /v1/webhook_endpoints`
 * (list, `limit` ≤ 100, `starting_after`, `has_more`), `POST /v1/webhook_endpoints` with `url` and
 * `enabled_events[]`, `POST /v1/webhook_endpoints/{id}` to change `enabled_events`. One endpoint
 * carries many events, so a missing event is added to the hub's endpoint, never a second endpoint
 * (it would sign with a second secret). The endpoint's `secret` (whsec_…) is "only returned at
 * creation": the command refuses to create one unless the user named where the secret goes.
 * `enabled_events: ['*']` covers every event.
 */

interface Endpoint { id?: string; url?: string; enabled_events?: string[]; status?: string; secret?: string }
interface List { data?: Endpoint[]; has_more?: boolean }

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function toSubscription(e: Endpoint): WebhookSubscription {
  return { id: String(e.id), topics: Array.isArray(e.enabled_events) ? e.enabled_events : [], url: String(e.url ?? ''), status: e.status };
}

function stripeSubscriptions(conn: Connection, ctx: ConnectorContext): WebhookSubscriptionApi {
  const { http } = new StripeClient(conn, ctx);
  const apiVersion = String(conn.options.apiVersion ?? DEFAULT_STRIPE_VERSION);
  return {
    async list(signal) {
      const out: WebhookSubscription[] = [];
      let after: string | undefined;
      for (let page = 0; page < MAX_SUBSCRIPTION_PAGES; page++) {
        const res = await http.request<List>({ method: 'GET', url: '/v1/webhook_endpoints', params: { limit: 100, starting_after: after }, signal });
        const data = res.data?.data;
        if (!Array.isArray(data)) throw listShapeError(conn.name, 'GET /v1/webhook_endpoints', res.data);
        out.push(...data.map(toSubscription));
        if (!res.data.has_more || !data.length) return out;
        after = String(data[data.length - 1].id);
      }
      throw listShapeError(conn.name, `GET /v1/webhook_endpoints (more than ${MAX_SUBSCRIPTION_PAGES} pages)`, {});
    },
    async ensure({ url, wanted, missing, ours, keepsSecret, signal }) {
      const notes = ours.filter((s) => s.status === 'disabled').map((s) => `endpoint ${s.id} is disabled: enable it in the Dashboard (Developers → Webhooks) or Stripe delivers nothing to the hub`);
      if (!missing.length) return { changes: [], notes };
      const changes: WebhookSubscriptionChange[] = [];
      if (ours.length) {
        // Added to the hub's endpoint: its signing secret, already in the config, stays the same.
        const target = ours[0];
        const events = [...new Set([...target.topics, ...missing])];
        const res = await http.request<Endpoint>({ method: 'POST', url: `/v1/webhook_endpoints/${encodeURIComponent(target.id)}`, data: stripeForm({ enabled_events: events }), headers: FORM, signal });
        changes.push({ action: 'updated', subscription: toSubscription(res.data) });
        return { changes, notes: [...notes, `added ${missing.join(', ')} to endpoint ${target.id}; its signing secret is unchanged`] };
      }
      if (!keepsSecret) {
        throw new SynchubError('invalid_request', 'Stripe returns a new endpoint\u2019s signing secret only once, in the answer that creates it: run again with --secret-file PATH (written with mode 0600, never overwritten) or --print-secret (printed once on stdout); nothing was created');
      }
      const form = stripeForm({ url, enabled_events: wanted, api_version: apiVersion, description: `synchub ${conn.name}` });
      // A retried create (network failure) returns the first answer instead of making a second endpoint.
      const key = `synchub-webhook-${createHash('sha256').update(`${conn.name}\n${form}`).digest('hex').slice(0, 40)}`;
      const res = await http.request<Endpoint>({ method: 'POST', url: '/v1/webhook_endpoints', data: form, headers: { ...FORM, 'idempotency-key': key }, signal });
      if (!res.data?.id) throw listShapeError(conn.name, 'POST /v1/webhook_endpoints', res.data);
      changes.push({ action: 'created', subscription: toSubscription(res.data) });
      const secret = typeof res.data.secret === 'string' && res.data.secret ? { value: res.data.secret, credential: 'webhookSecret' } : undefined;
      if (!secret) notes.push(`Stripe's answer held no signing secret: roll it in the Dashboard (Developers → Webhooks → ${res.data.id}) and put it in connections.${conn.name}.credentials.webhookSecret`);
      return { changes, secret, notes };
    },
  };
}

export const stripeSubscriptionSupport: WebhookSubscriptionSupport = {
  howTo: 'synchub webhooks subscribe creates one webhook endpoint (POST /v1/webhook_endpoints) with the payment events, or adds missing events to the hub\u2019s endpoint',
  topics: (entity) => (entity === 'payment' ? [...PAYMENT_EVENTS] : entity === 'customer' ? [...CUSTOMER_EVENTS] : []),
  open: stripeSubscriptions,
};
