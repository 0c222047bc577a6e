/**
 * The steps a record's timeline lists (GET /api/records/:key/timeline). Each names what the
 * hub did with the record and when; none carries a personal value by design (ids, statuses,
 * amounts, error codes), and all are kept sealed all the same (./store.ts).
 */
export type TimelineStep =
  /** A webhook delivery (its event id), a pull run's page, or a dead letter's replay brought the record in. */
  | { step: 'received'; via: 'webhook'; event: string }
  | { step: 'received'; via: 'pull'; run: string; page: number }
  | { step: 'received'; via: 'replay' | 'released' | 'other'; delivery: string }
  | { step: 'mapped' }
  | { step: 'validated' }
  /** Kept back: a payment for an order the hub has not seen yet (released when the order arrives). */
  | { step: 'held'; why: string }
  /** Not handed on: a stale event, the hub's own echo, a contended lifecycle write; or not pushed to a target that has it already. */
  | { step: 'skipped'; why: string; target?: string }
  /** Handed on to these targets' push queues (`coalesced`: waiting up to jobs.pushLingerMs to go with others). */
  | { step: 'queued'; targets: string[]; coalesced?: boolean }
  | { step: 'pushed'; target: string; externalId: string }
  | { step: 'dead_lettered'; stage: string; code: string; target?: string; deadLetter?: string }
  | { step: 'replayed'; deadLetter: string; target?: string }
  | { step: 'payment'; provider: string; paymentId: string; status: string; amount?: string; currency?: string; failureCode?: string }
  | { step: 'status'; to: string; from?: string }
  | { step: 'notified'; sink: string; event: string; outcome: 'delivered' | 'dead_lettered' };

/** One step as kept: the record it belongs to, when, and the pipeline that took it. */
export type TimelineEntry = TimelineStep & { at: string; pipeline?: string };
