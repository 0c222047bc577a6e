import type { Redis, ChainableCommander } from 'ioredis';
import type { LifecycleState } from '../core/lifecycle.js';

/**
 * What the hub keeps of orders and their payments: each order's lifecycle state (compared
 * and set, so an older event never moves an order back), the canonical order as last seen
 * (sealed) with its order-number index, orders awaiting payment, payment ledgers and
 * payments parked until their order arrives. Part of the StateStore (`store.orders`); its Lua
 * commands are defined there, on the same connection.
 */
export class OrderStore {
  constructor(private readonly redis: Redis, private readonly k: (...parts: string[]) => string) {}

  // ---- order lifecycle ----

  async getLifecycle(keys: string[]): Promise<{ raw: string | null; state: LifecycleState | null }[]> {
    if (!keys.length) return [];
    const raws = await this.redis.mget(keys.map((key) => this.k('life', key)));
    return raws.map((raw) => ({ raw, state: raw ? (JSON.parse(raw) as LifecycleState) : null }));
  }

  /** Compare-and-set of one order's lifecycle state; false when another worker changed it meanwhile. */
  async casLifecycle(key: string, expectedRaw: string | null, next: LifecycleState): Promise<boolean> {
    const res = await (this.redis as any).synchubCas(this.k('life', key), expectedRaw ?? '', JSON.stringify(next));
    return res === 1;
  }

  /** casLifecycle for many orders in one call; true where the state was still what the caller read. */
  async casLifecycleAll(entries: { key: string; expectedRaw: string | null; next: LifecycleState }[]): Promise<boolean[]> {
    if (!entries.length) return [];
    const res = (await (this.redis as any).synchubCasAll(entries.length, ...entries.map((e) => this.k('life', e.key)), ...entries.flatMap((e) => [e.expectedRaw ?? '', JSON.stringify(e.next)]))) as number[];
    return res.map((r) => r === 1);
  }

  // ---- orders as the hub last saw them, and the payments applied to them ----

  /** The canonical orders (sealed) and their order-number index, so payments can find and update them. */
  saveOrderSnapshots(pipe: ChainableCommander, orders: { key: string; sealed: Buffer; orderNumber: string }[]): void {
    if (!orders.length) return;
    pipe.mset(orders.flatMap((o) => [this.k('order', o.key), o.sealed, this.k('ordernum', o.orderNumber), o.key]));
  }

  async orderKeyByNumber(orderNumber: string): Promise<string | null> {
    return this.redis.get(this.k('ordernum', orderNumber));
  }

  async orderSnapshot(key: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.k('order', key));
  }

  /** Orders still awaiting payment, by creation time, for providers that can only be asked order by order. */
  markPending(pipe: ChainableCommander, orderNumber: string, createdAt: string, pending: boolean): void {
    if (pending) pipe.zadd(this.k('pending-orders'), Date.parse(createdAt) || Date.now(), orderNumber);
    else pipe.zrem(this.k('pending-orders'), orderNumber);
  }

  markPendingAll(pipe: ChainableCommander, orders: { orderNumber: string; createdAt: string; pending: boolean }[]): void {
    // An order listed twice ends as its last entry says, as one command per entry would leave it.
    const last = [...new Map(orders.map((o) => [o.orderNumber, o])).values()];
    const add = last.filter((o) => o.pending);
    const remove = last.filter((o) => !o.pending);
    if (add.length) pipe.zadd(this.k('pending-orders'), ...add.flatMap((o) => [Date.parse(o.createdAt) || Date.now(), o.orderNumber]));
    if (remove.length) pipe.zrem(this.k('pending-orders'), ...remove.map((o) => o.orderNumber));
  }

  async pendingOrders(olderThanMs: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.k('pending-orders'), '-inf', Date.now() - olderThanMs, 'LIMIT', 0, limit);
  }

  /** Adds payment facts to an order's ledger (a fact seen before is the same field) and returns all of them. */
  async addPaymentFacts(orderKey: string, facts: [id: string, json: string][]): Promise<string[]> {
    const key = this.k('ledger', orderKey);
    const pipe = this.redis.multi();
    if (facts.length) pipe.hset(key, Object.fromEntries(facts));
    pipe.hvals(key);
    const res = await pipe.exec();
    return (res?.at(-1)?.[1] as string[]) ?? [];
  }

  async paymentFacts(orderKeys: string[]): Promise<string[][]> {
    if (!orderKeys.length) return [];
    const keys = orderKeys.map((k) => this.k('ledger', k));
    return (await (this.redis as any).synchubHvalsAll(keys.length, ...keys)) as string[][];
  }

  /** A payment whose order the hub has not seen yet, kept (sealed) until the order arrives or the wait ends. */
  async parkPayment(orderNumber: string, id: string, value: string): Promise<boolean> {
    const res = await this.redis.multi().hset(this.k('parked', orderNumber), id, value).sadd(this.k('parked-index'), orderNumber).exec();
    return res?.[0]?.[1] === 1;
  }

  /** Which of these order numbers have payments waiting for them (one round trip). */
  async parkedAmong(orderNumbers: string[]): Promise<string[]> {
    if (!orderNumbers.length) return [];
    const flags = await this.redis.smismember(this.k('parked-index'), ...orderNumbers);
    return orderNumbers.filter((_, i) => flags[i] === 1);
  }

  async parkedPayments(orderNumber: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.k('parked', orderNumber));
  }

  async unparkPayments(orderNumber: string, ids: string[]): Promise<void> {
    if (ids.length) await this.redis.hdel(this.k('parked', orderNumber), ...ids);
    if ((await this.redis.hlen(this.k('parked', orderNumber))) === 0) await this.redis.srem(this.k('parked-index'), orderNumber);
  }
}
