import type { ChainableCommander, Redis } from 'ioredis';

/** A paid order in a customer's history: no personal data (its time, amount and currency). */
export interface HistoryEntry { at: string; total: string; refunded?: string; currency: string }

/** What is kept per customer: values, scores, segment, cluster and what each CRM was last sent. */
export type SegmentRecord = Record<string, string>;

/**
 * Customer segments' state (src/operations/segments). Customers are named by a blind index
 * (order-types.ts customerIndex), never by their email. Key layout:
 * - `seg:hist:<customer>` hash order key → HistoryEntry JSON, paid orders only;
 * - `seg:contact:<customer>` the customer's latest order key (its sealed snapshot holds the contact data a push needs);
 * - `seg:customers` set of customers with history;
 * - `seg:cust:<customer>` hash of the customer's RFM values, scores, segment, cluster, `pushed:<connection>`;
 * - `seg:model` JSON of the last full computation (cuts, normalisation spans, centroids, sizes);
 * - `seg:sizes` sorted set by time of each full computation's sizes (movement over time, newest 100).
 */
export class SegmentStore {
  constructor(private readonly redis: Redis, private readonly k: (...parts: string[]) => string) {}

  recordOrder(pipe: ChainableCommander, customer: string, orderKey: string, entry: HistoryEntry | null): void {
    if (entry) pipe.hset(this.k('seg', 'hist', customer), orderKey, JSON.stringify(entry));
    else pipe.hdel(this.k('seg', 'hist', customer), orderKey);
    pipe.set(this.k('seg', 'contact', customer), orderKey);
    pipe.sadd(this.k('seg', 'customers'), customer);
  }

  async customers(): Promise<string[]> {
    return this.redis.smembers(this.k('seg', 'customers'));
  }

  async histories(customers: string[]): Promise<HistoryEntry[][]> {
    const pipe = this.redis.pipeline();
    for (const c of customers) pipe.hvals(this.k('seg', 'hist', c));
    return ((await pipe.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return (v as string[]).map((e) => JSON.parse(e) as HistoryEntry);
    });
  }

  async contactOrder(customer: string): Promise<string | null> {
    return this.redis.get(this.k('seg', 'contact', customer));
  }

  async records(customers: string[]): Promise<SegmentRecord[]> {
    const pipe = this.redis.pipeline();
    for (const c of customers) pipe.hgetall(this.k('seg', 'cust', c));
    return ((await pipe.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return v as SegmentRecord;
    });
  }

  saveRecord(pipe: ChainableCommander, customer: string, fields: Record<string, string>): void {
    pipe.hset(this.k('seg', 'cust', customer), fields);
  }

  async markPushed(customer: string, connection: string, segment: string): Promise<void> {
    await this.redis.hset(this.k('seg', 'cust', customer), `pushed:${connection}`, segment);
  }

  async segmentsOf(customers: string[]): Promise<(string | null)[]> {
    const pipe = this.redis.pipeline();
    for (const c of customers) pipe.hget(this.k('seg', 'cust', c), 'segment');
    return ((await pipe.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return (v as string | null) ?? null;
    });
  }

  async model<T>(): Promise<T | null> {
    const v = await this.redis.get(this.k('seg', 'model'));
    return v ? (JSON.parse(v) as T) : null;
  }

  saveModel(pipe: ChainableCommander, model: unknown, at: number, sizes: unknown): void {
    pipe.set(this.k('seg', 'model'), JSON.stringify(model));
    pipe.zadd(this.k('seg', 'sizes'), at, JSON.stringify({ at: new Date(at).toISOString(), sizes }));
    pipe.zremrangebyrank(this.k('seg', 'sizes'), 0, -101);
  }

  async sizeHistory(): Promise<unknown[]> {
    return (await this.redis.zrange(this.k('seg', 'sizes'), 0, -1)).map((v) => JSON.parse(v));
  }
}
