/**
 * Protected customer data (shopify.dev apps/launch/protected-customer-data): an app not
 * approved for Level 2 (name, address, phone, email) gets those fields redacted. In a
 * GraphQL answer the data still comes, with null where a protected field was, and
 * `errors[]` name each withheld field by `path` with a message such as "This app is not
 * approved to access the Customer object" or "This app is not approved to use the email
 * field" (extensions.code ACCESS_DENIED; the same text Shopify's REST answers carry, and
 * what client libraries report, e.g. MONEI/Shopify-api-node#672). Such an answer is not a
 * failed query: the records come through, but a customer left with no name, email or
 * phone is not pushed as an empty contact, and the connection reports it once.
 * A plain "Access denied for X field. Required access: …" is a missing scope, not this.
 */

export interface GraphqlError { message?: string; extensions?: { code?: string }; path?: (string | number)[] }

/** Whether the error says a protected customer field or object was withheld. */
export function isProtectedDataError(e: GraphqlError | undefined): boolean {
  const m = typeof e?.message === 'string' ? e.message.slice(0, 500) : '';
  return m.includes('not approved to access') || m.includes('not approved to use') || m.includes('protected customer data');
}

/** Indexes of `nodes` in the `root` connection whose fields were withheld (path `[root, "nodes", i, …]`). */
export function withheldNodes(errors: GraphqlError[], root: string): Set<number> {
  const out = new Set<number>();
  for (const e of errors) {
    const p = e.path;
    if (Array.isArray(p) && p[0] === root && p[1] === 'nodes' && typeof p[2] === 'number') out.add(p[2]);
  }
  return out;
}

const hasContact = (r: Record<string, any> | null | undefined) => Boolean(r && (r.email || r.phone || r.first_name || r.last_name));

/**
 * A REST-shaped record some of whose fields were withheld: a customer with no contact field
 * left is dropped (false); an order keeps its amounts and loses a customer that has no
 * contact field left, so it names no empty contact.
 */
export function keepWithheld(entity: string, record: Record<string, any>): boolean {
  if (entity === 'customer') return hasContact(record);
  if (entity === 'order' && record.customer && !hasContact(record.customer)) record.customer = null;
  return true;
}

export function withheldMessage(entity: string): string {
  const what = entity === 'customer'
    ? 'customers left without any name, email or phone are not pushed'
    : 'orders are pulled without them and name no contact';
  return `Shopify withholds protected customer data (name, email, phone, address) of ${entity}s from this app because it lacks protected customer data access; ${what}. Request access (Partner/Dev Dashboard → API access → Protected customer data, shopify.dev apps/launch/protected-customer-data), then run the pipeline with --full`;
}
