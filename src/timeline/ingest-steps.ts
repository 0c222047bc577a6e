import type { Pipeline } from '../config/load.js';
import type { CanonicalPayment } from '../core/canonical/schemas.js';
import type { OrderEvent } from '../notify/types.js';
import type { Hub } from '../jobs/hub.js';
import type { TimelineSheet } from './sheet.js';
import type { TimelineStep } from './steps.js';

/** What ingest.ts tells the timeline about one call's records (by their index in the call). */
export interface IngestContextFacts {
  runId?: string;
  seq?: number;
  deliveryBase?: string;
  events?: string[];
}

const MAPPED: TimelineStep = { step: 'mapped' };
const VALIDATED: TimelineStep = { step: 'validated' };

/**
 * The timeline steps of one ingest call: received, mapped, validated, then held, skipped,
 * dead-lettered or queued, and the status changes and payment results it applied. Times are
 * taken as each step happens (Date.now(), no I/O); the steps are written with the call's own
 * transaction (write()), in one script call.
 */
export class IngestSteps {
  private readonly sheet: TimelineSheet;
  private readonly started = Date.now();
  /** When each record of the call (by index) was mapped and validated; 0: not (yet). */
  private readonly mappedAt: Float64Array;
  private readonly validatedAt: Float64Array;
  /** Alike steps as one object each, so the sheet keeps them once (./sheet.ts). */
  private readonly alike = new Map<string, TimelineStep>();

  /** `records`: how many records the call has. */
  constructor(hub: Hub, pipeline: Pipeline, private readonly ctx: IngestContextFacts, records: number) {
    this.sheet = hub.timeline.sheet(pipeline.name);
    this.mappedAt = new Float64Array(records);
    this.validatedAt = new Float64Array(records);
  }

  mapped(index: number): void {
    this.mappedAt[index] = Date.now();
  }

  validated(index: number): void {
    this.validatedAt[index] = Date.now();
  }

  private once(id: string, make: () => TimelineStep): TimelineStep {
    let step = this.alike.get(id);
    if (!step) this.alike.set(id, (step = make()));
    return step;
  }

  private received(index: number): TimelineStep {
    const { ctx } = this;
    if (ctx.events) return { step: 'received', via: 'webhook', event: ctx.events[index] };
    return this.once('received', () => {
      if (ctx.runId) return { step: 'received', via: 'pull', run: ctx.runId, page: ctx.seq ?? 0 };
      const delivery = ctx.deliveryBase ?? 'once';
      return { step: 'received', via: delivery.startsWith('replay.') ? 'replay' : delivery.startsWith('parked.') ? 'released' : 'other', delivery };
    });
  }

  /** The record has its canonical key: what happened to it so far is now written under it. */
  keyed(index: number, key: string): void {
    this.sheet.add(key, this.received(index), this.started);
    const mapped = this.mappedAt[index];
    if (mapped) this.sheet.add(key, MAPPED, mapped);
    const validated = this.validatedAt[index];
    if (validated) this.sheet.add(key, VALIDATED, validated);
  }

  deadLettered(index: number, key: string, stage: string, code: string, deadLetter?: string): void {
    this.sheet.add(key, { step: 'dead_lettered', stage, code, ...(deadLetter ? { deadLetter } : {}) });
  }

  skipped(key: string, why: string): void {
    this.sheet.add(key, this.once(`skipped ${why}`, () => (why === 'order_not_seen_yet' ? { step: 'held', why } : { step: 'skipped', why })));
  }

  /** The records (by key) handed on to the targets' push queues: one step for them all, at one time. */
  queued(keys: string[], targets: string[], coalesced: boolean): void {
    if (!keys.length) return;
    const step: TimelineStep = { step: 'queued', targets, ...(coalesced ? { coalesced } : {}) };
    const now = Date.now();
    for (const key of keys) this.sheet.add(key, step, now);
  }

  /** The order status changes the call applied (events of type order.status). */
  statusChanges(events: OrderEvent[]): void {
    const now = Date.now();
    for (const { order } of events) if (order) this.sheet.add(order.key, this.statusStep(order.previousStatus, order.status), now);
  }

  /** One step object per change of status in the call (by from and to), so the sheet keeps each once. */
  private readonly statuses = new Map<string | undefined, Map<string, TimelineStep>>();

  private statusStep(from: string | undefined, to: string): TimelineStep {
    let byTo = this.statuses.get(from);
    if (!byTo) this.statuses.set(from, (byTo = new Map()));
    let step = byTo.get(to);
    if (!step) byTo.set(to, (step = { step: 'status', to, ...(from ? { from } : {}) }));
    return step;
  }

  /** A payment result applied: on the payment record and on the order it updated. */
  payment(keys: string[], p: CanonicalPayment): void {
    const step: TimelineStep = {
      step: 'payment', provider: p.provider, paymentId: p.externalId, status: p.status, amount: p.amount, currency: p.currency,
      ...(p.failureCode ? { failureCode: p.failureCode } : {}),
    };
    for (const key of keys) this.sheet.add(key, step);
  }

  write(tx: Parameters<TimelineSheet['write']>[0]): void {
    this.sheet.write(tx);
  }
}
