import { Hono, type Context } from 'hono';
import { prng } from './data.js';

interface HsObject { id: string; properties: Record<string, string | null>; createdAt: string; updatedAt: string; archived: boolean }

const TYPES = { contacts: { modified: 'lastmodifieddate', unique: 'email' }, deals: { modified: 'hs_lastmodifieddate', unique: 'synchub_order_number' } } as const;
type ObjectType = keyof typeof TYPES;

/**
 * A local server that speaks the HubSpot CRM shapes synchub uses: batch upsert
 * by a unique property (≤ 100 inputs), search sorted by modification time with
 * paging.next.after (≤ 200 a page, 10,000 a query), and single reads; under the v3
 * paths (`/crm/v3/objects/…`) and the dated ones (`/crm/objects/YYYY-MM/…`), which take
 * and answer the same bodies, with the same faults and limits.
 */
/** Faults the sandbox can inject into batch upserts (chaos runs and tests). */
export interface SandboxFaults {
  /** Added to every upsert answer. */
  latencyMs?: number;
  /** Share of upserts answered 500 (0..1). */
  errorRate?: number;
  /** Share of upserts answered 429 with Retry-After. */
  rateLimitRate?: number;
  retryAfterSeconds?: number;
  /** Share of upserts that stall this long before answering (the change is applied after the stall). */
  stallRate?: number;
  stallMs?: number;
  /**
   * Enforce a rate limit as HubSpot does (its TEN_SECONDLY_ROLLING policy): an upsert beyond
   * `max` calls in the last `perMs` is answered 429 with Retry-After (benchmarks).
   */
  limit?: { max: number; perMs: number };
}

export class HubspotSandbox {
  readonly objects: Record<ObjectType, Map<string, HsObject>> = { contacts: new Map(), deals: new Map() };
  /** How often each unique value was written (for exactly-once checks). */
  readonly writes: Record<ObjectType, Map<string, number>> = { contacts: new Map(), deals: new Map() };
  faults: SandboxFaults = {};
  readonly injected = { errors: 0, rateLimits: 0, stalls: 0 };
  private readonly rand = prng(7);
  private readonly unique: Record<ObjectType, Map<string, string>> = { contacts: new Map(), deals: new Map() };
  private nextId = 1000;
  /** Every upsert call received, for tests and benchmarks. */
  upsertCalls = 0;
  /** When the upserts inside the rolling limit window were taken (faults.limit). */
  private readonly taken: number[] = [];

  /** Requests received per API version (`v3`, `2026-09`, …). */
  readonly versionCalls = new Map<string, number>();

  app(): Hono {
    const app = new Hono();
    for (const base of ['/crm/v3/objects', '/crm/objects/:version{[0-9]{4}-[0-9]{2}}']) {
      app.post(`${base}/:type/batch/upsert`, (c) => this.batchUpsert(c));
      app.post(`${base}/:type/search`, (c) => this.search(c));
      app.get(`${base}/:type`, (c) => this.list(c));
      app.get(`${base}/:type/:id`, (c) => this.read(c));
    }
    return app;
  }

  private count(c: Context): void {
    const v = c.req.param('version') ?? 'v3';
    this.versionCalls.set(v, (this.versionCalls.get(v) ?? 0) + 1);
  }

