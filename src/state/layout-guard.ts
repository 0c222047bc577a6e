import type { Redis } from 'ioredis';
import { ConfigError } from '../core/errors.js';

/** Shards of a hub new to a cluster when `redis.shards` is unset (docs/production.md, "Running on Redis Cluster"). */
export const DEFAULT_SHARDS = 16;

/**
 * What the hub's `<hub>:layout` key holds: the shard count its state was written with, and `v`,
 * the version of the layout that wrote it first. v 3 (since 2026-12-07): every family that has a
 * shard group was written there from the hub's first start, so nothing of them is on the hub tag
 * (customers' paid-order sets, which an earlier version kept there, are not looked for there).
 * v 2: a hub that may hold such families on its hub tag. Markers are never rewritten.
 */
interface LayoutMarker { shards: number; v: 2 | 3 }
const MARKER_VERSION = 3;

export interface LayoutDecision {
  shards: number;
  /** How the count was reached: kept from the marker, written for a new hub, or 1 for a hub that had state before markers. */
  from: 'marker' | 'new' | 'existing';
  /** The state may hold customers' paid-order sets on the hub tag, written before they were sharded (marker v 2, or a hub from before markers). */
  paidOrdersOnHubTag: boolean;
}

/**
 * The shard count a cluster hub's state uses, fixed the first time the hub starts: a key of
 * another layout would not be found (a link, a fingerprint: a record pushed twice), and synchub
 * has no migration between layouts. So:
 * - the marker `<hub>:layout` is there: the configured count must match it (unset matches);
 * - no marker but state (a pipeline's hash or a cursor): a hub from before shards, all on the hub
 *   tag, which is 1 shard; the configured count must be unset or 1;
 * - neither: a new hub, the configured count or DEFAULT_SHARDS.
 * The marker is written with SET NX, so two processes starting at once agree on the first one.
 * A mismatch is a ConfigError naming `redis.shards`; the hub does not start.
 */
export async function checkLayout(redis: Redis, hub: string, configured: number | undefined, pipelines: string[]): Promise<LayoutDecision> {
  const markerKey = `${hub}:layout`;
  let decision: LayoutDecision;
  const raw = await redis.get(markerKey);
  if (raw !== null) {
    decision = { ...parseMarker(raw, markerKey), from: 'marker' };
  } else {
    const existing = await hasState(redis, hub, pipelines);
    decision = existing ? { shards: 1, from: 'existing', paidOrdersOnHubTag: true } : { shards: configured ?? DEFAULT_SHARDS, from: 'new', paidOrdersOnHubTag: false };
    // A hub from before markers may hold anything on its hub tag: its marker says v 2.
    const marker: LayoutMarker = { shards: decision.shards, v: existing ? 2 : MARKER_VERSION };
    if ((await redis.set(markerKey, JSON.stringify(marker), 'NX')) === null) {
      // Another process wrote it first: its marker holds.
      decision = { ...parseMarker((await redis.get(markerKey)) ?? '', markerKey), from: 'marker' };
    }
  }
  if (configured !== undefined && configured !== decision.shards) {
    const why = decision.from === 'existing' ? 'this hub\'s state was written before shards, on its hub tag alone (1 shard)' : `this hub's state was written with ${decision.shards} shard(s) (${markerKey})`;
    throw new ConfigError([`redis.shards: ${configured} does not match the layout of the state: ${why}; changing it would need a migration, which synchub does not have (not_supported). Set redis.shards to ${decision.shards}, or leave it unset`]);
  }
  return decision;
}

function parseMarker(raw: string, key: string): { shards: number; paidOrdersOnHubTag: boolean } {
  try {
    const m = JSON.parse(raw) as Partial<LayoutMarker>;
    // Anything but a version known to have written every sharded family in its group from the start is read as v 2: looked for on the hub tag too.
    if (Number.isInteger(m.shards) && m.shards! >= 1 && m.shards! <= 64) return { shards: m.shards!, paidOrdersOnHubTag: m.v !== MARKER_VERSION };
  } catch { /* reported below */ }
  throw new ConfigError([`redis.shards: the layout marker ${key} is not one synchub wrote; the hub does not start on state it cannot read`]);
}

/** Whether a hub has state already (a pipeline's hash or a cursor): one from before the marker when it has no marker. */
export async function hasState(redis: Redis, hub: string, pipelines: string[]): Promise<boolean> {
  const keys = pipelines.flatMap((p) => [`${hub}:pipeline:${p}`, `${hub}:cursor:${p}`]);
  if (!keys.length) return false;
  // One EXISTS for all: on a cluster a multi-key command must stay on one slot, and these are all on the hub tag.
  return (await redis.exists(...keys)) > 0;
}
