import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { HttpClient } from '../http.js';
import { createEachTopic, listShapeError } from '../webhook-subscriptions.js';
import type { Connection, ConnectorContext, JsonSchema, WebhookSubscription, WebhookSubscriptionApi, WebhookSubscriptionSupport } from '../types.js';
import { DEFAULT_PROPERTIES } from './client.js';

/**
 * HubSpot webhook subscriptions, only where the app type has an API for them: legacy public apps,
 * through the webhooks API v3 with the developer API key (`hapikey`): `GET/PUT /webhooks/v3/{appId}/settings`
 * (the app's one `targetUrl`) and `GET/POST /webhooks/v3/{appId}/subscriptions` (`eventType`,
 * `propertyName` for property changes, `active`). developers.hubspot.com: "Webhooks API guide"
 * (api-reference/legacy/webhooks/guide; "can only be used with legacy public apps"), legacy
 * webhooks settings and subscriptions reference. Project-based apps declare their webhooks in the
 * project (webhooks/*-hsmeta.json, configure-webhooks), legacy private apps in their settings page
 * ("cannot currently be edited through the API"), and Service Keys have no webhooks: for those the
 * command is not_supported and says how. Subscriptions are per app, for every installing account.
 */

export const hubspotSubscriptionOptions: Record<string, JsonSchema> = {
  appId: { type: 'string', pattern: '^\\d+$', description: 'Id of the legacy public app whose webhooks `synchub webhooks` manages (with credentials.developerApiKey)', examples: ['1234567'] },
};

export const hubspotSubscriptionCredentials: Record<string, JsonSchema> = {
  developerApiKey: { type: 'string', minLength: 1, description: 'Developer API key of the developer account that owns the legacy public app (options.appId); only `synchub webhooks` uses it', examples: ['${HUBSPOT_DEVELOPER_API_KEY}'] },
};

const HOW = 'HubSpot has a webhooks API only for legacy public apps: set options.appId and credentials.developerApiKey for one. '
  + 'A project-based app declares its webhooks in the project (src/app/webhooks/webhooks-hsmeta.json: settings.targetUrl = <server.publicUrl>/webhooks/<connection>, '
  + 'subscriptions object.creation and object.propertyChange for contact and deal) and deploys them with `hs project upload`; '
  + 'a legacy private app sets them in its settings page (Webhooks tab); Service Keys have no webhooks';

/** Read-only properties: a change to them is not an edit anyone makes. */
const NOT_WATCHED = new Set(['createdate', 'lastmodifieddate', 'hs_lastmodifieddate']);

function hubspotTopics(entity: Entity, conn: Connection): string[] {
  const props = (conn.options.properties ?? {}) as { customer?: string[]; order?: string[] };
  if (entity === 'customer') return ['contact.creation', 'contact.deletion', ...(props.customer ?? DEFAULT_PROPERTIES.customer).filter((p) => !NOT_WATCHED.has(p)).map((p) => `contact.propertyChange:${p}`)];
  if (entity === 'order') {
    const idProperty = String(conn.options.orderIdProperty ?? 'synchub_order_number');
    const watched = [...new Set([...(props.order ?? DEFAULT_PROPERTIES.order), idProperty])].filter((p) => !NOT_WATCHED.has(p));
    return ['deal.creation', 'deal.deletion', ...watched.map((p) => `deal.propertyChange:${p}`)];
  }
  return [];
}

interface Sub { id?: string | number; eventType?: string; propertyName?: string; active?: boolean }
interface Settings { targetUrl?: string }

function hubspotSubscriptions(conn: Connection, ctx: ConnectorContext): WebhookSubscriptionApi {
  const appId = conn.options.appId as string | undefined;
  const key = conn.credentials.developerApiKey;
  if (!appId || !key) throw new NotSupportedError(`webhook subscriptions of connection ${conn.name} through the HubSpot API`, HOW);
  const http = new HttpClient({
    connection: conn.name, baseURL: conn.baseUrl!, settings: conn.http, logger: ctx.logger,
    headers: { 'content-type': 'application/json' },
    // The developer key rides in the query string, which error messages and logs leave out.
    defaultParams: { hapikey: key },
    describeError: (res) => (res.data as { message?: string })?.message,
  });
  const base = `/webhooks/v3/${encodeURIComponent(appId)}`;
  let targetUrl: string | undefined;
  const settings = async (signal?: AbortSignal) => {
    const res = await http.request<Settings>({ method: 'GET', url: `${base}/settings`, signal, accept: [404] });
    targetUrl = res.status === 404 ? undefined : res.data?.targetUrl || undefined;
    return targetUrl;
  };
  const toSubscription = (s: Sub): WebhookSubscription => ({
    id: String(s.id), topics: [`${s.eventType}${s.propertyName ? `:${s.propertyName}` : ''}`], url: targetUrl ?? '(the app has no target URL yet)', status: s.active === false ? 'inactive' : 'active',
  });
  return {
    async list(signal) {
      await settings(signal);
      const res = await http.request<{ results?: Sub[] }>({ method: 'GET', url: `${base}/subscriptions`, signal });
      if (!Array.isArray(res.data?.results)) throw listShapeError(conn.name, `GET ${base}/subscriptions`, res.data);
      return res.data.results.map(toSubscription);
    },
    async ensure({ url, missing: missingAtUrl, ours, listed, signal }) {
      const notes = ours.filter((s) => s.status === 'inactive').map((s) => `subscription ${s.id} (${s.topics[0]}) is paused: activate it in the app's Webhooks settings or HubSpot sends nothing for it`);
      const current = await settings(signal);
      if (current && current !== url) {
        throw new RemoteRejectedError(`${conn.name}: HubSpot app ${appId} delivers every webhook to ${current}, and an app has one target URL; synchub does not move another consumer's URL. If the hub is its only consumer, set the target URL to ${url} in the app's Webhooks settings, then run subscribe again`);
      }
      let missing = missingAtUrl;
      if (!current) {
        await http.request({ method: 'PUT', url: `${base}/settings`, data: { targetUrl: url, throttling: { maxConcurrentRequests: 10 } }, signal });
        targetUrl = url;
        notes.push(`set app ${appId}'s webhook target URL to ${url}`);
        // The app's subscriptions had no URL to deliver to; from now on they deliver to the hub.
        const had = new Set(listed.flatMap((s) => s.topics));
        missing = missing.filter((t) => !had.has(t));
      }
      const changes = await createEachTopic(missing, async (topic) => {
        const [eventType, propertyName] = topic.split(':');
        const res = await http.request<Sub>({ method: 'POST', url: `${base}/subscriptions`, data: { eventType, ...(propertyName ? { propertyName } : {}), active: true }, signal });
        if (res.data?.id === undefined) throw listShapeError(conn.name, `POST ${base}/subscriptions`, res.data);
        return toSubscription(res.data);
      });
      if (!conn.credentials.clientSecret) notes.push(`set connections.${conn.name}.credentials.clientSecret (the app's client secret): the hub verifies HubSpot's v3 signatures with it`);
      return { changes, notes };
    },
  };
}

export const hubspotSubscriptionSupport: WebhookSubscriptionSupport = {
  howTo: HOW,
  topics: hubspotTopics,
  url: (conn) => conn.options.webhookUrl as string | undefined,
  open: hubspotSubscriptions,
};
