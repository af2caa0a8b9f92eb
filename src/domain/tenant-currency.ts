/**
 * The currency a tenant's amounts are in, which `revenueIn` needs on every request.
 * It hardly ever changes, so a minute-old answer is fine and spares the source a
 * query per request; while the source is down, the last answer is kept, however old.
 */
import { unavailable } from '../errors.js';
import type { WriteSource } from '../source/writes.js';

/** How long a tenant's currency is remembered. */
export const CURRENCY_MEMORY_MS = 60_000;
/** Tenants remembered at most; past that the memory starts over (bounded, like every cache here). */
const MAX_TENANTS = 10_000;

interface Known {
  currency: Promise<string>;
  until: number;
  /** The last currency the source gave, served when it fails. */
  last: string | undefined;
}

/**
 * @returns the tenant's ISO 4217 code, USD for an unknown tenant. A failed lookup is not
 *   remembered: it answers the last code known for the tenant, else fails with
 *   E_UNAVAILABLE (GraphQL `SERVICE_UNAVAILABLE`).
 */
export function createCurrencyLookup(writes: Pick<WriteSource, 'tenant'>, clock: () => number): (tenant: string) => Promise<string> {
  const known = new Map<string, Known>();
  return (tenant) => {
    const hit = known.get(tenant);
    if (hit && hit.until > clock()) return hit.currency;
    const last = hit?.last;
    const entry: Known = { currency: Promise.resolve(''), until: clock() + CURRENCY_MEMORY_MS, last };
    entry.currency = writes.tenant(tenant).then(
      (row) => (entry.last = row?.currency ?? 'USD'),
      (cause: unknown) => {
        if (last !== undefined) return last;
        if (known.get(tenant) === entry) known.delete(tenant);
        throw unavailable(
          "The tenant's currency is unknown here and the source database is not answering; try again in a moment.",
          {},
          cause,
        );
      },
    );
    if (known.size > MAX_TENANTS) known.clear();
    known.set(tenant, entry);
    return entry.currency;
  };
}
