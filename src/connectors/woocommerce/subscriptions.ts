import type { Entity } from '../../core/canonical/schemas.js';
import { ConfigError } from '../../core/errors.js';
import { createEachTopic, listShapeError, MAX_SUBSCRIPTION_PAGES } from '../webhook-subscriptions.js';
import type { Connection, ConnectorContext, WebhookSubscription, WebhookSubscriptionApi, WebhookSubscriptionSupport } from '../types.js';
import { WooClient } from './client.js';
import { WOO_TOPICS } from './webhooks.js';

/**
 * WooCommerce REST API v3 webhooks (developer.woocommerce.com/docs/apis/rest-api/v3/webhooks):
 * `GET /wp-json/wc/v3/webhooks` (paged by `page`/`per_page`, X-WP-TotalPages) lists every webhook of
 * the store, `POST` creates one with `name`, `topic`, `delivery_url`, `secret` and `status`. The
 * secret is the connection's webhookSecret: it is sent to the store and never printed; WooCommerce
 * treats it as write-only and never returns it. On creation WooCommerce pings the delivery URL
 * (the hub answers that ping without storing it), so the hub must be reachable at publicUrl.
 */

const PER_PAGE = 100;

interface WooWebhook { id?: number; name?: string; status?: string; topic?: string; delivery_url?: string }

function toSubscription(w: WooWebhook): WebhookSubscription {
  return { id: String(w.id), topics: w.topic ? [w.topic] : [], url: String(w.delivery_url ?? ''), status: w.status };
}

function wooSubscriptions(conn: Connection, ctx: ConnectorContext): WebhookSubscriptionApi {
  const { http } = new WooClient(conn, ctx);
  return {
    async list(signal) {
      const out: WebhookSubscription[] = [];
      for (let page = 1; page <= MAX_SUBSCRIPTION_PAGES; page++) {
        const res = await http.request<WooWebhook[]>({ method: 'GET', url: '/webhooks', params: { per_page: PER_PAGE, page, status: 'all' }, signal });
        if (!Array.isArray(res.data)) throw listShapeError(conn.name, 'GET /webhooks', res.data);
        out.push(...res.data.map(toSubscription));
        // X-WP-TotalPages when the store sends it (a proxy may strip it); else a short page is the last.
        const pages = Number(res.headers['x-wp-totalpages']);
        if (Number.isFinite(pages) && pages > 0 ? page >= pages : res.data.length < PER_PAGE) return out;
      }
      throw listShapeError(conn.name, `GET /webhooks (more than ${MAX_SUBSCRIPTION_PAGES} pages)`, {});
    },
    async ensure({ url, missing, signal }) {
      const secret = conn.credentials.webhookSecret;
      if (!secret) {
        throw new ConfigError([`connections.${conn.name}.credentials.webhookSecret: is required to subscribe: WooCommerce signs each delivery with it and the hub verifies the signature (e.g. \`openssl rand -hex 32\` into an environment variable)`]);
      }
      const changes = await createEachTopic(missing, async (topic) => {
        const res = await http.request<WooWebhook>({
          method: 'POST', url: '/webhooks', signal,
          data: { name: `synchub ${conn.name} ${topic}`, topic, delivery_url: url, secret, status: 'active' },
        });
        if (!res.data || typeof res.data !== 'object' || res.data.id === undefined) throw listShapeError(conn.name, 'POST /webhooks', res.data);
        return toSubscription(res.data);
      });
      return { changes, notes: [] };
    },
  };
}

export const wooSubscriptionSupport: WebhookSubscriptionSupport = {
  howTo: 'synchub webhooks subscribe creates one webhook per topic through POST /wp-json/wc/v3/webhooks, signed with credentials.webhookSecret',
  topics: (entity: Entity) => Object.entries(WOO_TOPICS).filter(([, e]) => e === entity).map(([t]) => t),
  open: wooSubscriptions,
};
