/**
 * The currency a tenant's amounts are in, which `revenueIn` needs on every request.
 * It hardly ever changes, so a minute-old answer is fine and spares the source a
 * query per request.
 */
import type { WriteSource } from '../source/writes.js';

/** How long a tenant's currency is remembered. */
export const CURRENCY_MEMORY_MS = 60_000;
/** Tenants remembered at most; past that the memory starts over (bounded, like every cache here). */
const MAX_TENANTS = 10_000;

/** @returns the tenant's ISO 4217 code, USD for an unknown tenant. A failed lookup is not remembered. */
export function createCurrencyLookup(writes: Pick<WriteSource, 'tenant'>, clock: () => number): (tenant: string) => Promise<string> {
  const known = new Map<string, { currency: Promise<string>; until: number }>();
  return (tenant) => {
    const hit = known.get(tenant);
    if (hit && hit.until > clock()) return hit.currency;
    const currency = writes.tenant(tenant).then((row) => row?.currency ?? 'USD');
    currency.catch(() => known.delete(tenant));
    if (known.size > MAX_TENANTS) known.clear();
    known.set(tenant, { currency, until: clock() + CURRENCY_MEMORY_MS });
    return currency;
  };
}
