import type { CanonicalOrder, OrderStatus } from '../core/canonical/schemas.js';
import type { Hub } from '../jobs/hub.js';
import { blindIndexOf } from '../core/crypto.js';
import { perGroup } from '../state/sharded.js';

/**
 * Order types (新客订单、老客订单): each order's `customerType`, `new` for the customer's first
 * paid order across every source, `returning` otherwise, from the hub's own history. A customer
 * is met by the blind index of the order's customer email (the same person in two shops), else
 * of the source connection and the customer's id there; nothing is looked up in plaintext.
 * Per customer a sorted set of their paid orders by when they were paid (`custorders:<index>`),
 * written and read in one Lua step for a page (one per shard group on a cluster with shards: the
 * set is in the group of its customer index, `paidOrdersKey`), so two workers agree. An order that is not paid
 * (yet) is `new` when no paid order of the customer came before it. An order without a customer
 * gets no type. (`recurring` comes from the source, in the in-mappings.) Called by ingest at
 * step 5a, before the order is kept, so payments, approval rules and out-mappings all read it.
 */
const PAID: readonly OrderStatus[] = ['paid', 'shipped', 'completed', 'partially_refunded', 'refunded'];

/**
 * KEYS: per order its customer's paid-orders set. ARGV: per order its key, 1 when paid, its time
 * (ms), and the earliest paid order of the customer's set left on the hub tag by an earlier
 * version (its member and time; '' and '' when none). A paid order keeps its earliest time
 * (ZADD LT); an order no longer paid leaves the set. Answers per order 1 (new) or 0 (returning).
 */
export const ORDER_TYPES = `
local out = {}
for i = 1, #KEYS do
  local member, paid, at = ARGV[5 * i - 4], ARGV[5 * i - 3], tonumber(ARGV[5 * i - 2])
  local oldMember, oldAt = ARGV[5 * i - 1], tonumber(ARGV[5 * i])
  local olderElsewhere = oldAt ~= nil and oldMember ~= member
  if paid == '1' then
    redis.call('ZADD', KEYS[i], 'LT', at, member)
    local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local mine = first[1] == member
    if mine and olderElsewhere and oldAt <= tonumber(first[2]) then mine = false end
    out[i] = mine and 1 or 0
  else
    redis.call('ZREM', KEYS[i], member)
    local none = redis.call('ZCOUNT', KEYS[i], '-inf', '(' .. at) == 0
    if none and olderElsewhere and oldAt < at then none = false end
    out[i] = none and 1 or 0
  end
end
return out`;

/**
 * A customer's paid-orders set: in the group of its customer index on a cluster with shards
 * (src/state/key-layout.ts), `<prefix>:custorders:<index>` on one Redis and a one-shard hub.
 */
export function paidOrdersKey(hub: Hub, index: string): string {
  return `${hub.layout.groupOf(index)}:custorders:${index}`;
}

export function customerIndex(hub: Hub, connection: string, order: CanonicalOrder): string | undefined {
  const c = order.customer;
  // Ingest asks this of each order three times (types, segments, facts): computed once per customer object.
  if (c?.email) return blindIndexOf(hub.config.keyring, c, c.email);
  if (c?.externalId) return blindIndexOf(hub.config.keyring, c, `${connection}\n${c.externalId}`);
  return undefined;
}

/** Sets `customerType` on each order (in place); `connection` is the order's source, `status` its status with its payments laid over it. */
export async function assignCustomerTypes(hub: Hub, orders: { key: string; connection: string; order: CanonicalOrder; status: OrderStatus }[]): Promise<void> {
  // Loops, not callbacks: see ingest.ts on closures made for each batch.
  const typed: ((typeof orders)[number] & { index: string })[] = [];
  for (const o of orders) {
    const index = customerIndex(hub, o.connection, o.order);
    if (index) typed.push({ ...o, index });
  }
  if (!typed.length) return;
  // A cluster hub that kept these sets on the hub tag before they were sharded keeps them there,
  // read, never written again: each customer's earliest paid order there counts beside the
  // group's (an order paid then and no longer paid since stays counted as paid there).
  // Only a spread hub whose marker predates the sets' sharding can have them on its hub tag (layout-guard.ts).
  const legacy = hub.layout.spread && hub.layout.paidOrdersOnHubTag ? await legacyFirstPaid(hub, typed.map((o) => o.index)) : undefined;
  const answers = await perGroup(hub.layout, typed.map((o) => o.index), (group, indexes) => typesInGroup(hub, group, indexes, typed, legacy));
  for (let i = 0; i < typed.length; i++) typed[i].order.customerType = answers[i] === 1 ? 'new' : 'returning';
}

/** One group's ORDER_TYPES call for the orders `typed[indexes[…]]` (1: new, 0: returning). */
async function typesInGroup(hub: Hub, group: string, indexes: number[], typed: { key: string; order: CanonicalOrder; status: OrderStatus; index: string }[], legacy: ({ member: string; at: string } | undefined)[] | undefined): Promise<number[]> {
  const keys: string[] = [];
  const args: string[] = [];
  for (const i of indexes) {
    const o = typed[i];
    const paid = PAID.includes(o.status);
    const at = Date.parse((paid && o.order.paidAt) || o.order.createdAt) || 0;
    const old = legacy?.[i];
    keys.push(`${group}:custorders:${o.index}`);
    args.push(o.key, paid ? '1' : '0', String(at), old?.member ?? '', old?.at ?? '');
  }
  return (await hub.redis.eval(ORDER_TYPES, keys.length, ...keys, ...args)) as number[];
}

/** Each customer's earliest paid order in the set an earlier version kept on the hub tag (one pipeline there). */
async function legacyFirstPaid(hub: Hub, indexes: string[]): Promise<({ member: string; at: string } | undefined)[]> {
  const pipe = hub.redis.pipeline();
  for (const index of indexes) pipe.zrange(hub.store.k('custorders', index), 0, 0, 'WITHSCORES');
  const res = (await pipe.exec()) ?? [];
  return res.map(([err, first]) => {
    if (err) throw err;
    const [member, at] = first as string[];
    return member === undefined ? undefined : { member, at };
  });
}
