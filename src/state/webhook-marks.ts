import type { ChainableCommander, Redis } from 'ioredis';
import { CLAIM_WEBHOOK_EVENTS } from './scripts.js';

/** What a job may do with a stored webhook event in one pipeline (WebhookEventMarks.claimWebhookEvents). */
export type WebhookClaim = 'first' | 'again' | 'done' | 'held';

/**
 * Stored webhook events in Redis besides their jobs: the dedupe marks a route checks before it
 * stores an event (`wh:<connection>:<event>`), and the claims that let one ingest job ingest an
 * event in a pipeline (`whc:<delivery base>`; src/jobs/webhook-job.ts). Reached as `store.webhookEvents`.
 */
export class WebhookEventMarks {
  constructor(private readonly redis: Redis, private readonly k: (...parts: string[]) => string) {
    redis.defineCommand('synchubClaimWebhookEvents', { lua: CLAIM_WEBHOOK_EVENTS });
  }

  /** Which of these events were stored before (within the dedupe window), in one MGET. */
  async seenWebhookEvents(events: readonly { connection: string; id: string }[]): Promise<boolean[]> {
    if (!events.length) return [];
    const marks = await this.redis.mget(events.map((e) => this.k('wh', e.connection, e.id)));
    return marks.map((m) => m !== null);
  }

  /** Marks stored events for the dedupe window; added to the caller's pipeline, so it goes with the caller's other writes. */
  markWebhookEvents(pipe: ChainableCommander, events: readonly { connection: string; id: string }[], ttlHours: number): void {
    for (const e of events) pipe.set(this.k('wh', e.connection, e.id), '1', 'EX', ttlHours * 3600);
  }

  /**
   * Claims for `job` the ingest of stored events in their pipelines, each named by its delivery
   * base (`wh_<connection>_<event>_<pipeline>`): 'first' (free: no job took it before, so
   * nothing of it was ingested), 'again' (held by this job or by `from`, the job it was split
   * from: a retried job takes its own claims again), 'done'
   * (ingested already, by this job or another), 'held' (another job holds a copy of the event:
   * two processes stored it at once). Kept as long as the dedupe marks.
   */
  async claimWebhookEvents(bases: readonly string[], job: string, from: string | undefined, ttlHours: number): Promise<WebhookClaim[]> {
    if (!bases.length) return [];
    const r = (await (this.redis as unknown as { synchubClaimWebhookEvents(n: number, ...args: (string | number)[]): Promise<number[]> })
      .synchubClaimWebhookEvents(bases.length, ...bases.map((b) => this.k('whc', b)), job, from ?? '', ttlHours * 3600));
    return r.map((v) => (v === 2 ? 'first' : v === 1 ? 'again' : v === 0 ? 'done' : 'held'));
  }

  /** Marks claimed events ingested: no job ingests them again. */
  async webhookEventsDone(bases: readonly string[], ttlHours: number): Promise<void> {
    if (!bases.length) return;
    const pipe = this.redis.pipeline();
    for (const b of bases) pipe.set(this.k('whc', b), 'done', 'EX', ttlHours * 3600);
    for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
  }
}
