export { prng } from '../core/prng.js';
/**
 * Deterministic demo data shaped like Shopify's Admin REST examples
 * (order, customer), so the demo and the benchmarks need no network.
 */
const FIRST = ['Bob', 'Alice', 'Chen', 'Fatima', 'Jonas', 'Maria', 'Kenji', 'Amara', 'Lucas', 'Priya', 'Omar', 'Sofia'];
const LAST = ['Norman', 'Smith', 'Wang', 'Haddad', 'Berg', 'Garcia', 'Sato', 'Okafor', 'Silva', 'Patel', 'Farouk', 'Rossi'];
const PRODUCTS = [
  { title: 'IPod Nano - 8GB', sku: 'IPOD2008GREEN', price: '199.00' },
  { title: 'Wool socks', sku: 'SOCK-01', price: '12.50' },
  { title: 'Espresso beans 1kg', sku: 'BEAN-1KG', price: '24.99' },
  { title: 'Canvas tote', sku: 'TOTE-02', price: '18.00' },
  { title: 'Ceramic mug', sku: 'MUG-11', price: '9.95' },
];
const FINANCIAL = ['paid', 'paid', 'paid', 'pending', 'refunded', 'partially_refunded', 'authorized'];

export interface ShopifyCustomer {
  id: number; email: string; first_name: string; last_name: string; phone: string | null; created_at: string; updated_at: string;
  orders_count: number; total_spent: string; currency: string; tags: string; verified_email: boolean;
  email_marketing_consent: { state: string; opt_in_level: string; consent_updated_at: string | null };
  addresses: Record<string, unknown>[]; default_address: Record<string, unknown>;
}

function cents(s: string): number {
  const [i, f = ''] = s.split('.');
  return Number(i) * 100 + Number(f.padEnd(2, '0'));
}
function money(c: number): string {
  return `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;
}

export function makeCustomer(n: number, at: Date): ShopifyCustomer {
  const first = FIRST[n % FIRST.length];
  const last = LAST[Math.floor(n / FIRST.length) % LAST.length];
  const address = {
    id: 1_000_000 + n, customer_id: 207_119_551 + n, first_name: first, last_name: last, company: null,
    address1: `${(n % 200) + 1} Chestnut Street`, address2: '', city: 'Louisville', province: 'Kentucky', country: 'United States',
    zip: '40202', phone: `555-01${String(n % 100).padStart(2, '0')}`, country_code: 'US', province_code: 'KY', default: true,
  };
  const ts = at.toISOString().replace('.000Z', 'Z');
  return {
    id: 207_119_551 + n, email: `${first}.${last}.${n}@example.com`.toLowerCase(), first_name: first, last_name: last,
    phone: `+1555${String(1_000_000 + n).slice(-7)}`, created_at: ts, updated_at: ts, orders_count: 0, total_spent: '0.00',
    currency: 'USD', tags: n % 3 === 0 ? 'vip' : '', verified_email: true,
    email_marketing_consent: { state: n % 2 ? 'subscribed' : 'not_subscribed', opt_in_level: 'single_opt_in', consent_updated_at: null },
    addresses: [address], default_address: address,
  };
}

/** `lineItems` sets how many line items the order has (default 1-3), e.g. more than one GraphQL page of them. */
export function makeOrder(n: number, customer: ShopifyCustomer, at: Date, rand: () => number, opts: { lineItems?: number; financialStatus?: string } = {}): Record<string, unknown> {
  const lines = [];
  let subtotal = 0;
  const drawn = 1 + Math.floor(rand() * 3);
  const count = opts.lineItems ?? drawn;
  for (let i = 0; i < count; i++) {
    const p = PRODUCTS[Math.floor(rand() * PRODUCTS.length)];
    const quantity = 1 + Math.floor(rand() * 3);
    subtotal += cents(p.price) * quantity;
    lines.push({
      id: i < 10 ? 466_157_049 + n * 10 + i : 900_000_000 + n * 1000 + i, variant_id: 39_072_856 + i, title: p.title, name: p.title, sku: p.sku, quantity, price: p.price,
      total_discount: '0.00', taxable: true, tax_lines: [{ title: 'State Tax', price: money(Math.round(cents(p.price) * quantity * 0.06)), rate: 0.06 }],
    });
  }
  const tax = lines.reduce((s, l) => s + cents((l.tax_lines[0] as { price: string }).price), 0);
  const shipping = n % 4 === 0 ? 0 : 500;
  const discount = n % 5 === 0 ? 100 : 0;
  const total = subtotal + tax + shipping - discount;
  const financial = opts.financialStatus ?? FINANCIAL[n % FINANCIAL.length];
  const ts = at.toISOString().replace('.000Z', 'Z');
  const refundCents = financial === 'refunded' ? total : financial === 'partially_refunded' ? Math.floor(total / 2) : 0;
  const addr = customer.default_address;
  return {
    id: 450_789_469 + n, admin_graphql_api_id: `gid://shopify/Order/${450_789_469 + n}`, name: `#${1001 + n}`, order_number: 1001 + n,
    email: customer.email, phone: null, created_at: ts, updated_at: ts, processed_at: ts, closed_at: null, cancelled_at: null, cancel_reason: null,
    currency: 'USD', presentment_currency: 'USD', financial_status: financial, fulfillment_status: n % 6 === 0 && financial === 'paid' ? 'fulfilled' : null,
    subtotal_price: money(subtotal), total_tax: money(tax), total_discounts: money(discount), total_price: money(total),
    total_shipping_price_set: { shop_money: { amount: money(shipping), currency_code: 'USD' }, presentment_money: { amount: money(shipping), currency_code: 'USD' } },
    shipping_lines: [{ id: 369_256_396 + n, title: 'Standard', price: money(shipping), code: 'Standard' }],
    line_items: lines, tags: '', note: null, test: false,
    customer: { id: customer.id, email: customer.email, first_name: customer.first_name, last_name: customer.last_name, phone: customer.phone },
    billing_address: { ...addr, id: undefined, customer_id: undefined, default: undefined },
    shipping_address: { ...addr, id: undefined, customer_id: undefined, default: undefined },
    refunds: refundCents
      ? [{ id: 509_562_969 + n, order_id: 450_789_469 + n, created_at: ts, transactions: [{ id: 179_259_969 + n, kind: 'refund', status: 'success', amount: money(refundCents), currency: 'USD' }] }]
      : [],
  };
}
