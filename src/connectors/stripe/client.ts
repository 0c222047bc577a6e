import { createHash } from 'node:crypto';
import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import { pushEach } from '../shared.js';
import { HttpClient } from '../http.js';
import type { Connection, ConnectorContext, PullPage, PullRequest, PushItem, PushOutcome } from '../types.js';
import { stripeForm } from './form.js';
import { PAYMENT_EVENTS, THIN_REF_PREFIX, thinRelatedType } from './webhooks.js';

const API = 'https://api.stripe.com';
/**
 * The API version sent when the connection pins none: the newest release in Stripe's
 * changelog (docs.stripe.com/changelog, Endive major of 2026-09-30; monthly releases add
 * only backward-compatible changes). Every field the payment mapping reads (event
 * `type`, `created`, `data.object`; PaymentIntent `id`, `amount`, `currency`, `metadata`,
 * `description`, `last_payment_error`; Charge `amount`, `amount_refunded`, `refunded`,
 * `payment_intent`) is unchanged in it. A pinned `apiVersion` wins.
 */
export const DEFAULT_STRIPE_VERSION = '2026-11-18.endive';
/** Stripe keeps events for 30 days: a reconciliation pull never asks for more. */
const EVENT_WINDOW_S = 30 * 24 * 3600;

interface StripeList<T> { object: 'list'; data: T[]; has_more: boolean }
type StripeObject = Record<string, any>;

/**
 * Payments: `/v1/events` of the payment types, newest first, paged with starting_after,
 * from `created[gte]` = the newest event of the previous run (at most 30 days back).
 * Customers: `/v1/customers` with starting_after (Stripe has no modified filter: a full list),
 * then the `customer.deleted` events since the previous run's list began (deletions).
 */
export interface StripeCursor {
  since?: number; after?: string; maxCreated?: number;
  /** Customers: `customer.deleted` events from this time (s) on are the next run's deletions; kept across runs. */
  deletedSince?: number;
  /** Customers: when the run in progress began listing (s). */
  startedAt?: number;
  /** Customers: the list is read; the run ends with the deletion events, from this event id when set. */
  deleted?: { after?: string };
}

export class StripeClient {
  readonly http: HttpClient;

  constructor(private readonly conn: Connection, ctx: ConnectorContext) {
    this.http = new HttpClient({
      connection: conn.name,
      baseURL: conn.baseUrl ?? API,
      settings: conn.http,
      logger: ctx.logger,
      headers: { authorization: `Bearer ${conn.credentials.secretKey}`, 'stripe-version': String(conn.options.apiVersion ?? DEFAULT_STRIPE_VERSION) },
      describeError: (res) => {
        const e = (res.data as { error?: { type?: string; code?: string; message?: string } } | undefined)?.error;
        return e ? `${e.type ?? 'error'}${e.code ? `/${e.code}` : ''}: ${e.message ?? ''}` : undefined;
      },
    });
  }

  async pull(entity: Entity, req: PullRequest): Promise<PullPage> {
    const cursor = (req.cursor ?? {}) as StripeCursor;
    const limit = Math.min(Math.max(req.pageSize, 1), 100);
    if (entity === 'customer') {
      if (cursor.deleted) return this.pullDeletedCustomers(cursor, limit, req.signal);
      const startedAt = cursor.startedAt ?? Math.floor(Date.now() / 1000);
      const kept = { startedAt, ...(cursor.deletedSince !== undefined ? { deletedSince: cursor.deletedSince } : {}) };
      const res = await this.http.request<StripeList<StripeObject>>({ method: 'GET', url: '/v1/customers', params: { limit, ...(cursor.after ? { starting_after: cursor.after } : {}) }, signal: req.signal });
      const data = this.list(res.data, '/v1/customers');
      if (res.data.has_more) return { records: data, cursor: { after: data.at(-1)!.id, ...kept }, done: false };
      // The list no longer has a deleted customer: a run after the first reads what was deleted since the last one began.
      if (cursor.deletedSince !== undefined) return { records: data, cursor: { ...kept, deleted: {} }, done: false };
      return { records: data, cursor: { deletedSince: startedAt }, done: true };
    }
    if (entity !== 'payment') throw new NotSupportedError(`stripe ${entity}`);
    const floor = Math.floor(Date.now() / 1000) - EVENT_WINDOW_S;
    const since = Math.max(cursor.since ?? floor, floor);
    const params: Record<string, string | number> = { limit, 'created[gte]': since, ...(cursor.after ? { starting_after: cursor.after } : {}) };
    [...PAYMENT_EVENTS].forEach((t, i) => { params[`types[${i}]`] = t; });
    const res = await this.http.request<StripeList<StripeObject>>({ method: 'GET', url: '/v1/events', params, signal: req.signal });
    const events = this.list(res.data, '/v1/events');
    for (const e of events) if (e.type.startsWith('charge.')) await this.expandCharge(e, req.signal);
    const maxCreated = Math.max(cursor.maxCreated ?? 0, ...events.map((e) => Number(e.created) || 0));
    if (res.data.has_more) return { records: events, cursor: { since, after: events.at(-1)!.id, maxCreated }, done: false };
    // created[gte] is inclusive: the newest event comes back once more next run and is deduplicated by its id's fact.
    return { records: events, cursor: { since: maxCreated || since }, done: true };
  }

