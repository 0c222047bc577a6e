import type { CanonicalOrder } from '../core/canonical/schemas.js';
import { sealFor } from '../core/jwe.js';
import type { EncryptFor, OrderEvent } from './types.js';

/** An event as a sink with `encryptFor` sends it: `personal` is a JWE compact its recipient alone can open. */
export type EventWithPersonal = OrderEvent & { personal?: string };

function pick(order: CanonicalOrder, path: string): unknown {
  let v: unknown = order;
  for (const step of path.split('.')) {
    if (!v || typeof v !== 'object' || !Object.hasOwn(v, step)) return undefined;
    v = (v as Record<string, unknown>)[step];
  }
  return v;
}

/**
 * The order's listed fields, nested as in the canonical order ({"customer":{"email":…},
 * "shippingAddress":{…}}), as JSON sealed for the recipient (content type application/json).
 * Fields the order does not have are left out; with none of them, the event goes without `personal`.
 */
export async function sealPersonal(spec: EncryptFor, event: OrderEvent, order: CanonicalOrder | undefined): Promise<EventWithPersonal> {
  if (!order) return event;
  const out: Record<string, unknown> = {};
  for (const path of spec.fields) {
    const value = pick(order, path);
    if (value === undefined) continue;
    const steps = path.split('.');
    let at = out;
    for (const step of steps.slice(0, -1)) at = (at[step] ??= {}) as Record<string, unknown>;
    at[steps[steps.length - 1]] = value;
  }
  if (!Object.keys(out).length) return event;
  return { ...event, personal: await sealFor(spec.recipient, JSON.stringify(out), { cty: 'application/json' }) };
}
