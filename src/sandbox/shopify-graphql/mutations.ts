import { getDirectiveValues, type GraphQLDirective } from 'graphql';
import type { CustomerInput } from '../shopify-customer-writes.js';
import type { Refusal } from '../shopify-order-writes.js';
import type { ExecContext, Resolver } from './execute.js';
import { parseGid, type ShopRecords } from './resolvers.js';

/**
 * The write-back mutations of the GraphQL Admin API (2026-10) over the sandbox shop, with the
 * same effects as its REST writes (ShopOrderWrites, ShopCustomerWrites), answered as
 * shopify.dev documents them:
 * - orderMarkAsPaid → OrderMarkAsPaidPayload { order userErrors };
 * - orderCancel → OrderCancelPayload { job orderCancelUserErrors }: the order is cancelled by a
 *   background Job (objects/Job: `done` says whether it has run), not before the answer;
 *   `job(id:)` reports it;
 * - refundCreate → RefundCreatePayload { refund order userErrors }, only with
 *   `@idempotent(key:)` (mandatory since 2026-04, shopify.dev changelog "Making idempotency
 *   mandatory for inventory adjustments and refund mutations"): the same key with the same
 *   input answers the original refund and refunds nothing more (api/usage/idempotent-requests);
 * - tagsAdd → TagsAddPayload { node userErrors };
 * - customerCreate / customerUpdate → { customer userErrors }.
 * A refusal (a cancelled order marked paid, a refund beyond what was paid, a taken email) is a
 * userError in an HTTP 200 answer, as Shopify gives it; what the sandbox does not model is a
 * GraphQL error naming it, never a silent success.
 */

interface CancelJob { id: string; orderId: number; reason: string; dueAt: number; done: boolean }
/** How long an orderCancel job stays queued (ms): 0 = it has run by the time anyone asks `job(id:)`. */
export interface MutationOptions { cancelJobMs?: number }

const IDEMPOTENT_REQUIRED = 'The @idempotent directive is required for this mutation but was not provided.';
const IDEMPOTENCY_KEYS_KEPT = 10_000;
const JOBS_KEPT = 10_000;
const userErrors = (r: Refusal, field: string[]) => [{ field: r.field ?? field, message: r.error }];

export class ShopMutations {
  /** Mutations that changed the shop (no userError; a replayed refund not again), by name: tests and the demo see which API moved it. */
  readonly counts = { orderMarkAsPaid: 0, orderCancel: 0, refundCreate: 0, tagsAdd: 0, customerCreate: 0, customerUpdate: 0 };
  private readonly jobs = new Map<string, CancelJob>();
  /** Refunds made, by idempotency key: the input they were made for and what was answered. */
  private readonly refundsByKey = new Map<string, { input: string; answer: unknown }>();
  private nextJob = 1_025_351_478;

  constructor(private readonly data: ShopRecords, private readonly opts: MutationOptions = {}) {}

  /** Runs a due cancel job: the order is cancelled now (or stays as it is when the cancel is refused by then). */
  private settle(job: CancelJob): CancelJob {
    if (!job.done && Date.now() >= job.dueAt) {
      job.done = true;
      this.data.writes.orders.cancel(job.orderId, job.reason);
    }
    return job;
  }

  private orderId(gid: unknown): number | undefined {
    const g = parseGid(gid);
    return g?.type === 'Order' && this.data.order(g.id) ? g.id : undefined;
  }

