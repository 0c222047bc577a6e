import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { RemoteUnavailableError } from '../core/errors.js';
import { routingKey, type OrderEvent, type RabbitSink } from './types.js';

interface Open { conn: ChannelModel; channel: ConfirmChannel }

/**
 * Publishes order events to a RabbitMQ topic exchange with publisher confirms:
 * a publish counts only once the broker confirmed it. One connection per broker
 * URL and exchange, reopened after it fails.
 */
export class RabbitPublisher {
  private readonly open = new Map<string, Promise<Open>>();

  private connect(sink: RabbitSink): Promise<Open> {
    const key = `${sink.url}\0${sink.exchange}`;
    let p = this.open.get(key);
    if (!p) {
      p = (async () => {
        // Loaded on the first publish: a worker whose pipelines have no RabbitMQ sink never loads amqplib.
        const { default: amqp } = await import('amqplib');
        const conn = await amqp.connect(sink.url);
        const forget = () => this.open.delete(key);
        conn.on('error', forget);
        conn.on('close', forget);
        const channel = await conn.createConfirmChannel();
        channel.on('error', forget);
        channel.on('close', forget);
        await channel.assertExchange(sink.exchange, 'topic', { durable: true });
        return { conn, channel };
      })();
      this.open.set(key, p);
      p.catch(() => this.open.delete(key));
    }
    return p;
  }

  async publish(sink: RabbitSink, event: OrderEvent): Promise<{ routingKey: string }> {
    const key = routingKey(event);
    try {
      const { channel } = await this.connect(sink);
      await new Promise<void>((resolve, reject) => {
        channel.publish(sink.exchange, key, Buffer.from(JSON.stringify(event)), {
          persistent: true, contentType: 'application/json', messageId: event.id, type: event.type, timestamp: Math.floor(Date.now() / 1000),
        }, (err) => (err ? reject(err) : resolve()));
      });
      return { routingKey: key };
    } catch (err) {
      throw new RemoteUnavailableError(`rabbitmq exchange ${sink.exchange}: publish not confirmed: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(all.map(async (p) => (await p).conn.close()));
  }
}
