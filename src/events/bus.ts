/**
 * In-process delivery of domain events to whoever listens (invalidation,
 * subscriptions). A listener that throws is logged by the caller's `onError`
 * and never stops delivery to the others.
 */
import type { DomainEvent } from './types.js';

/** Reacts to one domain event; `publish` waits for the promise it returns. */
export type EventListener = (event: DomainEvent) => void | Promise<void>;

/**
 * Delivers domain events in process to every listener at once. In-process only: other
 * instances learn of a write through the store and the notices.
 */
export interface EventBus {
  /** Delivers to every listener and waits for them; listener failures go to `onError`. */
  publish(event: DomainEvent): Promise<void>;
  /** @returns a function that removes the listener. */
  subscribe(listener: EventListener): () => void;
}

/** A bus with no listeners. `onError` hears each listener failure with its event, which does not reject `publish`. */
export function createEventBus(onError: (error: unknown, event: DomainEvent) => void): EventBus {
  const listeners = new Set<EventListener>();
  return {
    async publish(event) {
      await Promise.all(
        [...listeners].map(async (listener) => {
          try {
            await listener(event);
          } catch (error) {
            onError(error, event);
          }
        }),
      );
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
