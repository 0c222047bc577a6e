import { X509Certificate } from 'node:crypto';
import { HUBSPOT_LEGACY_UNSUPPORTED, HUBSPOT_LEGACY_VERSION, hubspotVersionUnsupportedOn } from '../connectors/hubspot/versions.js';
import type { Connection } from '../connectors/types.js';

/**
 * What a connection uses that its provider has deprecated, with the date it stops working where
 * the provider gives one. Warnings only: `synchub check` prints them, the hub runs as before.
 * Each rule names the provider's page it follows.
 */
export interface DeprecationWarning {
  /** Config path of the setting, e.g. `connections.crm.apiVersion`. */
  path: string;
  /** Stable rule id, e.g. `hubspot-v3`. */
  rule: string;
  message: string;
  /** When it stops working or goes unsupported (`YYYY-MM-DD`, or `YYYY-MM` when the provider names only the month); absent when none is announced. */
  until?: string;
}

type Rule = (conn: Connection, now: Date) => DeprecationWarning | undefined;

/** How long ahead a coming end of support is worth a warning. */
const SOON_MS = 183 * 24 * 3600 * 1000;

const day = (d: Date) => d.toISOString().slice(0, 10);

/** HubSpot changelog "Legacy APIs and Apps: What's Going Unsupported and When": v1–v3 unsupported from September 2027. */
const hubspotV3: Rule = (conn) => {
  if (conn.connector !== 'hubspot' || conn.options.apiVersion !== HUBSPOT_LEGACY_VERSION) return undefined;
  return {
    path: `connections.${conn.name}.apiVersion`, rule: 'hubspot-v3', until: HUBSPOT_LEGACY_UNSUPPORTED,
    message: 'HubSpot v1–v3 APIs go unsupported in September 2027: remove apiVersion (default: the newest dated version) or set a dated one',
  };
};

/** "Developer platform and API versioning": a dated version is unsupported 18 months after its GA. */
const hubspotDatedAging: Rule = (conn, now) => {
  if (conn.connector !== 'hubspot') return undefined;
  const until = hubspotVersionUnsupportedOn(String(conn.options.apiVersion ?? ''));
  if (!until || Date.parse(until) - now.getTime() > SOON_MS) return undefined;
  const past = Date.parse(until) <= now.getTime();
  return {
    path: `connections.${conn.name}.apiVersion`, rule: 'hubspot-dated-version', until,
    message: `HubSpot API version ${String(conn.options.apiVersion)} ${past ? 'has been unsupported since' : 'goes unsupported on'} ${until}: move to a newer dated version`,
  };
};

/** shopify.dev "About REST Admin API versioning" / changelog: REST is legacy since 2024-10-01; no date for it to stop working. */
const shopifyRest: Rule = (conn) => {
  if (conn.connector !== 'shopify' || conn.options.api !== 'rest') return undefined;
  return {
    path: `connections.${conn.name}.api`, rule: 'shopify-rest',
    message: "Shopify's REST Admin API is legacy since 2024-10-01 (new public apps must use GraphQL since 2025-04-01); Shopify has announced no date it stops working: set api: graphql",
  };
};

/** shopify.dev "About API versioning": each stable version (released on the 1st of its month) is supported at least 12 months. */
export function shopifyVersionSupportedUntil(version: string): string | undefined {
  const m = /^(\d{4})-(\d{2})$/.exec(version);
  if (!m) return undefined;
  return `${Number(m[1]) + 1}-${m[2]}-01`;
}

const shopifyVersion: Rule = (conn, now) => {
  if (conn.connector !== 'shopify') return undefined;
  const until = shopifyVersionSupportedUntil(String(conn.options.apiVersion ?? ''));
  if (!until || Date.parse(until) - now.getTime() > SOON_MS) return undefined;
  const past = Date.parse(until) <= now.getTime();
  return {
    path: `connections.${conn.name}.apiVersion`, rule: 'shopify-api-version', until,
    message: past
      ? `Shopify API version ${String(conn.options.apiVersion)} has been out of support since ${until}: Shopify answers such calls with the oldest supported version instead (fall forward); pin a supported version`
      : `Shopify API version ${String(conn.options.apiVersion)} is supported until ${until}: move to a newer version before then`,
  };
};

/** docs.stripe.com changelog: the current major is Endive (2026-09-30); older pinned versions keep working, with older shapes. */
export const STRIPE_CURRENT_MAJOR = { name: 'endive', date: '2026-09-30' };

const stripeVersion: Rule = (conn) => {
  if (conn.connector !== 'stripe') return undefined;
  const version = String(conn.options.apiVersion ?? '');
  const date = /^(\d{4}-\d{2}-\d{2})/.exec(version)?.[1];
  if (!date || date >= STRIPE_CURRENT_MAJOR.date) return undefined;
  return {
    path: `connections.${conn.name}.apiVersion`, rule: 'stripe-api-version',
    message: `Stripe-Version ${version} is older than the current major release (${STRIPE_CURRENT_MAJOR.date}.${STRIPE_CURRENT_MAJOR.name}); Stripe has announced no date it stops working, but objects come in its older shapes: remove apiVersion to use the hub's default`,
  };
};

/**
 * WeChat Pay (pay.weixin.qq.com "微信支付公钥"; community notice of 2025-03): merchants since
 * 2025-03-01 get the WeChat Pay public key (serial `PUB_KEY_ID_…`), not platform certificates;
 * a platform certificate is valid 5 years and stops verifying when it expires.
 */
const wechatpayCertificatesOnly: Rule = (conn) => {
  if (conn.connector !== 'wechatpay') return undefined;
  const c = conn.credentials as Record<string, unknown>;
  const keys: Record<string, string> = { ...((c.platformKeys as Record<string, string> | undefined) ?? {}) };
  if (typeof c.platformSerial === 'string' && typeof c.platformPublicKey === 'string') keys[c.platformSerial] = c.platformPublicKey;
  const serials = Object.keys(keys);
  if (!serials.length || serials.some((s) => s.startsWith('PUB_KEY_ID_'))) return undefined;
  let latest: Date | undefined;
  for (const pem of Object.values(keys)) {
    try {
      const to = new Date(new X509Certificate(pem).validTo);
      if (!latest || to > latest) latest = to;
    } catch {
      // A bare public key carries no expiry.
    }
  }
  return {
    path: `connections.${conn.name}.credentials.${c.platformKeys ? 'platformKeys' : 'platformSerial'}`, rule: 'wechatpay-platform-certificates', ...(latest ? { until: day(latest) } : {}),
    message: `WeChat Pay verifies with platform certificates only: WeChat Pay is moving merchants to the WeChat Pay public key (PUB_KEY_ID_…)${latest ? `, and the newest certificate here expires on ${day(latest)}` : ''}; add the public key to platformKeys beside the certificates before switching`,
  };
};

export const DEPRECATION_RULES: readonly Rule[] = [hubspotV3, hubspotDatedAging, shopifyRest, shopifyVersion, stripeVersion, wechatpayCertificatesOnly];

/** Every warning for the connections of a loaded config. */
export function deprecationWarnings(connections: Iterable<Connection>, now = new Date()): DeprecationWarning[] {
  const out: DeprecationWarning[] = [];
  for (const conn of connections) {
    for (const rule of DEPRECATION_RULES) {
      const w = rule(conn, now);
      if (w) out.push(w);
    }
  }
  return out;
}
