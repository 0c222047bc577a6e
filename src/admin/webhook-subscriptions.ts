import type { HubConfig } from '../config/load.js';
import { ConfigError, NotSupportedError } from '../core/errors.js';
import type {
  ConnectorContext, ConnectorDefinition, EnsureSubscriptionsResult, WebhookSubscription, WebhookSubscriptionApi,
} from '../connectors/types.js';

/**
 * `synchub webhooks list|subscribe <connection>`: what a connection's provider delivers to the hub,
 * and the subscriptions the config's pipelines need, made idempotently. The provider is asked
 * first; nothing a listed subscription already covers is created, and subscriptions pointing
 * elsewhere or carrying topics no pipeline needs are reported, never changed or deleted.
 */

/** Where providers post a connection's webhooks: `server.publicUrl` + the webhook route (src/routes/webhooks.ts). */
export function hubWebhookUrl(config: HubConfig, connection: string): string {
  const own = config.connectorOf(connection).webhookSubscriptions?.url?.(config.connections.get(connection)!);
  if (own) return own;
  const base = config.server.publicUrl;
  if (!base) {
    throw new ConfigError([`server.publicUrl: is required by \`synchub webhooks\`: the public https origin providers post to (the hub receives them at <publicUrl>/webhooks/${connection}), e.g. https://hub.example.com`], config.file);
  }
  // A path in publicUrl (a proxy that mounts the hub under /synchub) is kept.
  return new URL(`webhooks/${encodeURIComponent(connection)}`, base.endsWith('/') ? base : `${base}/`).href;
}

/** The provider's topics the pipelines taking webhooks from this connection listen to, in config order. */
export function neededTopics(config: HubConfig, connection: string): string[] {
  const def = config.connectorOf(connection);
  const conn = config.connections.get(connection)!;
  const topics = new Set<string>();
  for (const p of config.pipelines.values()) {
    if (!p.webhooks || p.source.connection !== connection) continue;
    for (const t of def.webhookSubscriptions?.topics?.(p.source.entity, conn) ?? []) topics.add(t);
  }
  return [...topics];
}

/** Two URLs name the same endpoint when they parse to the same href (case of the host, default port). */
export function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}

export interface SubscriptionView {
  /** The hub's URL for this connection. */
  url: string;
  /** Topics the pipelines need. */
  wanted: string[];
  /** Subscriptions delivering to the hub's URL. */
  ours: WebhookSubscription[];
  /** Subscriptions delivering somewhere else (other apps, an old hub address): reported, not touched. */
  elsewhere: WebhookSubscription[];
  /** Topics some subscription at the hub's URL delivers that no pipeline needs: reported, not touched. */
  unneeded: { topic: string; subscription: WebhookSubscription }[];
  /** Wanted topics no subscription at the hub's URL delivers. */
  missing: string[];
}

export interface SubscribeReport extends SubscriptionView, EnsureSubscriptionsResult {}

function connectorFor(config: HubConfig, connection: string): ConnectorDefinition {
  if (!config.connections.has(connection)) {
    throw new ConfigError([`connections.${connection}: no such connection (have: ${[...config.connections.keys()].join(', ') || 'none'})`], config.file);
  }
  return config.connectorOf(connection);
}

/** The hub URL when the config has what it takes (a how-to is still worth showing without it). */
function knownUrl(config: HubConfig, connection: string): string | undefined {
  try {
    return hubWebhookUrl(config, connection);
  } catch {
    return undefined;
  }
}

/** The how-to texts name `<server.publicUrl>/webhooks/<connection>`: filled in with this connection's URL when known. */
function fillUrl(text: string, connection: string, url: string | undefined): string {
  const filled = url ? text.replaceAll('<server.publicUrl>/webhooks/<connection>', url) : text;
  return filled.replaceAll('<connection>', connection);
}

/** The provider's subscriptions API for this connection, or not_supported saying how subscriptions are made instead. */
export function openSubscriptions(config: HubConfig, connection: string, ctx: ConnectorContext): WebhookSubscriptionApi {
  const def = connectorFor(config, connection);
  const support = def.webhookSubscriptions;
  if (!support?.open) {
    const how = support?.howTo ?? 'set up deliveries to the hub in the provider\u2019s own console';
    throw new NotSupportedError(`webhook subscriptions through the ${def.title} API`, fillUrl(how, connection, knownUrl(config, connection)));
  }
  try {
    return support.open(config.connections.get(connection)!, ctx);
  } catch (err) {
    // An app type without the API (HubSpot's project-based apps) says how, with this connection's URL.
    if (err instanceof NotSupportedError && err.how) throw new NotSupportedError(err.what, fillUrl(err.how, connection, knownUrl(config, connection)));
    throw err;
  }
}

export function classify(url: string, wanted: string[], listed: WebhookSubscription[]): SubscriptionView {
  const ours = listed.filter((s) => sameUrl(s.url, url));
  const elsewhere = listed.filter((s) => !sameUrl(s.url, url));
  const covered = new Set(ours.flatMap((s) => s.topics));
  const want = new Set(wanted);
  const unneeded = ours.flatMap((s) => s.topics.filter((t) => !want.has(t)).map((topic) => ({ topic, subscription: s })));
  // '*' (Stripe's enabled_events, PayPal's event_types) delivers every event.
  return { url, wanted, ours, elsewhere, unneeded, missing: covered.has('*') ? [] : wanted.filter((t) => !covered.has(t)) };
}

export async function listWebhookSubscriptions(config: HubConfig, connection: string, ctx: ConnectorContext, signal?: AbortSignal): Promise<SubscriptionView> {
  const api = openSubscriptions(config, connection, ctx);
  const url = hubWebhookUrl(config, connection);
  return classify(url, neededTopics(config, connection), await api.list(signal));
}

/**
 * Lists, then creates only what is missing. `keepsSecret` says the caller can hand a one-time
 * secret to the user (a file or stdout they asked for): a provider that returns its signing secret
 * only on creation refuses to create without it, so no secret is ever lost or logged.
 */
export async function subscribeWebhooks(config: HubConfig, connection: string, ctx: ConnectorContext, opts: { keepsSecret: boolean; signal?: AbortSignal }): Promise<SubscribeReport> {
  const api = openSubscriptions(config, connection, ctx);
  const url = hubWebhookUrl(config, connection);
  const wanted = neededTopics(config, connection);
  if (!wanted.length) {
    throw new ConfigError([`pipelines: no pipeline takes webhooks from connection ${connection} (set webhooks: true on a pipeline whose source.connection is ${connection})`], config.file);
  }
  const listed = await api.list(opts.signal);
  const view = classify(url, wanted, listed);
  const result = await api.ensure({ url, wanted, missing: view.missing, ours: view.ours, listed, keepsSecret: opts.keepsSecret, signal: opts.signal });
  return { ...view, ...result };
}
