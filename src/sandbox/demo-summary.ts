import type { Hub } from '../jobs/hub.js';
import type { HubspotSandbox } from './hubspot.js';
import type { PaymentFeed } from './payment-feed.js';
import type { ShopifySandbox } from './shopify.js';

/** What the shop shows for an order: cancelled, else its financial status in words. */
export function shopStatus(order: Record<string, any>): string {
  if (order.cancelled_at) return 'cancelled';
  return ({ pending: 'awaiting payment', authorized: 'awaiting payment', paid: 'paid', partially_refunded: 'partly refunded', refunded: 'refunded', voided: 'cancelled' } as Record<string, string>)[order.financial_status] ?? order.financial_status;
}

/** HubSpot's default deal stages, as the default order mapping sets them (src/mappings/hubspot/order.out.jsonata). */
const STAGES: Record<string, string> = { contractsent: 'awaiting payment', closedwon: 'won', closedlost: 'lost' };

function counted(values: Iterable<string>): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
}

/**
 * The demo's live summary line: orders synced, payment results posted and the order updates they
 * pushed, the orders' statuses in the shop and the CRM, and dead letters. Counts only: no customer
 * data is printed.
 */
export async function demoSummary(hub: Hub, demo: { shop: ShopifySandbox; crm: HubspotSandbox; payments?: PaymentFeed }): Promise<string> {
  let synced = 0;
  let applied = 0;
  let dead = 0;
  for (const [name, p] of hub.config.pipelines) {
    const st = await hub.store.pipelineStats(name);
    dead += st.dead;
    if (p.source.entity === 'payment') applied += st.pushed;
    else if (p.source.entity === 'order') synced += st.pushed;
  }
  const feed = demo.payments?.counts;
  const posted = feed ? `${feed.stripe + feed.alipay} posted (stripe ${feed.stripe}, alipay ${feed.alipay}${feed.refused ? `, ${feed.refused} refused` : ''})` : 'none posted yet';
  return [
    `demo ${new Date().toISOString().slice(11, 19)}`,
    `orders synced to the CRM ${synced}`,
    `payment results ${posted}, ${applied} order updates pushed`,
    `shop: ${counted((demo.shop.orders as Record<string, any>[]).map(shopStatus))}`,
    `CRM deals: ${counted([...demo.crm.objects.deals.values()].map((d) => STAGES[d.properties.dealstage ?? ''] ?? d.properties.dealstage ?? 'no stage'))}`,
    `dead letters ${dead}`,
  ].join(' · ');
}
