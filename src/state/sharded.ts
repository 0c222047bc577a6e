import type { ChainableCommander, Redis } from 'ioredis';
import type { ShardLayout } from './key-layout.js';

/**
 * A fault for tests only (set on StateStore.testFaults by test code, never from config): the
 * next `times` commits that span more than one group stop after `failAfterGroups` groups have
 * committed, as a worker killed mid-commit would, and throw.
 */
export interface ShardFaults {
  failAfterGroups: number;
  times: number;
  /** After each stop, this many commits over several groups go through before the next stop (default 0). */
  passBetween?: number;
  /** Counts the commits let through since the last stop (kept here by ShardedTx). */
  passed?: number;
  /**
   * Only commits of these named steps (`afterwards(step)`) count and stop, on one group as on
   * several: a step on one group stops once that group is in, as a worker killed right after
   * the step would. Without it, every commit over more than one group.
   */
  steps?: string[];
}

export class ShardFaultError extends Error {
  constructor(committed: number, of: number) {
    super(`test fault: the commit stopped after ${committed} of its ${of} groups`);
    this.name = 'ShardFaultError';
  }
}

/**
 * One commit over a hub's state, as one MULTI per group it touches (src/state/key-layout.ts).
 * Writers ask for the MULTI of the key they write: `forKey(<record key or other deciding text>)`,
 * or `hub()` for control state. On one Redis, and on a one-shard cluster hub, every group is the
 * same: one MULTI holding exactly the commands the writers added, in their order, as before
 * sharding.
 *
 * With more groups the MULTIs run in parallel and each is atomic on its own, not together: the
 * caller orders its steps so that any prefix of groups committed is safe to leave and to retry
 * (see where commits are built: push.ts). `afterwards()` is a second step that runs only once
 * every group of this one has committed; on a one-group layout it is this same MULTI.
 */
export class ShardedTx {
  private readonly multis = new Map<string, ChainableCommander>();
  private readonly replies = new Map<ChainableCommander, [Error | null, unknown][]>();
  private next?: ShardedTx;

  constructor(private readonly redis: Redis, readonly layout: ShardLayout, private readonly faults?: ShardFaults, readonly step?: string) {}

  forKey(text: string): ChainableCommander {
    return this.group(this.layout.groupOf(text));
  }

  hub(): ChainableCommander {
    return this.group(this.layout.hub);
  }

  /** The MULTI of one group (a key prefix of ShardLayout). */
  group(group: string): ChainableCommander {
    let multi = this.multis.get(group);
    if (!multi) {
      multi = this.redis.multi();
      this.multis.set(group, multi);
    }
    return multi;
  }

  /**
   * Commands that must wait until every group of this commit is in: on a one-group layout, the
   * same MULTI (one commit). `step` names it for the test fault (ShardFaults.steps) only.
   */
  afterwards(step?: string): ShardedTx {
    if (!this.layout.spread) return this;
    this.next ??= new ShardedTx(this.redis, this.layout, this.faults, step);
    return this.next;
  }

  /** After exec: the replies of one of this commit's MULTIs (as `group()` or `hub()` gave it), in the order its commands were added. */
  repliesOf(multi: ChainableCommander): [Error | null, unknown][] {
    return this.replies.get(multi) ?? this.next?.replies.get(multi) ?? [];
  }

  /** The groups this commit writes so far. */
  groupsWritten(): string[] {
    return [...this.multis.keys()];
  }

  /**
   * Commits every group (in parallel), then the `afterwards()` step. Rejects once every group
   * has settled if any did not commit; a command's own error inside a MULTI is its answer, as
   * with one MULTI (callers that check answers use execGroups). Groups carry no "applied" marker:
   * every write the data path puts in a record group is an overwrite with the same value, so a
   * retry simply writes them again (what must not happen twice goes in the hub's MULTI).
   */
  async exec(): Promise<void> {
    await this.execGroups();
    if (this.next && this.next !== this) await this.next.exec();
  }

  /** As exec, without the afterwards step, answering each group's replies. */
  async execGroups(): Promise<Map<string, [Error | null, unknown][]>> {
    const groups = [...this.multis.entries()];
    const answers = new Map<string, [Error | null, unknown][]>();
    const run = async ([g, multi]: [string, ChainableCommander]) => {
      const replies = ((await multi.exec()) ?? []) as [Error | null, unknown][];
      answers.set(g, replies);
      this.replies.set(multi, replies);
    };
    if (this.faults && this.faults.times > 0 && isFaulted(this.faults, this.step, groups.length) && isDue(this.faults)) {
      this.faults.times--;
      this.faults.passed = 0;
      const stopAt = this.faults.failAfterGroups;
      for (const [i, entry] of groups.entries()) {
        // The MULTIs left are buffered client-side until exec: not sending them is all it takes.
        if (i >= stopAt) throw new ShardFaultError(i, groups.length);
        await run(entry);
      }
      if (this.faults.steps) throw new ShardFaultError(groups.length, groups.length);
      return answers;
    }
    const settled = await Promise.allSettled(groups.map(run));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return answers;
  }
}

/** Whether the fault is about this commit: a named step's (`steps`), else one over several groups. */
function isFaulted(faults: ShardFaults, step: string | undefined, groups: number): boolean {
  return faults.steps ? step !== undefined && faults.steps.includes(step) && groups > 0 : groups > 1;
}

/** Whether the fault stops this commit: the first always, later ones after `passBetween` commits went through. */
function isDue(faults: ShardFaults): boolean {
  if (faults.passed === undefined || faults.passed >= (faults.passBetween ?? 0)) return true;
  faults.passed++;
  return false;
}

/** Appends values to the list a map keeps under `key` (a group's keys, arguments or items), making the list on first use. */
export function appendTo<K, V>(map: Map<K, V[]>, key: K, ...values: V[]): void {
  const list = map.get(key);
  if (list) list.push(...values);
  else map.set(key, values);
}

/**
 * A batched read or script over many texts' keys, split by their group, the parts run in
 * parallel and the answers put back in the input's order: the only way to MGET, HMGET or run a
 * script over record keys, which a cluster refuses across slots (ioredis does not split them).
 * `fn` gets the group and the input indexes in it, and answers one value per index, in order.
 * On a one-group layout: one call with every index.
 */
export async function perGroup<T>(layout: ShardLayout, texts: string[], fn: (group: string, indexes: number[]) => Promise<T[]>): Promise<T[]> {
  if (!texts.length) return [];
  const byGroup = new Map<string, number[]>();
  if (!layout.spread) byGroup.set(layout.hub, texts.map((_, i) => i));
  else {
    for (const [i, text] of texts.entries()) {
      appendTo(byGroup, layout.groupOf(text), i);
    }
  }
  const out: T[] = new Array(texts.length);
  await Promise.all([...byGroup].map(async ([g, indexes]) => {
    const answers = await fn(g, indexes);
    indexes.forEach((index, n) => { out[index] = answers[n]; });
  }));
  return out;
}
