import type { Redis, ChainableCommander } from 'ioredis';
import type { LifecycleState } from '../core/lifecycle.js';
import type { ShardLayout } from './key-layout.js';
import { appendTo, perGroup, type ShardedTx } from './sharded.js';

/**
 * What the hub keeps of orders and their payments: each order's lifecycle state (compared
 * and set, so an older event never moves an order back), the canonical order as last seen
 * (sealed) with its order-number index, orders awaiting payment, payment ledgers and
 * payments parked until their order arrives. Part of the StateStore (`store.orders`); its Lua
 * commands are defined there, on the same connection.
 *
 * Each order's lifecycle state, snapshot and ledger sit in the group of its order key; its
 * order-number index, parked payments and the index of parked order numbers in the group of the
 * order number (src/state/key-layout.ts); the orders awaiting payment on the hub tag.
 */
export class OrderStore {
  constructor(private readonly redis: Redis, private readonly k: (...parts: string[]) => string, private readonly layout: ShardLayout) {}

  /** A key of `parts` in the group of `text` (an order key or an order number). */
  private g(text: string, ...parts: string[]): string {
    return [this.layout.groupOf(text), ...parts].join(':');
  }

  lifeKey(key: string): string {
    return this.g(key, 'life', key);
  }

  snapshotKey(key: string): string {
    return this.g(key, 'order', key);
  }

  orderNumberKey(orderNumber: string): string {
    return this.g(orderNumber, 'ordernum', orderNumber);
  }

  parkedKey(orderNumber: string): string {
    return this.g(orderNumber, 'parked', orderNumber);
  }

  /** The index of order numbers with parked payments, one set per group (of those numbers). */
  parkedIndexKey(orderNumber: string): string {
    return this.g(orderNumber, 'parked-index');
  }

  // ---- order lifecycle ----

  async getLifecycle(keys: string[]): Promise<{ raw: string | null; state: LifecycleState | null }[]> {
    if (!keys.length) return [];
    const raws = await perGroup(this.layout, keys, (_g, at) => this.redis.mget(at.map((i) => this.lifeKey(keys[i]))));
    return raws.map((raw) => ({ raw, state: raw ? (JSON.parse(raw) as LifecycleState) : null }));
  }

  /** Compare-and-set of one order's lifecycle state; false when another worker changed it meanwhile. */
  async casLifecycle(key: string, expectedRaw: string | null, next: LifecycleState): Promise<boolean> {
    const res = await (this.redis as any).synchubCas(this.lifeKey(key), expectedRaw ?? '', JSON.stringify(next));
    return res === 1;
  }

  /** casLifecycle for many orders in one call; true where the state was still what the caller read. */
  async casLifecycleAll(entries: { key: string; expectedRaw: string | null; next: LifecycleState }[]): Promise<boolean[]> {
    if (!entries.length) return [];
    // Each order's compare-and-set stands alone, so one script per group changes nothing in meaning.
    return perGroup(this.layout, entries.map((e) => e.key), (_g, at) => this.casInGroup(entries, at));
  }

  /** One group's compare-and-set script for `entries[at[…]]` (loops, not callbacks: see ingest.ts on closures made for each batch). */
  private async casInGroup(entries: { key: string; expectedRaw: string | null; next: LifecycleState }[], at: number[]): Promise<boolean[]> {
    const keys: string[] = [];
    const args: string[] = [];
    for (const i of at) {
      keys.push(this.lifeKey(entries[i].key));
      args.push(entries[i].expectedRaw ?? '', JSON.stringify(entries[i].next));
    }
    const res = (await (this.redis as any).synchubCasAll(keys.length, ...keys, ...args)) as number[];
    const out: boolean[] = [];
    for (const r of res) out.push(r === 1);
    return out;
  }

  // ---- orders as the hub last saw them, and the payments applied to them ----

  /**
   * The canonical orders (sealed) and their order-number index, so payments can find and update
   * them: one MSET per group (one in all on a one-group layout). Overwrites, so a commit stopped
   * part-way is completed by its retry; a payment that finds the number before the snapshot
   * treats the order as not seen yet and parks (payments.ts).
   */
  saveOrderSnapshots(tx: ShardedTx, orders: { key: string; sealed: Buffer; orderNumber: string }[]): void {
    if (!orders.length) return;
    const byGroup = new Map<string, (string | Buffer)[]>();
    for (const o of orders) {
      appendTo(byGroup, this.layout.groupOf(o.key), this.snapshotKey(o.key), o.sealed);
      appendTo(byGroup, this.layout.groupOf(o.orderNumber), this.orderNumberKey(o.orderNumber), o.key);
    }
    for (const [g, args] of byGroup) tx.group(g).mset(...args);
  }

