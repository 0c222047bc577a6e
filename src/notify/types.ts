/**
 * Order events: order status changes and payment results as the hub applied them.
 * They go to the bounded Redis stream behind GET /api/events and to each
 * pipeline's notification sinks. They carry no personal data.
 */
export interface OrderEvent {
  /** Stable id of the change (the same change applied twice has the same id): receivers dedupe on it. */
  id: string;
  type: 'order.status' | 'payment.result';
  pipeline: string;
  /** When the change happened at the source. */
  at: string;
  order?: { key: string; orderNumber: string; status: string; previousStatus?: string; currency: string; total: string };
  payment?: { externalId: string; provider: string; orderNumber: string; status: string; previousStatus?: string; amount: string; currency: string; failureCode?: string };
}

/** `order.<status>` for order changes, `payment.<status>` for payment results. */
export function routingKey(e: OrderEvent): string {
  return e.order ? `order.${e.order.status}` : `payment.${e.payment!.status}`;
}

export interface WebhookSink {
  type: 'webhook';
  url: string;
  /** HMAC-SHA256 key of X-Synchub-Signature. */
  secret: string;
  /** Default 6. */
  attempts: number;
  /** First retry delay, doubled each attempt. Default 1000. */
  backoffMs: number;
  /** Default 10000. */
  timeoutMs: number;
}

export interface RabbitSink {
  type: 'rabbitmq';
  /** amqp:// URL with credentials. */
  url: string;
  /** Topic exchange, declared durable. */
  exchange: string;
  attempts: number;
  backoffMs: number;
}

export type NotifySink = WebhookSink | RabbitSink;

export interface NotifyJobData {
  pipeline: string;
  /** Index of the sink in the pipeline's `notify` list. */
  sink: number;
  event: OrderEvent;
}

export const NOTIFY_QUEUE = '{notify}';
