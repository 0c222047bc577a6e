import type { Hub } from '../jobs/hub.js';
import type { OrderEvent } from '../notify/types.js';

/**
 * A notification of an order's event went out (or ran out of attempts): a step on the order's
 * timeline. Off the data path (the notify worker), so it takes a round trip of its own, plus
 * one to find the order of a payment event by its number.
 */
export async function noteNotification(hub: Hub, pipeline: string, sink: string, event: OrderEvent, outcome: 'delivered' | 'dead_lettered'): Promise<void> {
  const key = event.order?.key ?? (event.payment ? await hub.store.orders.orderKeyByNumber(event.payment.orderNumber) : null);
  if (!key) return;
  await hub.timeline.append(pipeline, [{ key, step: { step: 'notified', sink, event: event.type, outcome } }]);
}
