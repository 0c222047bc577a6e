import type { Entity } from '../../core/canonical/schemas.js';
import { RemoteRejectedError } from '../../core/errors.js';
import { createEachTopic, listShapeError, MAX_SUBSCRIPTION_PAGES } from '../webhook-subscriptions.js';
import type { Connection, ConnectorContext, WebhookSubscription, WebhookSubscriptionApi, WebhookSubscriptionSupport } from '../types.js';
import { SHOPIFY_API_VERSION, ShopifyClient } from './client.js';
import { ShopifyGraphql } from './graphql.js';
import { shopifyWebhookSecret } from './auth.js';

/**
 * Shop-scoped webhook subscriptions through the GraphQL Admin API, for every connection whatever
 * its `api` option (the GraphQL endpoint takes the same token as REST). shopify.dev:
 * "Subscribe to a topic using GraphQL Admin API" (apps/build/webhooks/subscribe/subscribe-using-api),
 * queries/webhookSubscriptions, mutations/webhookSubscriptionCreate, input-objects/WebhookSubscriptionInput.
 * Since 2025-10 the input's address is `uri` (an HTTPS URL, a Pub/Sub URI or an EventBridge ARN) and
 * `callbackUrl` is deprecated; older versions only have `callbackUrl`. The list holds only shop-scoped
 * subscriptions: app-specific ones declared in shopify.app.toml are not listed and not needed here.
 */

/** Topics whose bodies the hub syncs (webhooks.ts): orders/updated covers payments, cancellations and refunds. */
const TOPICS: Partial<Record<Entity, string[]>> = {
  order: ['ORDERS_CREATE', 'ORDERS_UPDATED', 'ORDERS_DELETE'],
  customer: ['CUSTOMERS_CREATE', 'CUSTOMERS_UPDATE', 'CUSTOMERS_DELETE'],
};

const PAGE = 100;

/** `uri` exists from 2025-10 (the versions before it name the field callbackUrl). */
function usesUri(version: string): boolean {
  return version >= '2025-10';
}

function listQuery(field: string): string {
  return `query HubWebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) { nodes { id topic ${field} format } pageInfo { hasNextPage endCursor } }
}`;
}

function createMutation(field: string): string {
  return `mutation HubWebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic ${field} format }
    userErrors { field message }
  }
}`;
}

interface Node { id: string; topic: string; uri?: string; callbackUrl?: string; format?: string }

function toSubscription(n: Node, field: 'uri' | 'callbackUrl'): WebhookSubscription {
  // Only a format other than JSON is worth showing: the hub parses JSON bodies alone.
  return { id: String(n.id), topics: [String(n.topic)], url: String(n[field] ?? ''), status: n.format && n.format !== 'JSON' ? `format ${n.format}` : undefined };
}

function shopifySubscriptions(conn: Connection, ctx: ConnectorContext): WebhookSubscriptionApi {
  const version = String(conn.options.apiVersion ?? SHOPIFY_API_VERSION);
  const field = usesUri(version) ? 'uri' : 'callbackUrl';
  const client = new ShopifyClient(conn, ctx);
  const gql = new ShopifyGraphql(client.http, `/admin/api/${version}`, conn.name, conn.http);
  return {
    async list(signal) {
      const out: WebhookSubscription[] = [];
      let after: string | null = null;
      for (let page = 0; ; page++) {
        if (page >= MAX_SUBSCRIPTION_PAGES) throw new RemoteRejectedError(`${conn.name}: more than ${MAX_SUBSCRIPTION_PAGES * PAGE} webhook subscriptions; not read further`);
        const data: Record<string, any> = await gql.query(listQuery(field), { first: PAGE, after }, signal);
        const c = data.webhookSubscriptions;
        if (!c || !Array.isArray(c.nodes) || !c.pageInfo) throw listShapeError(conn.name, 'webhookSubscriptions', data);
        out.push(...(c.nodes as Node[]).map((n) => toSubscription(n, field)));
        if (!c.pageInfo.hasNextPage || !c.pageInfo.endCursor) return out;
        after = c.pageInfo.endCursor;
      }
    },
    async ensure({ url, missing, ours, signal }) {
      const changes = await createEachTopic(missing, async (topic) => {
        const data = await gql.query(createMutation(field), { topic, webhookSubscription: { [field]: url, format: 'JSON' } }, signal);
        const r = data.webhookSubscriptionCreate;
        const errors = (r?.userErrors ?? []) as { field?: string[] | null; message?: string }[];
        if (errors.length) {
          throw new RemoteRejectedError(`${conn.name}: webhookSubscriptionCreate ${topic} refused: ${errors.map((e) => `${e.field?.length ? `${e.field.join('.')}: ` : ''}${e.message}`).join('; ')}`, { details: { userErrors: errors } });
        }
        if (!r?.webhookSubscription?.id) throw listShapeError(conn.name, 'webhookSubscriptionCreate', data);
        return toSubscription(r.webhookSubscription, field);
      });
      const notes = ours.filter((s) => s.status).map((s) => `${s.id} (${s.topics[0]}) delivers ${s.status}: the hub takes JSON only; delete it in the app and run subscribe again`);
      if (!shopifyWebhookSecret(conn.credentials)) notes.push(`set connections.${conn.name}.credentials.webhookSecret (the app's client secret) or clientSecret: without it the hub refuses Shopify's deliveries`);
      return { changes, notes };
    },
  };
}

export const shopifySubscriptionSupport: WebhookSubscriptionSupport = {
  howTo: 'synchub webhooks subscribe creates shop-scoped subscriptions with webhookSubscriptionCreate (GraphQL Admin API)',
  topics: (entity) => TOPICS[entity] ?? [],
  open: shopifySubscriptions,
};
