import { RemoteRejectedError, SynchubError } from '../core/errors.js';
import type { WebhookSubscription, WebhookSubscriptionChange } from './types.js';

/** Pages of a provider's subscription list read at most: the work one command causes stays bounded. */
export const MAX_SUBSCRIPTION_PAGES = 50;

/**
 * Creates one subscription per missing topic, in order. A refusal part-way is an error that also
 * names what was created before it, so the user knows a re-run creates only what is still missing.
 */
export async function createEachTopic(missing: string[], create: (topic: string) => Promise<WebhookSubscription>): Promise<WebhookSubscriptionChange[]> {
  const changes: WebhookSubscriptionChange[] = [];
  for (const topic of missing) {
    try {
      changes.push({ action: 'created', subscription: await create(topic) });
    } catch (err) {
      if (!changes.length) throw err;
      const made = changes.map((c) => `${c.subscription.topics.join(',')} (${c.subscription.id})`).join(', ');
      const message = `${(err as Error).message} — created before this: ${made}; run subscribe again once fixed (it creates only what is missing)`;
      if (err instanceof SynchubError) throw new SynchubError(err.code, message, { details: err.details, retryable: err.retryable });
      throw new RemoteRejectedError(message);
    }
  }
  return changes;
}

/** A list answer that is not the documented shape is refused with what it held, never read as "none". */
export function listShapeError(connection: string, what: string, data: unknown): RemoteRejectedError {
  const keys = data && typeof data === 'object' ? Object.keys(data as object).slice(0, 10) : typeof data;
  return new RemoteRejectedError(`${connection}: ${what} answer is not the documented shape`, { details: { keys } });
}
