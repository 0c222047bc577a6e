import type { AuthProvider } from '../http.js';
import { OAuthTokenProvider } from '../oauth.js';
import { RedisTokenStore } from '../token-store.js';
import type { Connection, ConnectorContext, JsonSchema } from '../types.js';

/**
 * The three ways a Shopify connection authenticates, chosen by which credentials are set:
 * - `static`: `accessToken` alone, an admin-created custom app's `shpat_` token (no more such apps since 2026-01-01);
 * - `client_credentials`: `clientId` + `clientSecret` of a Dev Dashboard app installed on a store of the
 *   organisation; tokens from the client credentials grant, which expire after about 24 hours;
 * - `refresh_token`: `accessToken` + `refreshToken` + `clientId` + `clientSecret`, an expiring offline token
 *   (about 60 minutes) whose refresh token rotates on every refresh.
 * Every call carries the token in `X-Shopify-Access-Token`. The token endpoint of both grants is
 * `POST https://{shop}.myshopify.com/admin/oauth/access_token` (form-encoded).
 */
export type ShopifyAuthMode = 'static' | 'client_credentials' | 'refresh_token';

export const SHOPIFY_TOKEN_HEADER = 'x-shopify-access-token';

export const shopifyCredentialsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  // The combinations shopifyAuthMode accepts (checked at start-up; a schema keyword would report them less clearly).
  description: 'One of three combinations, checked at start-up: `accessToken` alone (an admin-created custom app\'s static `shpat_` token); `clientId` + `clientSecret` (a Dev Dashboard app on a store of your own organisation, client credentials grant); or `accessToken` + `refreshToken` + `clientId` + `clientSecret` (an expiring offline token from an OAuth install). `webhookSecret` may go with any of them.',
  // What a new store connects with today: a Dev Dashboard app's client credentials (`synchub init` writes these).
  examples: [{ clientId: '${SHOPIFY_CLIENT_ID}', clientSecret: '${SHOPIFY_CLIENT_SECRET}' }],
  properties: {
    accessToken: { type: 'string', minLength: 1, description: 'Admin API access token: a static `shpat_` token alone, or the expiring offline token beside refreshToken', examples: ['shpat_…'] },
    clientId: { type: 'string', minLength: 1, description: "The app's client ID (Dev Dashboard → app → Settings)", examples: ['${SHOPIFY_CLIENT_ID}'] },
    clientSecret: { type: 'string', minLength: 1, description: "The app's client secret; it also verifies webhooks when webhookSecret is not set", examples: ['${SHOPIFY_CLIENT_SECRET}'] },
    refreshToken: { type: 'string', minLength: 1, description: 'Refresh token of an expiring offline access token (it rotates; the hub keeps the current one sealed in Redis)', examples: ['${SHOPIFY_REFRESH_TOKEN}'] },
    webhookSecret: { type: 'string', minLength: 1, description: "The secret that signs webhooks (the app's client secret); without it, or clientSecret, the connection takes no webhooks", examples: ['${SHOPIFY_WEBHOOK_SECRET}'] },
  },
};

/** The mode the credentials select, or the problems of a combination that selects none (`credentials.x: …`). */
export function shopifyAuthMode(credentials: Record<string, string | undefined>): { mode?: ShopifyAuthMode; problems: string[] } {
  const { accessToken, clientId, clientSecret, refreshToken } = credentials;
  const problems: string[] = [];
  if (refreshToken) {
    for (const [name, v] of Object.entries({ accessToken, clientId, clientSecret })) {
      if (!v) problems.push(`credentials.${name}: is required with credentials.refreshToken (an expiring offline token is refreshed with the app's client ID and secret)`);
    }
    return problems.length ? { problems } : { mode: 'refresh_token', problems };
  }
  if (clientId || clientSecret) {
    if (!clientId) problems.push('credentials.clientId: is required with credentials.clientSecret (client credentials grant)');
    if (!clientSecret) problems.push('credentials.clientSecret: is required with credentials.clientId (client credentials grant)');
    if (accessToken) {
      problems.push('credentials.accessToken: set it alone (static token), with refreshToken + clientId + clientSecret (expiring offline token), or leave it out for the client credentials grant (clientId + clientSecret)');
    }
    return problems.length ? { problems } : { mode: 'client_credentials', problems };
  }
  if (!accessToken) return { problems: ['credentials: set accessToken (static token), clientId + clientSecret (Dev Dashboard app, client credentials grant), or accessToken + refreshToken + clientId + clientSecret (expiring offline token)'] };
  return { mode: 'static', problems };
}

/** The webhook signing secret: webhookSecret, else the app's client secret (they are the same in Dev Dashboard apps). */
export function shopifyWebhookSecret(credentials: Record<string, string | undefined>): string | undefined {
  return credentials.webhookSecret ?? credentials.clientSecret;
}

function tokenLockMs(conn: Connection): number {
  const { timeoutMs, retries, maxInlineWaitMs } = conn.http;
  return (timeoutMs + maxInlineWaitMs) * (retries + 1) + 10_000;
}

/** Static headers or a token provider for the connection's HTTP client. */
export function shopifyAuth(conn: Connection, ctx: ConnectorContext): { headers: Record<string, string>; auth?: AuthProvider } {
  const c = conn.credentials;
  const { mode } = shopifyAuthMode(c);
  if (mode === 'static' || !mode) return { headers: { [SHOPIFY_TOKEN_HEADER]: c.accessToken } };
  const shared = ctx.shared;
  // A rotated refresh token kept only in memory would be lost with the process.
  if (mode === 'refresh_token' && !shared) throw new Error(`connection ${conn.name}: an expiring offline token needs the hub's Redis to keep its rotating refresh token`);
  const auth = new OAuthTokenProvider({
    connection: conn.name,
    tokenUrl: `${conn.baseUrl}/admin/oauth/access_token`,
    grant: mode,
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    refreshToken: mode === 'refresh_token' ? c.refreshToken : undefined,
    initialToken: mode === 'refresh_token' ? c.accessToken : undefined,
    headerName: SHOPIFY_TOKEN_HEADER,
    settings: conn.http,
    logger: ctx.logger,
    // The lock outlasts the longest token request (every attempt timing out, plus backoff), so it
    // never lapses while a refresh token is in flight and a second process sends it again.
    store: shared ? new RedisTokenStore(shared.redis, shared.prefix, shared.keyring, conn.name, tokenLockMs(conn)) : undefined,
  });
  return { headers: {}, auth };
}
