/**
 * The canonical model: every connector maps its API shape to and from these.
 * `x-sensitive: true` marks personal data: encrypted before anything reaches Redis
 * (see ../crypto.ts), decrypted only in memory right before a push.
 */
export type Entity = 'customer' | 'order' | 'payment';
export const ENTITIES: readonly Entity[] = ['customer', 'order', 'payment'];

export const ORDER_STATUSES = ['pending_payment', 'paid', 'shipped', 'completed', 'cancelled', 'refunded', 'partially_refunded'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed', 'refunded', 'partially_refunded', 'cancelled'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

const decimal = { type: 'string', pattern: '^-?\\d+(\\.\\d+)?$', description: 'Decimal amount as a string, never a float' } as const;
const currency = { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO-4217 code' } as const;
const timestamp = { type: 'string', format: 'date-time' } as const;
const id = { type: 'string', minLength: 1 } as const;
const sensitiveString = { type: 'string', 'x-sensitive': true } as const;

const address = {
  type: 'object',
  'x-sensitive': true,
  additionalProperties: false,
  properties: {
    firstName: { type: 'string' },
    lastName: { type: 'string' },
    company: { type: 'string' },
    line1: { type: 'string' },
    line2: { type: 'string' },
    city: { type: 'string' },
    region: { type: 'string' },
    postalCode: { type: 'string' },
    country: { type: 'string', description: 'ISO-3166 alpha-2 where known' },
    phone: { type: 'string' },
  },
} as const;

export const customerSchema = {
  $id: 'synchub:customer',
  type: 'object',
  additionalProperties: false,
  required: ['externalId', 'updatedAt'],
  anyOf: [{ required: ['email'] }, { required: ['phone'] }, { required: ['lastName'] }],
  properties: {
    externalId: id,
    email: { type: 'string', format: 'email', 'x-sensitive': true },
    phone: sensitiveString,
    firstName: sensitiveString,
    lastName: sensitiveString,
    company: { type: 'string' },
    addresses: { type: 'array', items: address },
    acceptsMarketing: { type: 'boolean' },
    ordersCount: { type: 'integer', minimum: 0 },
    totalSpent: decimal,
    currency,
    tags: { type: 'array', items: { type: 'string' } },
    createdAt: timestamp,
    updatedAt: timestamp,
    /** The customer's segment (src/operations/segments), set by the hub when it pushes a change. */
    segment: { type: 'string' },
  },
} as const;

const lineItem = {
  type: 'object',
  additionalProperties: false,
  // unitPrice is informative and may be absent: a source whose line total does not divide
  // exactly by the quantity (WooCommerce) has no exact unit price; total is what counts.
  required: ['title', 'quantity', 'total'],
  properties: {
    externalId: { type: 'string' },
    sku: { type: 'string' },
    title: { type: 'string' },
    quantity: { type: 'integer', minimum: 0 },
    unitPrice: decimal,
    discount: decimal,
    tax: decimal,
    total: decimal,
  },
} as const;

export const orderSchema = {
  $id: 'synchub:order',
  type: 'object',
  additionalProperties: false,
  required: ['externalId', 'orderNumber', 'status', 'currency', 'total', 'createdAt', 'updatedAt'],
  properties: {
    externalId: id,
    orderNumber: id,
    status: { enum: ORDER_STATUSES },
    /** The source system's own status words, kept for people reading the target. */
    sourceStatus: { type: 'string' },
    currency,
    subtotal: decimal,
    taxTotal: decimal,
    shippingTotal: decimal,
    discountTotal: decimal,
    total: decimal,
    refundedAmount: decimal,
    lineItems: { type: 'array', items: lineItem },
    customer: {
      type: 'object',
      additionalProperties: false,
      properties: {
        externalId: { type: 'string' },
        email: { type: 'string', format: 'email', 'x-sensitive': true },
        phone: sensitiveString,
        firstName: sensitiveString,
        lastName: sensitiveString,
      },
    },
    shippingAddress: address,
    billingAddress: address,
    note: sensitiveString,
    tags: { type: 'array', items: { type: 'string' } },
    paymentFailure: {
      type: 'object',
      additionalProperties: false,
      properties: { code: { type: 'string' }, reason: { type: 'string' }, at: timestamp },
    },
    /** The payments received checked against the total (see core/payments.ts). */
    paymentCheck: {
      type: 'object',
      additionalProperties: false,
      required: ['result', 'expected', 'received', 'currency'],
      properties: { result: { enum: ['match', 'underpaid', 'overpaid', 'currency_mismatch'] }, expected: decimal, received: decimal, currency },
    },
    createdAt: timestamp,
    updatedAt: timestamp,
    paidAt: timestamp,
    cancelledAt: timestamp,
    cancelReason: { type: 'string' },
    /** new: the customer's first paid order across sources (by blind index); returning otherwise. Set by the hub (src/operations/order-types.ts). */
    customerType: { enum: ['new', 'returning'] },
    /** A subscription or repeat order, as its source marks it (in-mappings). */
    recurring: { type: 'boolean' },
  },
} as const;

export const paymentSchema = {
  $id: 'synchub:payment',
  type: 'object',
  additionalProperties: false,
  required: ['externalId', 'provider', 'orderNumber', 'status', 'amount', 'currency', 'occurredAt'],
  properties: {
    externalId: id,
    provider: { type: 'string' },
    orderNumber: id,
    status: { enum: PAYMENT_STATUSES },
    sourceStatus: { type: 'string' },
    amount: decimal,
    currency,
    refundedAmount: decimal,
    /** When a provider reports each refund on its own (refundedAmount is then that refund's amount, not a running total). */
    refundId: { type: 'string' },
    failureCode: { type: 'string' },
    failureReason: { type: 'string' },
    payerEmail: { type: 'string', 'x-sensitive': true },
    occurredAt: timestamp,
  },
} as const;

export const canonicalSchemas: Record<Entity, object> = {
  customer: customerSchema,
  order: orderSchema,
  payment: paymentSchema,
};

export interface Address {
  firstName?: string; lastName?: string; company?: string; line1?: string; line2?: string;
  city?: string; region?: string; postalCode?: string; country?: string; phone?: string;
}

export interface CanonicalCustomer {
  externalId: string; email?: string; phone?: string; firstName?: string; lastName?: string; company?: string;
  addresses?: Address[]; acceptsMarketing?: boolean; ordersCount?: number; totalSpent?: string; currency?: string;
  tags?: string[]; createdAt?: string; updatedAt: string; segment?: string;
}

export interface CanonicalLineItem {
  externalId?: string; sku?: string; title: string; quantity: number; unitPrice?: string; discount?: string; tax?: string; total: string;
}

export interface CanonicalOrder {
  externalId: string; orderNumber: string; status: OrderStatus; sourceStatus?: string; currency: string;
  subtotal?: string; taxTotal?: string; shippingTotal?: string; discountTotal?: string; total: string; refundedAmount?: string;
  lineItems?: CanonicalLineItem[];
  customer?: { externalId?: string; email?: string; phone?: string; firstName?: string; lastName?: string };
  shippingAddress?: Address; billingAddress?: Address; note?: string; tags?: string[];
  paymentFailure?: { code?: string; reason?: string; at?: string };
  paymentCheck?: { result: 'match' | 'underpaid' | 'overpaid' | 'currency_mismatch'; expected: string; received: string; currency: string };
  createdAt: string; updatedAt: string; paidAt?: string; cancelledAt?: string; cancelReason?: string;
  customerType?: 'new' | 'returning'; recurring?: boolean;
}

export interface CanonicalPayment {
  externalId: string; provider: string; orderNumber: string; status: PaymentStatus; sourceStatus?: string;
  amount: string; currency: string; refundedAmount?: string; failureCode?: string; failureReason?: string;
  payerEmail?: string; occurredAt: string;
}

export type CanonicalRecord = CanonicalCustomer | CanonicalOrder | CanonicalPayment;
