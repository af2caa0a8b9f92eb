/**
 * Who may read and write what, by role (CONTRACT.md, "Identity"). Decided per
 * request from the verified token; never cached. Who may read a metric is part of
 * its declaration (src/metrics/definitions.ts); the registry turns those into rules
 * by schema coordinate.
 */
import { forbidden } from '../errors.js';
import { DASHBOARD_REGISTRY } from '../metrics/registry.js';
import type { Identity, Role } from './identity.js';

/** Schema coordinate → the roles that may read it; coordinates absent are readable by all. */
export type ReadRules = ReadonlyMap<string, readonly Role[]>;

/** Every mutation and the roles that may call it. */
const WRITES: Readonly<Record<string, readonly Role[]>> = {
  'Mutation.recordOrder': ['ADMIN', 'ANALYST'],
  'Mutation.recordSession': ['ADMIN', 'ANALYST'],
  'Mutation.invalidateMetrics': ['ADMIN'],
};

/**
 * True when the identity may read the field at `coordinate` (e.g. `Dashboard.revenue`).
 * @param rules @default the dashboard's metric declarations
 */
export function canRead(identity: Identity, coordinate: string, rules: ReadRules = DASHBOARD_REGISTRY.readRules): boolean {
  const allowed = rules.get(coordinate);
  return allowed === undefined || allowed.includes(identity.role);
}

/** @throws DomainError E_FORBIDDEN when the role may not read `coordinate`. */
export function assertCanRead(identity: Identity, coordinate: string, rules: ReadRules = DASHBOARD_REGISTRY.readRules): void {
  if (!canRead(identity, coordinate, rules)) {
    throw forbidden(`Role ${identity.role} may not read ${coordinate}.`, { coordinate, role: identity.role });
  }
}

/** @throws DomainError E_FORBIDDEN when the role may not call the mutation at `coordinate`. */
export function assertCanWrite(identity: Identity, coordinate: string): void {
  const allowed = WRITES[coordinate] ?? [];
  if (!allowed.includes(identity.role)) {
    throw forbidden(`Role ${identity.role} may not call ${coordinate}; it needs ${allowed.join(' or ') || 'a role that does not exist'}.`, {
      coordinate,
      role: identity.role,
    });
  }
}
