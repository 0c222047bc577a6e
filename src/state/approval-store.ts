import type { Redis } from 'ioredis';
import type { ApprovalState } from '../core/lifecycle.js';

/** An order's approval as kept: no personal data in plaintext (the source record and the decision are sealed). */
export interface ApprovalRecord {
  key: string;
  pipeline: string;
  state: ApprovalState;
  orderNumber: string;
  currency: string;
  total: string;
  heldAt: string;
  /** When onTimeout applies. */
  deadline: string;
  /** The order's latest source record, sealed (AAD `approval:source`): an approval ingests it again. */
  source?: string;
  decidedAt?: string;
  /** { by, reason, via } sealed (AAD `approval:decision`): free text an admin wrote. */
  decision?: string;
  /** What rejecting did at the source: cancelled, not_supported, or failed with the error code. */
  cancel?: string;
}

/**
 * Moves the approval to ARGV[1] when its state is one of ARGV[2] (comma-separated), setting the
 * field pairs after; a final state leaves the open index. Answers the state it found ('' none).
 */
const MOVE_APPROVAL = `
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return '' end
local ok = false
for s in string.gmatch(ARGV[2], '[^,]+') do if s == cur then ok = true end end
if not ok then return cur end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[1] == 'approved' or ARGV[1] == 'rejected' then redis.call('ZREM', KEYS[2], KEYS[3]) end
return cur`;

/**
 * Approvals of held orders: a hash per order (`approval:<order key>`) and the open ones in a
 * sorted set by when they were held (`approvals:open`), the decided ones by when decided
 * (`approvals:decided`, newest 1000 listed).
 */
export class ApprovalStore {
  constructor(private readonly redis: Redis, private readonly k: (...parts: string[]) => string) {
    redis.defineCommand('synchubMoveApproval', { numberOfKeys: 3, lua: MOVE_APPROVAL });
  }

  async states(keys: string[]): Promise<(ApprovalState | null)[]> {
    if (!keys.length) return [];
    const pipe = this.redis.pipeline();
    for (const key of keys) pipe.hget(this.k('approval', key), 'state');
    return ((await pipe.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return (v as ApprovalState | null) ?? null;
    });
  }

  /** Holds the order: true when this call created the hold (a concurrent event finds it made). */
  async hold(a: ApprovalRecord): Promise<boolean> {
    const created = await this.redis.hsetnx(this.k('approval', a.key), 'state', a.state);
    if (!created) return false;
    const { key, state, ...fields } = a;
    await this.redis.multi()
      .hset(this.k('approval', key), Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, string>)
      .zadd(this.k('approvals', 'open'), Date.parse(a.heldAt), key)
      .exec();
    return true;
  }

  /** The latest source record of a held order (a change at the source while held). */
  async keepSource(key: string, sealedSource: string): Promise<void> {
    await this.redis.hset(this.k('approval', key), 'source', sealedSource);
  }

  /** Moves the approval to `to` from one of `from`; answers the state found (null: none), equal to one of `from` when moved. */
  async move(key: string, to: ApprovalState, from: ApprovalState[], fields: Record<string, string>): Promise<ApprovalState | null> {
    const found = (await (this.redis as any).synchubMoveApproval(this.k('approval', key), this.k('approvals', 'open'), key, to, from.join(','), ...Object.entries(fields).flat())) as string;
    if (found && from.includes(found as ApprovalState) && (to === 'approved' || to === 'rejected')) {
      await this.redis.multi().zadd(this.k('approvals', 'decided'), Date.now(), key).zremrangebyrank(this.k('approvals', 'decided'), 0, -1001).exec();
    }
    return (found || null) as ApprovalState | null;
  }

  async setField(key: string, field: 'cancel', value: string): Promise<void> {
    await this.redis.hset(this.k('approval', key), field, value);
  }

  async get(key: string): Promise<ApprovalRecord | null> {
    const h = await this.redis.hgetall(this.k('approval', key));
    return h.state ? ({ key, ...h } as unknown as ApprovalRecord) : null;
  }

  /** Open approvals (held or escalated), oldest first; or the decided ones, newest first. */
  async list(which: 'open' | 'decided', offset: number, limit: number): Promise<{ total: number; items: ApprovalRecord[] }> {
    const index = this.k('approvals', which);
    const [total, keys] = await Promise.all([
      this.redis.zcard(index),
      which === 'open' ? this.redis.zrange(index, offset, offset + limit - 1) : this.redis.zrevrange(index, offset, offset + limit - 1),
    ]);
    const items = (await Promise.all(keys.map((key) => this.get(key)))).filter((a): a is ApprovalRecord => a !== null);
    return { total, items };
  }
}