  resolvers(): { Mutation: Record<string, Resolver>; job: Resolver } {
    const orders = this.data.writes.orders;
    const customers = this.data.writes.customers;
    const counted = (name: keyof ShopMutations['counts'], run: Resolver): Resolver => (src, a, ctx) => {
      const answer = run(src, a, ctx) as { userErrors?: unknown[] };
      if (answer && !answer.userErrors?.length) this.counts[name]++;
      return answer;
    };
    return {
      job: (_, a) => {
        const job = this.jobs.get(String(a.id));
        return job ? { id: job.id, done: this.settle(job).done } : null;
      },
      Mutation: {
        orderMarkAsPaid: counted('orderMarkAsPaid', (_, a) => {
          const id = this.orderId(a.input?.id);
          const result = id === undefined ? { error: 'Order does not exist' } : orders.markAsPaid(id);
          return 'error' in result ? { order: null, userErrors: userErrors(result, ['id']) } : { order: result.order, userErrors: [] };
        }),
        orderCancel: counted('orderCancel', (_, a) => {
          const id = this.orderId(a.orderId);
          const refuse = (message: string, code: string) => ({ job: null, orderCancelUserErrors: [{ field: ['orderId'], message, code }], userErrors: [{ field: ['orderId'], message }] });
          if (id === undefined) return refuse('Order does not exist', 'NOT_FOUND');
          const order = this.data.order(id)!;
          const queued = [...this.jobs.values()].some((j) => j.orderId === id && !this.settle(j).done);
          if (order.cancelled_at || queued) return refuse('Order has already been cancelled', 'INVALID');
          // The hub records a cancellation the provider already made: a refund through Shopify is not modelled.
          if (a.refundMethod?.originalPaymentMethodsRefund === true || a.refund === true || a.refundMethod?.storeCreditRefund) {
            throw new Error('orderCancel with a refund is not served by the sandbox (refundMethod.originalPaymentMethodsRefund must be false)');
          }
          const job: CancelJob = { id: `gid://shopify/Job/${this.nextJob++}`, orderId: id, reason: String(a.reason).toLowerCase(), dueAt: Date.now() + (this.opts.cancelJobMs ?? 0), done: false };
          if (this.jobs.size >= JOBS_KEPT) this.jobs.delete(this.jobs.keys().next().value!);
          this.jobs.set(job.id, job);
          setTimeout(() => this.settle(job), this.opts.cancelJobMs ?? 0).unref();
          return { job: { id: job.id, done: false }, orderCancelUserErrors: [], userErrors: [] };
        }),
        refundCreate: (_, a, ctx) => {
          const key = idempotencyKey(ctx);
          if (!key) throw new Error(IDEMPOTENT_REQUIRED);
          const input = JSON.stringify(a.input);
          const before = this.refundsByKey.get(key);
          if (before) {
            if (before.input !== input) throw new Error('This idempotency key was already used with a different input');
            return before.answer;
          }
          const id = this.orderId(a.input.orderId);
          if (id === undefined) return { order: null, refund: null, userErrors: [{ field: ['orderId'], message: 'Order does not exist' }] };
          const txs = (a.input.transactions ?? []) as { orderId: string; parentId?: string; amount: string; kind: string }[];
          if (txs.length !== 1 || txs[0].kind !== 'REFUND' || a.input.refundLineItems?.length || a.input.shipping) {
            throw new Error('refundCreate in the sandbox refunds exactly one REFUND transaction against a sale; refundLineItems and shipping are not served');
          }
          const parent = parseGid(txs[0].parentId);
          const result = orders.refund(id, { parentId: parent?.type === 'OrderTransaction' ? parent.id : undefined, amount: txs[0].amount, note: a.input.note });
          if ('error' in result) return { order: null, refund: null, userErrors: userErrors(result, ['transactions']) };
          const answer = { order: result.order, refund: result.refund, userErrors: [] };
          if (this.refundsByKey.size >= IDEMPOTENCY_KEYS_KEPT) this.refundsByKey.delete(this.refundsByKey.keys().next().value!);
          this.refundsByKey.set(key, { input, answer });
          this.counts.refundCreate++;
          return answer;
        },
        tagsAdd: counted('tagsAdd', (_, a) => {
          const g = parseGid(a.id);
          if (g && g.type !== 'Order') throw new Error(`tagsAdd on a ${g.type} is not served by the sandbox: it tags orders (customers' tags are set by customerUpdate)`);
          const id = this.orderId(a.id);
          if (id === undefined) return { node: null, userErrors: [{ field: ['id'], message: 'Order does not exist' }] };
          const result = orders.addTags(id, a.tags);
          return 'error' in result ? { node: null, userErrors: userErrors(result, ['id']) } : { node: { __type: 'Order', src: result.order }, userErrors: [] };
        }),
        customerCreate: counted('customerCreate', (_, a) => {
          if (a.input.id) return { customer: null, userErrors: [{ field: ['id'], message: 'Id must not be set when creating a customer' }] };
          const result = customers.create(a.input as CustomerInput);
          return 'error' in result ? { customer: null, userErrors: userErrors(result, ['input']) } : { customer: result.customer, userErrors: [] };
        }),
        customerUpdate: counted('customerUpdate', (_, a) => {
          const g = parseGid(a.input.id);
          const result = g?.type === 'Customer' ? customers.update(g.id, a.input as CustomerInput) : { error: 'Customer does not exist', field: ['id'] };
          return 'error' in result ? { customer: null, userErrors: userErrors(result, ['id']) } : { customer: result.customer, userErrors: [] };
        }),
      },
    };
  }
}

let idempotent: GraphQLDirective | undefined | null;
/** The key of `@idempotent(key:)` on the mutation field being run. */
function idempotencyKey(ctx: ExecContext): string | undefined {
  if (idempotent === undefined) idempotent = ctx.schema.getDirective('idempotent') ?? null;
  if (!idempotent || !ctx.mutationField) return undefined;
  const key = getDirectiveValues(idempotent, ctx.mutationField, ctx.variables)?.key;
  return typeof key === 'string' && key ? key : undefined;
}
