import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Takes a place for one call in the rolling window, or says how long until one frees up (ms).
 * KEYS[1] the window's sorted set (member: a call, score: when it went, ms by Redis's clock,
 * so every process counts on one clock). ARGV: max, window ms, member.
 */
const TAKE_PLACE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max, per = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - per)
if redis.call('ZCARD', KEYS[1]) < max then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], per)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + per - now)`;

/** A call finished: it reached the target at the latest now, so it counts from now (KEYS[1] the window, ARGV[1] the call, ARGV[2] window ms). */
const CALL_DONE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/**
 * A target's rate limit as a rolling window, shared by every worker through Redis: at most
 * `max` push calls in any `perMs`, which is how HubSpot counts (its 429s name the policy
 * TEN_SECONDLY_ROLLING; "API usage guidelines and limits", developers.hubspot.com). The push
 * queue's own limiter (BullMQ) counts in fixed windows: 100 calls late in one window and 100
 * early in the next are 200 within 10 s, and the target answers the excess with 429 and a
 * Retry-After of up to the whole window, for which the whole queue then waits. Taken right
 * before each push call, this keeps calls inside the target's window, so none is refused.
 *
 * The target counts a call when it arrives, somewhere between the place taken for it and its
 * answer (the push does its own Redis work first, which takes longer for some calls than for
 * others): a call counts from when its place was taken while it is on its way, and from its
 * answer once answered (`done`). The window is also counted a little longer than the limit
 * (5% of it, at most 250 ms) for the network's share of that spread.
 */
export class CallWindow {
  private readonly key: string;
  private readonly windowMs: number;

  constructor(private readonly redis: Redis, prefix: string, connection: string, private readonly limit: { max: number; perMs: number }) {
    this.key = `${prefix}:calls:${connection}`;
    this.windowMs = limit.perMs + Math.min(250, Math.round(limit.perMs / 20));
    if (!(redis as any).synchubTakeCallPlace) redis.defineCommand('synchubTakeCallPlace', { numberOfKeys: 1, lua: TAKE_PLACE });
    if (!(redis as any).synchubCallDone) redis.defineCommand('synchubCallDone', { numberOfKeys: 1, lua: CALL_DONE });
  }

  /** A place for a call: `{ call }` to pass to `done` once it is answered, or the ms until a place frees up. */
  async take(): Promise<{ call: string } | { waitMs: number }> {
    const call = randomUUID();
    const waitMs = Number(await (this.redis as any).synchubTakeCallPlace(this.key, this.limit.max, this.windowMs, call));
    return waitMs > 0 ? { waitMs } : { call };
  }

  /** No call was made after all (its records were busy in another push): its place is free again. */
  async release(call: string): Promise<void> {
    await this.redis.zrem(this.key, call);
  }

  /** The call was answered (or failed): it counts from now. */
  async done(call: string): Promise<void> {
    await (this.redis as any).synchubCallDone(this.key, call, this.windowMs);
  }
}
