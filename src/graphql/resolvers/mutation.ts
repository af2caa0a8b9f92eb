/** Mutations: authorize from the token, then hand the input to the recorder. */
import { assertCanWrite } from '../../auth/policy.js';
import { validateRange } from '../../domain/validation.js';
import type { MutationResolvers, OrderResolvers, SessionResolvers } from '../resolvers.generated.js';

/**
 * The mutations: each checks the role may call it (FORBIDDEN otherwise), then the
 * recorder or the invalidation service does the work and returns once invalidation is
 * done.
 */
export const Mutation: MutationResolvers = {
  recordOrder(_, { input }, { identity, services }) {
    assertCanWrite(identity, 'Mutation.recordOrder');
    return services.recorder.recordOrder(identity, input);
  },
  recordSession(_, { input }, { identity, services }) {
    assertCanWrite(identity, 'Mutation.recordSession');
    return services.recorder.recordSession(identity, input);
  },
  invalidateMetrics(_, { metrics, range }, { identity, services }) {
    assertCanWrite(identity, 'Mutation.invalidateMetrics');
    if (range) validateRange(range.from, range.to, 'DAY', 'range');
    return services.invalidation.manual(identity.tenant, metrics ?? undefined, range ?? undefined);
  },
};

/** `Order`: its amount in major units, from the row's integer cents. */
export const Order: OrderResolvers = {
  amount: (row) => row.amountCents / 100,
};

/** `Session`: every field is the row's own. */
export const Session: SessionResolvers = {};
