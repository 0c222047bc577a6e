import type { CanonicalOrder, OrderStatus } from '../core/canonical/schemas.js';
import type { Hub } from '../jobs/hub.js';
import { blindIndexOf } from '../core/crypto.js';

/**
 * Order types (新客订单、老客订单): each order's `customerType`, `new` for the customer's first
 * paid order across every source, `returning` otherwise, from the hub's own history. A customer
 * is met by the blind index of the order's customer email (the same person in two shops), else
 * of the source connection and the customer's id there; nothing is looked up in plaintext.
 * Per customer a sorted set of their paid orders by when they were paid (`custorders:<index>`),
 * written and read in one Lua step for a page, so two workers agree. An order that is not paid
 * (yet) is `new` when no paid order of the customer came before it. An order without a customer
 * gets no type. (`recurring` comes from the source, in the in-mappings.) Called by ingest at
 * step 5a, before the order is kept, so payments, approval rules and out-mappings all read it.
 */
const PAID: readonly OrderStatus[] = ['paid', 'shipped', 'completed', 'partially_refunded', 'refunded'];

/**
 * KEYS: per order its customer's paid-orders set. ARGV: per order its key, 1 when paid, its time
 * (ms). A paid order keeps its earliest time (ZADD LT); an order no longer paid leaves the set.
 * Answers per order 1 (new) or 0 (returning).
 */
export const ORDER_TYPES = `
local out = {}
for i = 1, #KEYS do
  local member, paid, at = ARGV[3 * i - 2], ARGV[3 * i - 1], tonumber(ARGV[3 * i])
  if paid == '1' then
    redis.call('ZADD', KEYS[i], 'LT', at, member)
    local first = redis.call('ZRANGE', KEYS[i], 0, 0)
    out[i] = (first[1] == member) and 1 or 0
  else
    redis.call('ZREM', KEYS[i], member)
    out[i] = (redis.call('ZCOUNT', KEYS[i], '-inf', '(' .. at) == 0) and 1 or 0
  end
end
return out`;

export function customerIndex(hub: Hub, connection: string, order: CanonicalOrder): string | undefined {
  const c = order.customer;
  // Ingest asks this of each order three times (types, segments, facts): computed once per customer object.
  if (c?.email) return blindIndexOf(hub.config.keyring, c, c.email);
  if (c?.externalId) return blindIndexOf(hub.config.keyring, c, `${connection}\n${c.externalId}`);
  return undefined;
}

/** Sets `customerType` on each order (in place); `connection` is the order's source, `status` its status with its payments laid over it. */
export async function assignCustomerTypes(hub: Hub, orders: { key: string; connection: string; order: CanonicalOrder; status: OrderStatus }[]): Promise<void> {
  const typed = orders.flatMap((o) => {
    const index = customerIndex(hub, o.connection, o.order);
    return index ? [{ ...o, index }] : [];
  });
  if (!typed.length) return;
  const keys = typed.map((o) => hub.store.k('custorders', o.index));
  const args = typed.flatMap((o) => {
    const paid = PAID.includes(o.status);
    const at = Date.parse((paid && o.order.paidAt) || o.order.createdAt) || 0;
    return [o.key, paid ? '1' : '0', String(at)];
  });
  const answers = (await hub.redis.eval(ORDER_TYPES, keys.length, ...keys, ...args)) as number[];
  typed.forEach((o, i) => { o.order.customerType = answers[i] === 1 ? 'new' : 'returning'; });
}
