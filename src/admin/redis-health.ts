import type { Redis } from 'ioredis';
import { SLOTS, keySlot } from '../state/key-slot.js';
import type { ShardLayout } from '../state/key-layout.js';
import { asCluster } from '../state/redis-client.js';

export interface ClusterNodeHealth {
  id: string;
  address: string;
  role: 'primary' | 'replica';
  /** A replica's primary (its id). */
  replicaOf?: string;
  /** A primary's slot ranges, e.g. `0-5460`. */
  slots: string[];
  /** The cluster bus link from the node answering, and flags such as `fail`, `fail?`, `handshake`. */
  connected: boolean;
  flags: string[];
}

/** What `synchub check` prints and `GET /api/redis` answers about the hub's Redis. */
export interface RedisHealth {
  mode: 'single' | 'cluster';
  /** Every slot served by a reachable primary (cluster), or the server answers (single). */
  ok: boolean;
  /** CLUSTER INFO's cluster_state. */
  state?: string;
  /** Slots served by a primary not marked failed, of 16,384. */
  slotsCovered?: number;
  slotsTotal?: number;
  nodes?: ClusterNodeHealth[];
  /** Why not ok, or what weakens a failover (a primary without a replica). */
  problems: string[];
  /** The hub's state layout on the cluster (`synchub check`): its shard count and the shards each primary serves. */
  layout?: { shards: number; written: boolean; perPrimary: Record<string, number> };
}

/** How many of the layout's shard groups (and the hub tag, counted apart) each primary serves. */
export function shardsPerPrimary(layout: ShardLayout, nodes: ClusterNodeHealth[]): Record<string, number> {
  const out: Record<string, number> = {};
  const primaries = nodes.filter((n) => n.role === 'primary' && n.slots.length);
  for (const p of primaries) out[p.address] = 0;
  const serving = (slot: number) => primaries.find((p) => p.slots.some((range) => {
    const [from, to = from] = range.split('-').map(Number);
    return slot >= from && slot <= to;
  }));
  for (const group of layout.groups()) {
    const p = serving(keySlot(`${group}:x`));
    if (p) out[p.address]++;
  }
  return out;
}

/**
 * Asks the cluster how it stands: CLUSTER INFO and CLUSTER NODES (from whichever node answers),
 * the slots each primary serves, and which primaries have a replica to fail over to.
 */
export async function inspectRedis(redis: Redis): Promise<RedisHealth> {
  const cluster = asCluster(redis);
  if (!cluster) {
    try {
      await redis.ping();
      return { mode: 'single', ok: true, problems: [] };
    } catch (err) {
      return { mode: 'single', ok: false, problems: [`Redis does not answer: ${(err as Error).message}`] };
    }
  }
  let info: string;
  let listing: string;
  try {
    [info, listing] = (await Promise.all([cluster.cluster('INFO'), cluster.cluster('NODES')])) as [string, string];
  } catch (err) {
    return { mode: 'cluster', ok: false, problems: [`no node of the cluster answers: ${(err as Error).message}`] };
  }
  const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
  const nodes = parseClusterNodes(listing);
  const covered = new Uint8Array(SLOTS);
  for (const n of nodes) {
    if (n.role !== 'primary' || n.flags.includes('fail')) continue;
    for (const range of n.slots) {
      const [from, to = from] = range.split('-').map(Number);
      covered.fill(1, from, to + 1);
    }
  }
  const slotsCovered = covered.reduce((sum, v) => sum + v, 0);
  const problems: string[] = [];
  if (state !== 'ok') problems.push(`cluster_state is ${state}: some slots are not served (a primary failed and no replica took over yet?)`);
  if (slotsCovered < SLOTS) problems.push(`${SLOTS - slotsCovered} of ${SLOTS} slots have no live primary`);
  for (const n of nodes) {
    if (n.flags.includes('fail') || n.flags.includes('fail?')) problems.push(`node ${n.address} is marked ${n.flags.includes('fail') ? 'failed' : 'possibly failed'}`);
    // The nodes agree on a failure a moment after each sees it: the one answering may not flag it yet.
    else if (!n.connected) problems.push(`node ${n.address} is not linked to the node that answered`);
  }
  for (const p of nodes.filter((n) => n.role === 'primary' && n.slots.length && !n.flags.includes('fail'))) {
    const replicas = nodes.filter((n) => n.replicaOf === p.id && n.connected && !n.flags.some((f) => f.startsWith('fail')));
    if (!replicas.length) problems.push(`primary ${p.address} has no live replica: if it fails its slots go down, and with redis.waitReplicas ≥ 1 the webhook route answers 503 while it has none`);
  }
  return { mode: 'cluster', ok: state === 'ok' && slotsCovered === SLOTS, state, slotsCovered, slotsTotal: SLOTS, nodes, problems };
}

/** CLUSTER NODES: `<id> <ip:port@bus> <flags> <primary|-> <ping> <pong> <epoch> <link> <slot>…` per line. */
export function parseClusterNodes(listing: string): ClusterNodeHealth[] {
  return listing.trim().split('\n').filter(Boolean).map((line) => {
    const [id, addr, flagText, primary, , , , link, ...slots] = line.trim().split(' ');
    const flags = flagText.split(',').filter((f) => f !== 'myself' && f !== 'master' && f !== 'slave' && f !== 'noflags');
    const replica = flagText.split(',').includes('slave');
    return {
      id,
      address: addr.split('@')[0],
      role: replica ? 'replica' : 'primary',
      ...(replica && primary !== '-' ? { replicaOf: primary } : {}),
      // Slots being migrated are listed in brackets; only owned ranges count.
      slots: slots.filter((s) => !s.startsWith('[')),
      connected: link === 'connected',
      flags,
    };
  });
}

/** `synchub check`'s lines about the hub's Redis. */
export function describeRedisHealth(h: RedisHealth): string[] {
  if (h.mode === 'single') return [h.ok ? '  one Redis: answers' : `  one Redis: ${h.problems.join('; ')}`];
  const lines = [`  Redis Cluster: ${h.state ?? 'unreachable'}, ${h.slotsCovered ?? 0} of ${h.slotsTotal ?? SLOTS} slots served`];
  const byId = new Map((h.nodes ?? []).map((n) => [n.id, n]));
  for (const n of h.nodes ?? []) {
    const what = n.role === 'primary' ? `primary, slots ${n.slots.join(' ') || 'none'}` : `replica of ${byId.get(n.replicaOf ?? '')?.address ?? n.replicaOf}`;
    lines.push(`    ${n.address}  ${what}${n.flags.length ? ` [${n.flags.join(',')}]` : ''}${n.connected ? '' : ' (link down)'}`);
  }
  if (h.layout) {
    const spread = Object.entries(h.layout.perPrimary).map(([address, n]) => `${address} ${n}`).join(', ');
    lines.push(`  state layout: ${h.layout.shards} shard(s)${h.layout.written ? '' : ' (the hub has not started on this cluster yet: fixed at its first start)'}; shards per primary: ${spread}`);
  }
  for (const p of h.problems) lines.push(`  problem: ${p}`);
  return lines;
}