  /**
   * `/v1/events?type=customer.deleted&created[gte]=…`: the customers deleted since the previous run's
   * list began, each at its event's `created`. Stripe keeps events 30 days: a longer gap between runs
   * misses the older deletions, which the run says.
   */
  private async pullDeletedCustomers(cursor: StripeCursor, limit: number, signal?: AbortSignal): Promise<PullPage> {
    const floor = Math.floor(Date.now() / 1000) - EVENT_WINDOW_S;
    const since = Math.max(cursor.deletedSince!, floor);
    const notices = cursor.deletedSince! < floor && !cursor.deleted?.after ? [`customers deleted before ${new Date(floor * 1000).toISOString()} cannot be seen: Stripe keeps events for 30 days`] : undefined;
    const res = await this.http.request<StripeList<StripeObject>>({
      method: 'GET', url: '/v1/events', signal,
      params: { type: 'customer.deleted', limit, 'created[gte]': since, ...(cursor.deleted?.after ? { starting_after: cursor.deleted.after } : {}) },
    });
    const events = this.list(res.data, '/v1/events');
    const deletions = events
      .filter((e) => typeof e.data?.object?.id === 'string')
      .map((e) => ({ id: String(e.data.object.id), ...(typeof e.created === 'number' ? { deletedAt: new Date(e.created * 1000).toISOString() } : {}) }));
    const page = res.data.has_more
      ? { records: [], deletions, cursor: { ...cursor, deleted: { after: events.at(-1)!.id } }, done: false }
      : { records: [], deletions, cursor: { deletedSince: cursor.startedAt }, done: true };
    return notices ? { ...page, notices } : page;
  }

  private list(body: StripeList<StripeObject> | undefined, path: string): StripeObject[] {
    if (!body || !Array.isArray(body.data)) throw new RemoteRejectedError(`${this.conn.name}: ${path} answered without a list`);
    return body.data;
  }

  /** A charge event with the charge's PaymentIntent expanded, so its metadata (the order number) is there. */
  private async expandCharge(event: StripeObject, signal?: AbortSignal): Promise<void> {
    const charge = event.data?.object;
    if (!charge?.id || (charge.payment_intent && typeof charge.payment_intent === 'object')) return;
    const res = await this.http.request<StripeObject>({ method: 'GET', url: `/v1/charges/${encodeURIComponent(charge.id)}`, params: { 'expand[0]': 'payment_intent' }, signal });
    event.data.object = res.data;
  }

  async fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null> {
    if (entity === 'payment' && id.startsWith(THIN_REF_PREFIX)) return this.fetchThin(id.slice(THIN_REF_PREFIX.length), signal);
    if (entity === 'payment' && id.startsWith('evt_')) {
      const res = await this.http.request<StripeObject>({ method: 'GET', url: `/v1/events/${encodeURIComponent(id)}`, signal, accept: [404] });
      if (res.status === 404) return null;
      if (String(res.data.type).startsWith('charge.')) await this.expandCharge(res.data, signal);
      return res.data;
    }
    if (entity === 'customer') {
      const res = await this.http.request<StripeObject>({ method: 'GET', url: `/v1/customers/${encodeURIComponent(id)}`, signal, accept: [404] });
      return res.status === 404 || res.data.deleted ? null : res.data;
    }
    throw new NotSupportedError(`stripe fetch of ${entity} ${id}`);
  }

