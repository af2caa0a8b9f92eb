/** Domain events: every write is one, whether it came from us or from the stream. */
import type { Region } from '../source/types.js';

/** Every domain event type. */
export const DOMAIN_EVENTS = ['order.recorded', 'session.recorded'] as const;
export type DomainEventType = (typeof DOMAIN_EVENTS)[number];

interface BaseEvent {
  /** The row's id, and the idempotency key. */
  id: string;
  tenant: string;
  region: Region;
  /** Epoch ms. */
  occurredAt: number;
}

export interface OrderRecorded extends BaseEvent {
  type: 'order.recorded';
  productId: string;
  customerId: string;
  /** Major units, as the contract's stream carries it. */
  amount: number;
}

export interface SessionRecorded extends BaseEvent {
  type: 'session.recorded';
  visitorId: string;
}

export type DomainEvent = OrderRecorded | SessionRecorded;
