import type { ShopifyCustomer } from './data.js';
import type { Refusal } from './shopify-order-writes.js';

/** CustomerInput and MailingAddressInput as shopify.dev documents them (input-objects/CustomerInput, …/MailingAddressInput). */
export interface CustomerInput {
  id?: string; email?: string | null; phone?: string | null; firstName?: string | null; lastName?: string | null; note?: string | null;
  tags?: string[] | null; addresses?: MailingAddressInput[] | null;
}
export interface MailingAddressInput {
  firstName?: string; lastName?: string; company?: string; address1?: string; address2?: string; city?: string;
  province?: string; provinceCode?: string; zip?: string; countryCode?: string; phone?: string;
}

const MAX_ADDRESSES = 100;
/** Shopify's own check is laxer than RFC 5322; this refuses what clearly is not an address. */
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/**
 * `customerCreate` and `customerUpdate` over the sandbox shop's customers (the records REST
 * and GraphQL read), with the userErrors Shopify gives for a taken or malformed email
 * (shopify.dev mutations/customerCreate, mutations/customerUpdate). New customers get the
 * next id above the highest, so the list stays in id order as the readers' binary search
 * needs. The update leaves addresses alone unless the input sets them.
 */
export class ShopCustomerWrites {
  /** Writes received, by kind (tests). */
  readonly counts = { create: 0, update: 0 };
  private nextAddressId = 5_000_000;

  constructor(private readonly customers: ShopifyCustomer[], private readonly byId: (id: number) => ShopifyCustomer | undefined) {}

  private now(): string {
    return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private check(input: CustomerInput, self?: number): Refusal | undefined {
    if (input.email !== undefined && input.email !== null && input.email !== '') {
      if (!EMAIL.test(input.email)) return { error: 'Email is invalid', field: ['email'] };
      const lower = input.email.toLowerCase();
      if (this.customers.some((c) => c.id !== self && c.email?.toLowerCase() === lower)) return { error: 'Email has already been taken', field: ['email'] };
    }
    if (input.addresses && input.addresses.length > MAX_ADDRESSES) return { error: `A customer can have at most ${MAX_ADDRESSES} addresses`, field: ['addresses'] };
    return undefined;
  }

  private address(customerId: number, a: MailingAddressInput, first: boolean): Record<string, unknown> {
    return {
      id: this.nextAddressId++, customer_id: customerId, first_name: a.firstName ?? null, last_name: a.lastName ?? null, company: a.company ?? null,
      address1: a.address1 ?? null, address2: a.address2 ?? null, city: a.city ?? null, province: a.province ?? null, province_code: a.provinceCode ?? null,
      country: null, country_code: a.countryCode ?? null, zip: a.zip ?? null, phone: a.phone ?? null, default: first,
    };
  }

  private apply(c: ShopifyCustomer, input: CustomerInput): void {
    if (input.email !== undefined) c.email = input.email ?? '';
    if (input.phone !== undefined) c.phone = input.phone ?? null;
    if (input.firstName !== undefined) c.first_name = input.firstName ?? '';
    if (input.lastName !== undefined) c.last_name = input.lastName ?? '';
    if (input.note !== undefined) (c as ShopifyCustomer & { note?: string | null }).note = input.note;
    if (input.tags !== undefined) c.tags = (input.tags ?? []).join(', ');
    if (input.addresses) {
      c.addresses = input.addresses.map((a, i) => this.address(c.id, a, i === 0));
      c.default_address = c.addresses[0];
    }
    c.updated_at = this.now();
  }

  create(input: CustomerInput): { customer: ShopifyCustomer } | Refusal {
    const refused = this.check(input);
    if (refused) return refused;
    const id = (this.customers.at(-1)?.id ?? 207_119_550) + 1;
    const at = this.now();
    const customer: ShopifyCustomer = {
      id, email: '', first_name: '', last_name: '', phone: null, created_at: at, updated_at: at, orders_count: 0, total_spent: '0.00',
      currency: 'USD', tags: '', verified_email: false,
      email_marketing_consent: { state: 'not_subscribed', opt_in_level: 'single_opt_in', consent_updated_at: null },
      addresses: [], default_address: null as unknown as Record<string, unknown>, // none until an address is given
    };
    this.apply(customer, input);
    this.customers.push(customer);
    this.counts.create++;
    return { customer };
  }

  update(id: number, input: CustomerInput): { customer: ShopifyCustomer } | Refusal {
    const customer = this.byId(id);
    if (!customer) return { error: 'Customer does not exist', field: ['id'], notFound: true };
    const refused = this.check(input, id);
    if (refused) return refused;
    this.apply(customer, input);
    this.counts.update++;
    return { customer };
  }
}
