import nock from 'nock';

/**
 * A stateful Shopify Admin mock for order status writes: GET one order, GraphQL
 * orderMarkAsPaid, cancel, transactions and refunds. It counts each mutation per order.
 */
export function mockShopifyOrderWrites(baseUrl: string, orders: Record<string, any>[], version = '2026-10') {
  const api = `/admin/api/${version}`;
  const byId = () => new Map(orders.map((o) => [String(o.id), o]));
  const mutations: { id: string; kind: 'markAsPaid' | 'cancel' | 'refund' | 'tag'; amount?: string }[] = [];
  const txs = new Map<string, { id: number; kind: string; status: string; amount: string; gateway: string }[]>();
  const scope = nock(baseUrl).persist()
    .get(new RegExp(`^${api}/orders/(\\d+)\\.json`)).reply((uri) => {
      const o = byId().get(/orders\/(\d+)\.json/.exec(uri)![1]);
      return o ? [200, { order: o }] : [404, { errors: 'Not Found' }];
    })
    .post(`${api}/graphql.json`).reply((_uri, body: any) => {
      const id = String(body.variables.input.id).split('/').pop()!;
      const o = byId().get(id);
      if (!o) return [200, { data: { orderMarkAsPaid: { order: null, userErrors: [{ field: ['id'], message: 'Order does not exist' }] } } }];
      mutations.push({ id, kind: 'markAsPaid' });
      o.financial_status = 'paid';
      txs.set(id, [...(txs.get(id) ?? []), { id: Number(id) * 10, kind: 'sale', status: 'success', amount: o.total_price, gateway: 'manual' }]);
      return [200, { data: { orderMarkAsPaid: { order: { id: body.variables.input.id, displayFinancialStatus: 'PAID' }, userErrors: [] } } }];
    })
    .post(new RegExp(`^${api}/orders/(\\d+)/cancel\\.json`)).reply((uri) => {
      const id = /orders\/(\d+)\//.exec(uri)![1];
      const o = byId().get(id)!;
      mutations.push({ id, kind: 'cancel' });
      o.cancelled_at = new Date().toISOString();
      return [200, { order: o }];
    })
    .get(new RegExp(`^${api}/orders/(\\d+)/transactions\\.json`)).reply((uri) => [200, { transactions: txs.get(/orders\/(\d+)\//.exec(uri)![1]) ?? [] }])
    .post(new RegExp(`^${api}/orders/(\\d+)/refunds\\.json`)).reply((uri, body: any) => {
      const id = /orders\/(\d+)\//.exec(uri)![1];
      const o = byId().get(id)!;
      const t = body.refund.transactions[0];
      mutations.push({ id, kind: 'refund', amount: t.amount });
      o.refunds = [...(o.refunds ?? []), { id: Date.now(), transactions: [{ kind: 'refund', status: 'success', amount: t.amount, parent_id: t.parent_id }] }];
      const refunded = o.refunds.flatMap((r: any) => r.transactions).reduce((s: number, x: any) => s + Math.round(Number(x.amount) * 100), 0);
      o.financial_status = refunded >= Math.round(Number(o.total_price) * 100) ? 'refunded' : 'partially_refunded';
      return [201, { refund: { id: 1, order_id: Number(id) } }];
    })
    .put(new RegExp(`^${api}/orders/(\\d+)\\.json`)).reply((uri, body: any) => {
      const id = /orders\/(\d+)\.json/.exec(uri)![1];
      const o = byId().get(id)!;
      mutations.push({ id, kind: 'tag' });
      o.tags = body.order.tags;
      return [200, { order: o }];
    });
  return { scope, mutations };
}
