import type { HttpClient } from '../http.js';
import type { PushItem } from '../types.js';
import { ShopifyOrderWriter } from './orders.js';

/**
 * Write-backs to Shopify: status changes of existing orders and customers. Two
 * implementations behind this one interface, chosen by the connection's `api`
 * option (client.ts): the REST Admin API below (legacy apps) and the GraphQL Admin
 * API (graphql-writes.ts). Both read first and change only what differs, so a
 * retried push changes nothing twice. Each returns the record's Shopify id.
 */
export interface ShopifyWriter {
  /** A status change of an existing order (payload: see OrderStatusPayload in orders.ts). */
  order(item: PushItem, signal?: AbortSignal): Promise<string>;
  /** Update by linked id, else look the email up first, else create (Shopify has no upsert). */
  customer(item: PushItem, signal?: AbortSignal): Promise<string>;
}

/** The REST Admin API writes (`api: rest`). */
export class RestShopifyWriter implements ShopifyWriter {
  private readonly orders: ShopifyOrderWriter;

  constructor(private readonly http: HttpClient, private readonly apiPath: string, connection: string) {
    this.orders = new ShopifyOrderWriter(http, apiPath, connection);
  }

  order(item: PushItem, signal?: AbortSignal): Promise<string> {
    return this.orders.apply(item, signal);
  }

  async customer(item: PushItem, signal?: AbortSignal): Promise<string> {
    let id = item.externalId;
    const email = item.payload.email as string | undefined;
    if (!id && email) {
      const found = await this.http.request<{ customers: { id: number }[] }>({
        method: 'GET', url: `${this.apiPath}/customers/search.json`, params: { query: `email:${email}`, limit: 1 }, signal,
      });
      const hit = found.data.customers?.[0];
      if (hit) id = String(hit.id);
    }
    const res = id
      ? await this.http.request<{ customer: { id: number } }>({ method: 'PUT', url: `${this.apiPath}/customers/${id}.json`, data: { customer: { ...item.payload, id: Number(id) } }, signal })
      : await this.http.request<{ customer: { id: number } }>({ method: 'POST', url: `${this.apiPath}/customers.json`, data: { customer: item.payload }, signal });
    return String(res.data.customer.id);
  }
}
