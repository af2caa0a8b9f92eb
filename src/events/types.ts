/** Domain events: every write is one, whether it came from us or from the stream. */
import type { Region } from '../source/types.js';

/** Every domain event type. */
export const DOMAIN_EVENTS = ['order.recorded', 'session.recorded'] as const;
/** One of `DOMAIN_EVENTS`: the `type` field of an event. */
export type DomainEventType = (typeof DOMAIN_EVENTS)[number];

interface BaseEvent {
  /** The row's id, and the idempotency key. */
  id: string;
  tenant: string;
  region: Region;
  /** Epoch ms. */
  occurredAt: number;
}

/**
 * An order was recorded, by a mutation or by another service on the stream; the metrics
 * whose declarations list `order.recorded` drop the buckets it falls in.
 */
export interface OrderRecorded extends BaseEvent {
  type: 'order.recorded';
  productId: string;
  customerId: string;
  /** Major units, as the contract's stream carries it. */
  amount: number;
}

/** A session was recorded; the metrics whose declarations list `session.recorded` drop the buckets it falls in. */
export interface SessionRecorded extends BaseEvent {
  type: 'session.recorded';
  visitorId: string;
}

/** Any domain event, told apart by `type`. */
export type DomainEvent = OrderRecorded | SessionRecorded;