  async orderKeyByNumber(orderNumber: string): Promise<string | null> {
    return this.redis.get(this.orderNumberKey(orderNumber));
  }

  async orderSnapshot(key: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.snapshotKey(key));
  }

  /** Orders still awaiting payment, by creation time, for providers that can only be asked order by order. */
  markPending(pipe: ChainableCommander, orderNumber: string, createdAt: string, pending: boolean): void {
    if (pending) pipe.zadd(this.k('pending-orders'), Date.parse(createdAt) || Date.now(), orderNumber);
    else pipe.zrem(this.k('pending-orders'), orderNumber);
  }

  markPendingAll(pipe: ChainableCommander, orders: { orderNumber: string; createdAt: string; pending: boolean }[]): void {
    // An order listed twice ends as its last entry says, as one command per entry would leave it.
    // Loops, not callbacks: see ingest.ts on closures made for each batch.
    const last = new Map<string, { orderNumber: string; createdAt: string; pending: boolean }>();
    for (const o of orders) last.set(o.orderNumber, o);
    const add: (string | number)[] = [];
    const remove: string[] = [];
    for (const o of last.values()) {
      if (o.pending) add.push(Date.parse(o.createdAt) || Date.now(), o.orderNumber);
      else remove.push(o.orderNumber);
    }
    if (add.length) pipe.zadd(this.k('pending-orders'), ...add);
    if (remove.length) pipe.zrem(this.k('pending-orders'), ...remove);
  }

  async pendingOrders(olderThanMs: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.k('pending-orders'), '-inf', Date.now() - olderThanMs, 'LIMIT', 0, limit);
  }

  /** Adds payment facts to an order's ledger (a fact seen before is the same field) and returns all of them. */
  async addPaymentFacts(orderKey: string, facts: [id: string, json: string][]): Promise<string[]> {
    const key = this.g(orderKey, 'ledger', orderKey);
    const pipe = this.redis.multi();
    if (facts.length) pipe.hset(key, Object.fromEntries(facts));
    pipe.hvals(key);
    const res = await pipe.exec();
    return (res?.at(-1)?.[1] as string[]) ?? [];
  }

  async paymentFacts(orderKeys: string[]): Promise<string[][]> {
    if (!orderKeys.length) return [];
    return perGroup(this.layout, orderKeys, async (_g, at) => {
      const keys = at.map((i) => this.g(orderKeys[i], 'ledger', orderKeys[i]));
      return (await (this.redis as any).synchubHvalsAll(keys.length, ...keys)) as string[][];
    });
  }

  /** A payment whose order the hub has not seen yet, kept (sealed) until the order arrives or the wait ends. */
  async parkPayment(orderNumber: string, id: string, value: string): Promise<boolean> {
    const res = await this.redis.multi().hset(this.parkedKey(orderNumber), id, value).sadd(this.parkedIndexKey(orderNumber), orderNumber).exec();
    return res?.[0]?.[1] === 1;
  }

  /** Which of these order numbers have payments waiting for them (one round trip). */
  async parkedAmong(orderNumbers: string[]): Promise<string[]> {
    if (!orderNumbers.length) return [];
    const flags = await perGroup(this.layout, orderNumbers, (g, at) => this.redis.smismember(this.parkedIndexKey(orderNumbers[at[0]]), ...at.map((i) => orderNumbers[i])));
    return orderNumbers.filter((_, i) => flags[i] === 1);
  }

  async parkedPayments(orderNumber: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.parkedKey(orderNumber));
  }

  async unparkPayments(orderNumber: string, ids: string[]): Promise<void> {
    if (ids.length) await this.redis.hdel(this.parkedKey(orderNumber), ...ids);
    if ((await this.redis.hlen(this.parkedKey(orderNumber))) === 0) await this.redis.srem(this.parkedIndexKey(orderNumber), orderNumber);
  }
}

