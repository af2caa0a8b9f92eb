/**
 * The write side: validate, write the row once, then publish the domain event.
 * The event goes out only after the row is committed, so that a listener that
 * reacts to it (invalidation, subscribers) never sees data that is not there.
 */
import { randomUUID } from 'node:crypto';
import type { Identity } from '../auth/identity.js';
import { forbidden, invalidInput, unavailable } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { DomainEvent } from '../events/types.js';
import type { OrderRow, SessionRow } from '../source/types.js';
import type { WriteSource } from '../source/writes.js';
import { resolveRegion, validateAmount, validateId, validateOccurredAt } from './validation.js';

/**
 * `recordOrder`'s input as the caller sent it, before validation: ids are trimmed and
 * checked, `amount` is in major units with at most two decimals, `region` defaults to the
 * token's, then the tenant's home region, and `occurredAt` to now.
 */
export interface RecordOrderInput {
  productId: string;
  customerId: string;
  amount: number;
  region?: string | null | undefined;
  /** Epoch ms. */
  occurredAt?: number | null | undefined;
}

/** `recordSession`'s input as the caller sent it; `region` and `occurredAt` default as for an order. */
export interface RecordSessionInput {
  visitorId: string;
  region?: string | null | undefined;
  /** Epoch ms. */
  occurredAt?: number | null | undefined;
}

/**
 * The write side. `recordOrder` and `recordSession` validate, write the row, then
 * publish its domain event on the bus, and resolve once its listeners (invalidation)
 * are done, so that a read after them sees the write. They throw DomainError
 * E_INVALID_INPUT for bad input and E_FORBIDDEN for a tenant the database does not have.
 */
export interface Recorder {
  recordOrder(identity: Identity, input: RecordOrderInput): Promise<OrderRow>;
  recordSession(identity: Identity, input: RecordSessionInput): Promise<SessionRow>;
  /**
   * Ingests an event another service published: writes its row once (a repeated id
   * changes nothing), then publishes it like our own writes. Publishing a repeat is
   * harmless (invalidation is idempotent) and covers a crash between write and publish.
   * @returns whether the row was new.
   */
  ingest(event: DomainEvent): Promise<boolean>;
}

/** What the recorder writes to and publishes on. */
export interface RecorderDeps {
  writes: WriteSource;
  bus: EventBus;
  /** Epoch ms now. */
  clock: () => number;
}

/**
 * A source call of a mutation. A source that fails, or answers nothing within
 * DATABASE_QUERY_TIMEOUT_MS, fails the mutation with E_UNAVAILABLE (`SERVICE_UNAVAILABLE`)
 * rather than an unexpected error: the caller learns what to do, never the SQL (the cause
 * is kept for the log).
 */
async function fromSource<T>(outcome: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (cause) {
    throw unavailable(`The source database is not answering, so ${outcome}; try again in a moment.`, {}, cause);
  }
}

/** The recorder over `writes` and `bus`; rows get a random UUID as id. */
export function createRecorder({ writes, bus, clock }: RecorderDeps): Recorder {
  async function homeRegionOf(tenant: string) {
    const row = await fromSource('nothing was recorded', () => writes.tenant(tenant));
    if (!row) throw forbidden(`Tenant "${tenant}" does not exist; nothing can be recorded for it.`, { tenant });
    return row.homeRegion;
  }

  return {
    async recordOrder(identity, input) {
      // Every check runs before anything is written.
      const amountCents = validateAmount(input.amount);
      const productId = validateId(input.productId, 'input.productId');
      const customerId = validateId(input.customerId, 'input.customerId');
      const occurredAt = validateOccurredAt(input.occurredAt ?? undefined, clock());
      const region = resolveRegion(input.region, identity.region, await homeRegionOf(identity.tenant));
      if (!(await fromSource('nothing was recorded', () => writes.product(identity.tenant, productId)))) {
        throw invalidInput('input.productId', `input.productId "${productId}" is not a product of tenant ${identity.tenant}.`);
      }
      const row: OrderRow = {
        tenantId: identity.tenant,
        id: randomUUID(),
        productId,
        customerId,
        amountCents,
        region,
        occurredAt,
      };
      // A statement the server cancelled wrote nothing; one it never answered may have.
      await fromSource('the order may not have been recorded', () => writes.insertOrder(row));
      await bus.publish({
        type: 'order.recorded',
        id: row.id,
        tenant: row.tenantId,
        region,
        occurredAt,
        productId,
        customerId,
        amount: amountCents / 100,
      });
      return row;
    },

    async recordSession(identity, input) {
      const visitorId = validateId(input.visitorId, 'input.visitorId');
      const occurredAt = validateOccurredAt(input.occurredAt ?? undefined, clock());
      const region = resolveRegion(input.region, identity.region, await homeRegionOf(identity.tenant));
      const row: SessionRow = { tenantId: identity.tenant, id: randomUUID(), visitorId, region, occurredAt };
      await fromSource('the session may not have been recorded', () => writes.insertSession(row));
      await bus.publish({ type: 'session.recorded', id: row.id, tenant: row.tenantId, region, occurredAt, visitorId });
      return row;
    },

    async ingest(event) {
      const inserted =
        event.type === 'order.recorded'
          ? await writes.insertOrder({
              tenantId: event.tenant,
              id: event.id,
              productId: event.productId,
              customerId: event.customerId,
              amountCents: Math.round(event.amount * 100),
              region: event.region,
              occurredAt: event.occurredAt,
            })
          : await writes.insertSession({
              tenantId: event.tenant,
              id: event.id,
              visitorId: event.visitorId,
              region: event.region,
              occurredAt: event.occurredAt,
            });
      await bus.publish(event);
      return inserted;
    },
  };
}
