import type { AuthProvider } from '../http.js';
import { OAuthTokenProvider } from '../oauth.js';
import { RedisTokenStore } from '../token-store.js';
import type { Connection, ConnectorContext, JsonSchema } from '../types.js';

/**
 * The ways a HubSpot connection authenticates, chosen by which credentials are set:
 * - `static`: `accessToken` alone, a bearer token that does not expire: a Service Key
 *   (Development → Keys → Service keys; REST calls only, no webhooks), the static token of a
 *   project app installed in one account, or an existing legacy private app's token (legacy
 *   private apps can no longer be created since 2026-10-26, changelog "Legacy Private App
 *   Creation Being Disabled");
 * - `refresh_token`: `clientId` + `clientSecret` + `refreshToken` of a project app with OAuth
 *   ("Manage OAuth access tokens with the 2026-03 API"): the authorization code is exchanged once,
 *   outside the hub, for an access and a refresh token; the hub then asks
 *   `POST /oauth/2026-03/token` (form-encoded, every parameter in the body) with
 *   `grant_type=refresh_token` for access tokens, which expire after 30 minutes (`expires_in`).
 *   A refresh token HubSpot answers replaces the one sent; `accessToken` may be set too and is
 *   used until it is refused.
 * The v1 token endpoint (`/oauth/v1/token`) is deprecated on 2027-02-16 (changelog "v1 OAuth API
 * Deprecation"), so the hub never calls it.
 */
export type HubspotAuthMode = 'static' | 'refresh_token';

export const HUBSPOT_TOKEN_PATH = '/oauth/2026-03/token';

export const hubspotCredentialsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  // The combinations hubspotAuthMode accepts (checked at start-up).
  description: 'One of two combinations, checked at start-up: `accessToken` alone (a Service Key, a project app\'s static token or a legacy private app token; `clientSecret` beside it verifies webhooks); or `clientId` + `clientSecret` + `refreshToken` (a project app with OAuth; `accessToken` optional).',
  // What a new account connects with today: a Service Key (`synchub init` writes this).
  examples: [{ accessToken: '${HUBSPOT_SERVICE_KEY}' }],
  properties: {
    accessToken: {
      type: 'string', minLength: 1,
      description: 'Bearer token: a Service Key, a project app\'s static token, or an existing legacy private app token; beside refreshToken, the current OAuth access token (optional)',
      examples: ['${HUBSPOT_SERVICE_KEY}'],
    },
    clientId: { type: 'string', minLength: 1, description: "The project app's client ID (app details → Auth), for the refresh-token grant", examples: ['${HUBSPOT_CLIENT_ID}'] },
    clientSecret: {
      type: 'string', minLength: 1,
      description: "The app's client secret: signs webhooks (v3 signature) and, with clientId and refreshToken, authenticates token requests; without it the connection takes no webhooks",
      examples: ['${HUBSPOT_CLIENT_SECRET}'],
    },
    refreshToken: {
      type: 'string', minLength: 1,
      description: 'OAuth refresh token from the one-time authorization-code exchange; the hub keeps the current one sealed in Redis (a new value here replaces the stored one)',
      examples: ['${HUBSPOT_REFRESH_TOKEN}'],
    },
  },
};

/** The mode the credentials select, or the problems of a combination that selects none (`credentials.x: …`). */
export function hubspotAuthMode(credentials: Record<string, string | undefined>): { mode?: HubspotAuthMode; problems: string[] } {
  const { accessToken, clientId, clientSecret, refreshToken } = credentials;
  const problems: string[] = [];
  if (refreshToken) {
    if (!clientId) problems.push('credentials.clientId: is required with credentials.refreshToken (the refresh-token grant authenticates with the app\'s client ID and secret)');
    if (!clientSecret) problems.push('credentials.clientSecret: is required with credentials.refreshToken (the refresh-token grant authenticates with the app\'s client ID and secret)');
    return problems.length ? { problems } : { mode: 'refresh_token', problems };
  }
  if (clientId) {
    return { problems: ['credentials.refreshToken: is required with credentials.clientId (an OAuth app needs the refresh token of its authorization-code exchange; a Service Key or static token goes in accessToken alone)'] };
  }
  if (!accessToken) {
    return { problems: ['credentials: set accessToken (a Service Key or an app\'s static token), or clientId + clientSecret + refreshToken (a project app with OAuth)'] };
  }
  return { mode: 'static', problems };
}

function tokenLockMs(conn: Connection): number {
  const { timeoutMs, retries, maxInlineWaitMs } = conn.http;
  return (timeoutMs + maxInlineWaitMs) * (retries + 1) + 10_000;
}

/** The token provider of an OAuth connection; undefined for a static token. */
export function hubspotAuth(conn: Connection, ctx: ConnectorContext): AuthProvider | undefined {
  const c = conn.credentials;
  const { mode } = hubspotAuthMode(c);
  if (mode !== 'refresh_token') return undefined;
  const shared = ctx.shared;
  // A rotated refresh token kept only in memory would be lost with the process.
  if (!shared) throw new Error(`connection ${conn.name}: the refresh-token grant needs the hub's Redis to keep the current refresh token`);
  return new OAuthTokenProvider({
    connection: conn.name,
    tokenUrl: `${conn.baseUrl}${HUBSPOT_TOKEN_PATH}`,
    grant: 'refresh_token',
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    refreshToken: c.refreshToken,
    initialToken: c.accessToken,
    settings: conn.http,
    logger: ctx.logger,
    // The lock outlasts the longest token request, so it never lapses while a refresh token is in flight.
    store: new RedisTokenStore(shared.redis, shared.prefix, shared.keyring, conn.name, tokenLockMs(conn)),
  });
}
