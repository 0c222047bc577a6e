import type { Redis } from 'ioredis';

/**
 * Circuit breaker per target connection, shared by every worker through Redis.
 *
 * closed → (N consecutive failed calls) → open for a cool-down → half-open: one
 * probe call → success closes it; failure opens it again with the cool-down
 * doubled, up to a limit. While open, the push queue waits (BullMQ's rate limiter),
 * which uses up no attempts.
 */
export interface BreakerOptions {
  /** Consecutive failed calls that open the breaker. Default 10. */
  threshold: number;
  /** First cool-down. Default 5000. */
  cooldownMs: number;
  /** Longest cool-down. Default 300000. */
  maxCooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { threshold: 10, cooldownMs: 5000, maxCooldownMs: 300_000 };

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerStatus {
  state: BreakerState;
  failures: number;
  openUntil?: string;
  cooldownMs?: number;
}

/** Counts a failure; opens (or re-opens with a doubled cool-down) at the threshold. Returns [opened, cooldownMs]. */
const RECORD_FAILURE = `
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local threshold, base, max, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if failures < threshold then return {0, 0} end
local cooldown = tonumber(redis.call('HGET', KEYS[1], 'cooldown') or '0')
if cooldown == 0 then cooldown = base else cooldown = math.min(cooldown * 2, max) end
redis.call('HSET', KEYS[1], 'cooldown', cooldown, 'openUntil', now + cooldown)
redis.call('DEL', KEYS[2])
return {1, cooldown}`;

export class CircuitBreaker {
  private readonly key: string;
  private readonly probeKey: string;

  constructor(private readonly redis: Redis, prefix: string, readonly connection: string, private readonly opts: BreakerOptions = DEFAULT_BREAKER) {
    this.key = `${prefix}:breaker:${connection}`;
    this.probeKey = `${this.key}:probe`;
    if (!(redis as any).synchubBreakerFailure) redis.defineCommand('synchubBreakerFailure', { numberOfKeys: 2, lua: RECORD_FAILURE });
  }

  async status(now = Date.now()): Promise<BreakerStatus> {
    const h = await this.redis.hgetall(this.key);
    const failures = Number(h.failures ?? 0);
    if (failures < this.opts.threshold) return { state: 'closed', failures };
    const openUntil = Number(h.openUntil ?? 0);
    return { state: now < openUntil ? 'open' : 'half_open', failures, openUntil: new Date(openUntil).toISOString(), cooldownMs: Number(h.cooldown ?? 0) };
  }

  /** Whether a call may go out now; when not, how long to wait. In half-open, only one probe goes. */
  async admit(now = Date.now()): Promise<{ allowed: true; probe: boolean } | { allowed: false; waitMs: number }> {
    const s = await this.status(now);
    if (s.state === 'closed') return { allowed: true, probe: false };
    if (s.state === 'open') return { allowed: false, waitMs: Math.max(100, Date.parse(s.openUntil!) - now) };
    const got = await this.redis.set(this.probeKey, '1', 'PX', 60_000, 'NX');
    return got ? { allowed: true, probe: true } : { allowed: false, waitMs: 1000 };
  }

  async recordSuccess(): Promise<boolean> {
    const was = await this.redis.hget(this.key, 'failures');
    if (was === null) return false;
    await this.redis.del(this.key, this.probeKey);
    return Number(was) >= this.opts.threshold;
  }

  async recordFailure(now = Date.now()): Promise<{ opened: boolean; cooldownMs: number }> {
    const [opened, cooldown] = (await (this.redis as any).synchubBreakerFailure(
      this.key, this.probeKey, this.opts.threshold, this.opts.cooldownMs, this.opts.maxCooldownMs, now,
    )) as [number, number];
    return { opened: opened === 1, cooldownMs: cooldown };
  }
}
