import type { Entity } from '../../core/canonical/schemas.js';
import { scrubText } from '../../core/redact.js';
import type { ConnectionNotices } from '../notices.js';
import type { ConnectionUse } from '../types.js';
import type { ShopifyGraphql } from './graphql.js';

/**
 * The access scopes the app was granted on the shop, and what a missing one breaks.
 * - `currentAppInstallation { accessScopes { handle } }` lists the granted scopes
 *   (shopify.dev objects/AppInstallation, objects/AccessScope).
 * - "Any scope that writes a resource also grants read access to it" (shopify.dev
 *   api/usage/access-scopes): write_orders covers read_orders.
 * - "Only the last 60 days' worth of orders from a store are accessible from the Order
 *   object by default"; older ones need read_all_orders beside read_orders (shopify.dev
 *   objects/Order). A full order pull without it ends at 60 days without any error, so
 *   it is said on the run, in the log and in the admin API.
 */

export const ACCESS_SCOPES_QUERY = `query SynchubAccessScopes { currentAppInstallation { accessScopes { handle } } }`;

/** The scope each use of a connection needs. */
const NEEDS: Record<ConnectionUse['role'], Partial<Record<Entity, string>>> = {
  source: { order: 'read_orders', customer: 'read_customers' },
  target: { order: 'write_orders', customer: 'write_customers' },
};
const DOING: Record<ConnectionUse['role'], string> = { source: 'pull', target: 'write back' };

/** How long granted scopes are taken as known: a merchant may grant more meanwhile. */
const SCOPES_TTL_MS = 10 * 60_000;

export function hasScope(granted: ReadonlySet<string>, scope: string): boolean {
  if (granted.has(scope)) return true;
  return scope.startsWith('read_') && granted.has(`write_${scope.slice('read_'.length)}`);
}

export async function readGrantedScopes(graphql: ShopifyGraphql, signal?: AbortSignal): Promise<Set<string>> {
  const data = await graphql.query<{ currentAppInstallation?: { accessScopes?: { handle?: unknown }[] } | null }>(ACCESS_SCOPES_QUERY, {}, signal);
  const scopes = data.currentAppInstallation?.accessScopes;
  if (!Array.isArray(scopes)) throw new Error('currentAppInstallation has no accessScopes');
  return new Set(scopes.map((s) => s?.handle).filter((h): h is string => typeof h === 'string' && h.length <= 100));
}

export const SIXTY_DAYS = 'the app lacks the read_all_orders scope: Shopify shows it only the orders of the last 60 days, so a full order pull cannot see older orders (request read_all_orders for the app, then run the pipeline with --full)';

/** Which missing scope breaks which pipeline (problems), and what a pipeline will not see (notices). */
export function scopeReport(granted: ReadonlySet<string>, uses: ConnectionUse[]): { problems: string[]; notices: string[] } {
  const problems: string[] = [];
  const notices: string[] = [];
  for (const use of uses) {
    const need = NEEDS[use.role][use.entity];
    if (need && !hasScope(granted, need)) problems.push(`missing scope ${need}: pipeline ${use.pipeline} cannot ${DOING[use.role]} ${use.entity}s`);
  }
  const orderPulls = uses.filter((u) => u.role === 'source' && u.entity === 'order').map((u) => u.pipeline);
  if (orderPulls.length && !granted.has('read_all_orders')) notices.push(`${SIXTY_DAYS} (pipeline ${orderPulls.join(', ')})`);
  return { problems, notices };
}

/** The granted scopes of one connection, read when first needed and kept a while. */
export class ShopifyScopes {
  private cached?: { at: number; scopes: Promise<Set<string>> };

  constructor(private readonly graphql: ShopifyGraphql, private readonly notices: ConnectionNotices) {}

  granted(signal?: AbortSignal): Promise<Set<string>> {
    if (!this.cached || Date.now() - this.cached.at > SCOPES_TTL_MS) {
      const scopes = readGrantedScopes(this.graphql, signal);
      this.cached = { at: Date.now(), scopes };
      scopes.catch(() => { this.cached = undefined; });
    }
    return this.cached.scopes;
  }

  /**
   * The notice of a full order pull: the 60-day limit when read_all_orders is missing, or,
   * when the scopes cannot be read, that it could not be ruled out. The pull goes on either way.
   */
  async fullOrderPullNotice(signal?: AbortSignal): Promise<string | undefined> {
    let granted: Set<string>;
    try {
      granted = await this.granted(signal);
    } catch (err) {
      const message = `could not read the app's granted scopes (${scrubText((err as Error).message.slice(0, 200))}): without read_all_orders a full order pull sees only the orders of the last 60 days`;
      await this.notices.report('scopes-unreadable', message);
      return message;
    }
    if (granted.has('read_all_orders')) return undefined;
    await this.notices.report('read_all_orders', SIXTY_DAYS);
    return SIXTY_DAYS;
  }
}
