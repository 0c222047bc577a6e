import type { Entity } from '../../core/canonical/schemas.js';
import { NotSupportedError, RemoteRejectedError } from '../../core/errors.js';
import type { DeletedMark, RemoveOutcome } from '../types.js';
import type { ShopifyGraphql } from './graphql.js';
import { CUSTOMER_DELETE, ORDER_CLOSE, ORDER_DELETE, TAGS_ADD } from './graphql-mutations.js';

interface UserError { field?: string[] | null; message: string; code?: string | null }

/**
 * Removing records in Shopify as a target (a propagated deletion, `onDelete`, or an erasure with
 * --propagate), through the GraphQL Admin API whichever `api` the connection pulls with: the
 * endpoint serves every app with the same token, and the REST Admin API is legacy. One mutation a
 * record (Shopify has no batch delete):
 * - customer delete: `customerDelete`; Shopify refuses a customer who has placed orders, and that
 *   refusal fails the record (delete the customer's data in Shopify's admin: "Erase personal data");
 * - order delete: `orderDelete`, only for the order types Shopify lets go; archive: `orderClose`;
 * - mark (both): `tagsAdd` of the tag `mark.field` (`field:value` when the value is not `true`).
 * A record Shopify no longer has counts as done (orderDelete's NOT_FOUND code; customerDelete's
 * and the others' "not found"/"does not exist" message, which is all they give).
 */
export class ShopifyRemoval {
  constructor(private readonly graphql: ShopifyGraphql, private readonly connection: string) {}

  async remove(entity: Entity, ids: string[], signal?: AbortSignal, mode: 'delete' | 'archive' = 'delete'): Promise<RemoveOutcome[]> {
    if (entity === 'payment' || (entity === 'customer' && mode === 'archive')) throw new NotSupportedError(`shopify cannot ${mode} ${entity} records`);
    return this.each(ids, async (gidOf) => {
      if (entity === 'customer') {
        const d = await this.graphql.query<{ customerDelete: { userErrors: UserError[] } | null }>(CUSTOMER_DELETE, { input: { id: gidOf('Customer') } }, signal);
        return ['customerDelete', d.customerDelete];
      }
      if (mode === 'archive') {
        const d = await this.graphql.query<{ orderClose: { userErrors: UserError[] } | null }>(ORDER_CLOSE, { input: { id: gidOf('Order') } }, signal);
        return ['orderClose', d.orderClose];
      }
      const d = await this.graphql.query<{ orderDelete: { userErrors: UserError[] } | null }>(ORDER_DELETE, { orderId: gidOf('Order') }, signal);
      return ['orderDelete', d.orderDelete];
    });
  }

  async mark(entity: Entity, ids: string[], mark: DeletedMark, signal?: AbortSignal): Promise<RemoveOutcome[]> {
    if (entity === 'payment') throw new NotSupportedError('shopify cannot mark payment records');
    const tag = mark.value === true ? mark.field : `${mark.field}:${String(mark.value)}`;
    return this.each(ids, async (gidOf) => {
      const d = await this.graphql.query<{ tagsAdd: { userErrors: UserError[] } | null }>(TAGS_ADD, { id: gidOf(entity === 'customer' ? 'Customer' : 'Order'), tags: [tag] }, signal);
      return ['tagsAdd', d.tagsAdd];
    });
  }

  private async each(ids: string[], call: (gidOf: (type: string) => string) => Promise<[string, { userErrors: UserError[] } | null]>): Promise<RemoveOutcome[]> {
    const out: RemoveOutcome[] = [];
    for (const id of ids) {
      if (!/^\d{1,20}$/.test(id)) {
        out.push({ id, ok: false, error: new RemoteRejectedError(`${this.connection}: ${id} is not a Shopify id`) });
        continue;
      }
      const [op, payload] = await call((type) => `gid://shopify/${type}/${id}`);
      const errors = payload ? payload.userErrors ?? [] : [{ message: 'answered no payload' }];
      if (!errors.length || errors.every(gone)) out.push({ id, ok: true });
      else {
        const text = errors.map((e) => `${e.message}${e.code ? ` (${e.code})` : ''}`).join('; ');
        out.push({ id, ok: false, error: new RemoteRejectedError(`${this.connection}: ${op} ${id} refused: ${text}`, { status: 422, details: { userErrors: errors } }) });
      }
    }
    return out;
  }
}

const gone = (e: UserError) => e.code === 'NOT_FOUND' || /\b(not found|can't be found|does not exist|doesn't exist)\b/i.test(e.message);