  /**
   * A thin event, read back in the job: the event from `GET /v2/core/events/{id}` (its
   * payload is unversioned, so the v2 call carries the current version whatever the
   * connection pins), then the object its `related_object` names, read through v1 in the
   * connection's version (a charge with its PaymentIntent expanded; a refund as its charge).
   * The answer is shaped as the snapshot event of the same type, so the same mapping gives
   * the same payment.
   * The object's path is built from its type and id, never taken from the event's `url`.
   * Null when Stripe has the event or the object no more.
   */
  private async fetchThin(eventId: string, signal?: AbortSignal): Promise<StripeObject | null> {
    const ev = await this.http.request<StripeObject>({
      method: 'GET', url: `/v2/core/events/${encodeURIComponent(eventId)}`, signal, accept: [404], headers: { 'stripe-version': DEFAULT_STRIPE_VERSION },
    });
    if (ev.status === 404) return null;
    const event = ev.data;
    const related = event?.related_object;
    const type = typeof event?.type === 'string' && event.type.startsWith('v1.') ? event.type.slice(3) : '';
    if (!related || typeof related.id !== 'string' || !related.id || !thinRelatedType(type) || related.type !== thinRelatedType(type)) {
      throw new RemoteRejectedError(`${this.conn.name}: /v2/core/events/${eventId} is not a payment event with its related object`);
    }
    const context = typeof event.context === 'string' && event.context ? { 'stripe-context': event.context } : undefined;
    let object: StripeObject | null;
    if (related.type === 'payment_intent') object = await this.getOrNull(`/v1/payment_intents/${encodeURIComponent(related.id)}`, signal, context);
    else {
      // A refund event is read as its charge, like charge.refunded: the charge's amount_refunded is the running total.
      const refund = related.type === 'refund' ? await this.getOrNull(`/v1/refunds/${encodeURIComponent(related.id)}`, signal, context) : undefined;
      const chargeId = related.type === 'refund' ? (typeof refund?.charge === 'string' ? refund.charge : refund?.charge?.id) : related.id;
      object = typeof chargeId === 'string' && chargeId
        ? await this.getOrNull(`/v1/charges/${encodeURIComponent(chargeId)}`, signal, context, { 'expand[0]': 'payment_intent' })
        : null;
    }
    if (!object) return null;
    const created = Date.parse(String(event.created));
    return { id: event.id, object: 'event', type, created: Number.isNaN(created) ? undefined : Math.floor(created / 1000), livemode: event.livemode, data: { object } };
  }

  private async getOrNull(url: string, signal?: AbortSignal, headers?: Record<string, string>, params?: Record<string, string>): Promise<StripeObject | null> {
    const res = await this.http.request<StripeObject>({ method: 'GET', url, signal, accept: [404], headers, params });
    return res.status === 404 ? null : res.data;
  }

  /**
   * Customers: update by linked id; else find by `metadata['synchub_key']` through search;
   * else create with an Idempotency-Key derived from the record, so a retry never creates a second customer.
   */
  async push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]> {
    if (entity !== 'customer') throw new NotSupportedError(`stripe push of ${entity} (payments are results to read, not records to write)`);
    return pushEach(items, (item) => this.upsertCustomer(item, signal));
  }

  private async upsertCustomer(item: PushItem, signal?: AbortSignal): Promise<string> {
    const body = { ...item.payload, metadata: { ...(item.payload.metadata as object), synchub_key: item.key } };
    let id = item.externalId;
    if (!id) {
      const found = await this.http.request<StripeList<StripeObject>>({
        method: 'GET', url: '/v1/customers/search', params: { query: `metadata['synchub_key']:'${item.key.replace(/'/g, "\\'")}'`, limit: 1 }, signal,
      });
      id = found.data.data?.[0]?.id;
    }
    const form = stripeForm(body);
    const res = id
      ? await this.http.request<StripeObject>({ method: 'POST', url: `/v1/customers/${encodeURIComponent(id)}`, data: form, headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal })
      : await this.http.request<StripeObject>({
          method: 'POST', url: '/v1/customers', data: form, signal,
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': `synchub-${createHash('sha256').update(`${item.key}\n${form}`).digest('hex').slice(0, 40)}` },
        });
    return String(res.data.id);
  }
}
