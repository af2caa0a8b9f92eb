/**
 * Who may read and write what, by role (CONTRACT.md, "Identity"). Decided per
 * request from the verified token; never cached.
 */
import { forbidden } from '../errors.js';
import type { Identity, Role } from './identity.js';

/** Schema coordinates only some roles may read. Anything absent is readable by all. */
const RESTRICTED_READS: Readonly<Record<string, readonly Role[]>> = {
  'Dashboard.revenue': ['ADMIN', 'ANALYST'],
  'Dashboard.averageOrderValue': ['ADMIN', 'ANALYST'],
  'Dashboard.revenueIn': ['ADMIN', 'ANALYST'],
  'ProductSales.revenue': ['ADMIN', 'ANALYST'],
};

/** Every mutation and the roles that may call it. */
const WRITES: Readonly<Record<string, readonly Role[]>> = {
  'Mutation.recordOrder': ['ADMIN', 'ANALYST'],
  'Mutation.recordSession': ['ADMIN', 'ANALYST'],
  'Mutation.invalidateMetrics': ['ADMIN'],
};

/** True when the identity may read the field at `coordinate` (e.g. `Dashboard.revenue`). */
export function canRead(identity: Identity, coordinate: string): boolean {
  const allowed = RESTRICTED_READS[coordinate];
  return allowed === undefined || allowed.includes(identity.role);
}

/** @throws DomainError E_FORBIDDEN when the role may not read `coordinate`. */
export function assertCanRead(identity: Identity, coordinate: string): void {
  if (!canRead(identity, coordinate)) {
    throw forbidden(`Role ${identity.role} may not read ${coordinate}.`, { coordinate, role: identity.role });
  }
}

/** @throws DomainError E_FORBIDDEN when the role may not call the mutation at `coordinate`. */
export function assertCanWrite(identity: Identity, coordinate: string): void {
  const allowed = WRITES[coordinate] ?? [];
  if (!allowed.includes(identity.role)) {
    throw forbidden(
      `Role ${identity.role} may not call ${coordinate}; it needs ${allowed.join(' or ') || 'a role that does not exist'}.`,
      { coordinate, role: identity.role },
    );
  }
}