  private async batchUpsert(c: Context): Promise<Response> {
    this.count(c);
    const type = c.req.param('type') as ObjectType;
    if (!(type in TYPES)) return c.json({ status: 'error', message: `Unknown object type ${type}`, category: 'OBJECT_NOT_FOUND' }, 404);
    const body = (await c.req.json()) as { inputs?: { id: string; idProperty: string; properties: Record<string, unknown> }[] };
    const inputs = body.inputs ?? [];
    if (inputs.length > 100) return c.json({ status: 'error', message: 'Batch input must not exceed 100 items', category: 'VALIDATION_ERROR' }, 400);
    const f = this.faults;
    if (f.latencyMs) await sleep(f.latencyMs);
    const roll = this.rand();
    if (f.errorRate && roll < f.errorRate) {
      this.injected.errors++;
      return c.json({ status: 'error', message: 'internal error', category: 'INTERNAL_ERROR' }, 500);
    }
    if (f.rateLimitRate && roll < (f.errorRate ?? 0) + f.rateLimitRate) {
      this.injected.rateLimits++;
      c.header('retry-after', String(f.retryAfterSeconds ?? 1));
      return c.json({ status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' }, 429);
    }
    if (f.limit) {
      const now = Date.now();
      while (this.taken.length && this.taken[0] <= now - f.limit.perMs) this.taken.shift();
      if (this.taken.length >= f.limit.max) {
        this.injected.rateLimits++;
        c.header('retry-after', String(Math.max(1, Math.ceil((this.taken[0] + f.limit.perMs - now) / 1000))));
        return c.json({ status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' }, 429);
      }
      this.taken.push(now);
    }
    if (f.stallRate && this.rand() < f.stallRate) {
      this.injected.stalls++;
      await sleep(f.stallMs ?? 10_000);
    }
    this.upsertCalls++;
    const now = new Date().toISOString();
    const modified = TYPES[type].modified;
    const objects = this.objects[type];
    const writes = this.writes[type];
    const unique = this.unique[type];
    // HubSpot answers each input with the object as it now stands (properties as strings).
    const results = inputs.map((input) => {
      const uniq = input.idProperty === 'email' ? input.id.toLowerCase() : input.id;
      writes.set(uniq, (writes.get(uniq) ?? 0) + 1);
      const existing = unique.get(uniq);
      const obj = existing ? objects.get(existing)! : undefined;
      const props: Record<string, string | null> = obj ? obj.properties : {};
      for (const k in input.properties) {
        const v = input.properties[k];
        props[k] = v === null || v === undefined ? null : String(v);
      }
      props[modified] = now;
      if (obj) {
        obj.updatedAt = now;
        return { id: obj.id, properties: { ...props }, createdAt: obj.createdAt, updatedAt: now, archived: false, new: false };
      }
      const id = String(this.nextId++);
      Object.assign(props, { [input.idProperty]: input.id, createdate: now, hs_object_id: id });
      objects.set(id, { id, properties: props, createdAt: now, updatedAt: now, archived: false });
      unique.set(uniq, id);
      return { id, properties: { ...props }, createdAt: now, updatedAt: now, archived: false, new: true };
    });
    return c.json({ status: 'COMPLETE', results, startedAt: now, completedAt: now });
  }

  private async search(c: Context): Promise<Response> {
    this.count(c);
    const type = c.req.param('type') as ObjectType;
    if (!(type in TYPES)) return c.json({ status: 'error', message: `Unknown object type ${type}` }, 404);
    const body = (await c.req.json()) as { filterGroups?: { filters: { propertyName: string; operator: string; value: string }[] }[]; limit?: number; after?: string };
    const limit = Math.min(body.limit ?? 10, 200);
    const after = Number(body.after ?? 0);
    if (after + limit > 10_000) return c.json({ status: 'error', message: 'Search results are limited to 10,000', category: 'VALIDATION_ERROR' }, 400);
    const modified = TYPES[type].modified;
    const filter = body.filterGroups?.[0]?.filters?.[0];
    // Each modification time is parsed once, not once per comparison.
    const min = filter ? Number(filter.value) : -Infinity;
    const all = [...this.objects[type].values()]
      .map((o) => ({ o, at: Date.parse(o.properties[modified] ?? '') }))
      .filter((x) => !filter || x.at >= min)
      .sort((a, b) => a.at - b.at || Number(a.o.id) - Number(b.o.id));
    const results = all.slice(after, after + limit).map((x) => x.o);
    return c.json({ total: all.length, results, ...(after + limit < all.length ? { paging: { next: { after: String(after + limit) } } } : {}) });
  }

  /** The list endpoint (≤ 100 a page, `after`); `archived=true` lists the archived ones only (the sandbox archives none). */
  private list(c: Context): Response {
    this.count(c);
    const type = c.req.param('type') as ObjectType;
    if (!(type in TYPES)) return c.json({ status: 'error', message: `Unknown object type ${type}` }, 404);
    const archived = c.req.query('archived') === 'true';
    const limit = Math.min(Number(c.req.query('limit') ?? 10) || 10, 100);
    const after = Number(c.req.query('after') ?? 0) || 0;
    const all = [...this.objects[type].values()].filter((o) => o.archived === archived);
    const results = all.slice(after, after + limit);
    return c.json({ results, ...(after + limit < all.length ? { paging: { next: { after: String(after + limit) } } } : {}) });
  }

  private read(c: Context): Response {
    this.count(c);
    const type = c.req.param('type') as ObjectType;
    const obj = this.objects[type]?.get(c.req.param('id') ?? '');
    return obj ? c.json(obj) : c.json({ status: 'error', message: 'Object not found', category: 'OBJECT_NOT_FOUND' }, 404);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
