import { fromMinorUnits, toMinorUnits } from '../core/money.js';
import type { Logger } from '../core/logger.js';
import type { AlipaySandbox } from './alipay.js';
import type { ShopifySandbox } from './shopify.js';
import { STRIPE_DECLINES, type SandboxOrder, type StripeSandbox } from './stripe.js';

export type PaymentStory = 'paid' | 'paid, delivered twice' | 'declined' | 'refunded' | 'partly refunded' | 'refunded in two parts' | 'refund before its success' | 'cancelled';

/**
 * What happens to the n-th order awaiting payment, in a cycle of 20: most are paid (two of them
 * delivered twice), two are declined (Stripe, with the decline reason), some are refunded in full
 * or in part (one in two parts; one whose refund arrives before its success), two are cancelled.
 * Even orders pay by Stripe, odd ones by Alipay; a decline is always Stripe's (Alipay notifies
 * no failed payment).
 */
export function paymentStory(n: number): { provider: 'stripe' | 'alipay'; story: PaymentStory } {
  const i = n % 20;
  const story: PaymentStory = i === 3 || i === 9 ? 'paid, delivered twice'
    : i === 12 || i === 13 ? 'declined'
    : i === 14 ? 'refunded'
    : i === 15 ? 'partly refunded'
    : i === 16 ? 'refund before its success'
    : i === 17 ? 'refunded in two parts'
    : i === 18 || i === 19 ? 'cancelled'
    : 'paid';
  return { provider: story === 'declined' || n % 2 === 0 ? 'stripe' : 'alipay', story };
}

export interface PaymentFeedTargets {
  /** The hub's webhook URLs of the two payment connections. */
  stripeUrl: string;
  alipayUrl: string;
  stripeSecret: string;
}

/**
 * Posts signed payment results for the shop's orders awaiting payment, one order per tick, as the
 * Stripe- and Alipay-shaped sandboxes would: the hub applies them to the order in the shop and the CRM.
 */
export class PaymentFeed {
  private readonly handled = new Set<number>();
  private started = 0;
  /** Deliveries posted per provider, and the answers that were not 2xx. */
  readonly counts = { stripe: 0, alipay: 0, refused: 0 };
  readonly stories = new Map<PaymentStory, number>();

  constructor(
    private readonly shop: ShopifySandbox,
    private readonly stripe: StripeSandbox,
    private readonly alipay: AlipaySandbox,
    private readonly targets: PaymentFeedTargets,
    private readonly logger: Logger,
  ) {}

  /** The oldest order still awaiting payment that has no payment story yet. */
  private nextOrder(): Record<string, any> | undefined {
    return (this.shop.orders as Record<string, any>[]).find((o) => o.financial_status === 'pending' && !o.cancelled_at && !this.handled.has(o.id));
  }

  /** Plays the next order's story; false when no order awaits payment. */
  async tick(): Promise<boolean> {
    const o = this.nextOrder();
    if (!o) return false;
    this.handled.add(o.id);
    const order: SandboxOrder = { number: String(o.order_number), total: o.total_price, currency: o.currency };
    const { provider, story } = paymentStory(this.started++);
    this.stories.set(story, (this.stories.get(story) ?? 0) + 1);
    const half = fromMinorUnits(toMinorUnits(order.total, order.currency) / 2n, order.currency);
    const third = fromMinorUnits(toMinorUnits(order.total, order.currency) / 3n, order.currency);
    if (provider === 'stripe') {
      const s = this.stripe;
      const send = (event: Record<string, any>) => this.post('stripe', () => s.post(this.targets.stripeUrl, this.targets.stripeSecret, event));
      switch (story) {
        case 'paid': await send(s.succeed(order)); break;
        case 'paid, delivered twice': { const e = s.succeed(order); await send(e); await send(e); break; }
        case 'declined': await send(s.fail(order, STRIPE_DECLINES[this.started % STRIPE_DECLINES.length])); break;
        case 'refunded': await send(s.succeed(order)); await send(s.refund(order, order.total)); break;
        case 'partly refunded': await send(s.succeed(order)); await send(s.refund(order, half)); break;
        case 'refunded in two parts': await send(s.succeed(order)); await send(s.refund(order, third)); await send(s.refund(order, fromMinorUnits(toMinorUnits(order.total, order.currency) - toMinorUnits(third, order.currency), order.currency))); break;
        case 'refund before its success': { const paid = s.succeed(order); const refund = s.refund(order, order.total); await send(refund); await send(paid); break; }
        case 'cancelled': await send(s.cancel(order)); break;
      }
    } else {
      const a = this.alipay;
      const send = (params: Record<string, string>) => this.post('alipay', async () => {
        const res = await a.post(this.targets.alipayUrl, params);
        return res.status === 200 && res.text === 'success' ? 200 : res.status === 200 ? 503 : res.status;
      });
      switch (story) {
        case 'paid': await send(a.succeed(order)); break;
        case 'paid, delivered twice': { const p = a.succeed(order); await send(p); await send(p); break; }
        case 'refunded': await send(a.succeed(order)); await send(a.refund(order, order.total)); break;
        case 'partly refunded': await send(a.succeed(order)); await send(a.refund(order, half)); break;
        case 'refunded in two parts': await send(a.succeed(order)); await send(a.refund(order, third)); await send(a.refund(order, order.total)); break;
        case 'refund before its success': { const paid = a.succeed(order); const refund = a.refund(order, order.total); await send(refund); await send(paid); break; }
        case 'cancelled': await send(a.close(order)); break;
        case 'declined': break; // never chosen for Alipay (paymentStory)
      }
    }
    this.logger.info({ order: order.number, provider, story }, `demo: ${provider} posted the payment result of order ${order.number} (${story})`);
    return true;
  }

  private async post(provider: 'stripe' | 'alipay', send: () => Promise<number>): Promise<void> {
    this.counts[provider]++;
    const status = await send();
    if (status < 200 || status >= 300) {
      this.counts.refused++;
      this.logger.warn({ provider, status }, 'demo: the hub did not accept a payment result');
    }
  }
}
