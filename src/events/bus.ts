/**
 * In-process delivery of domain events to whoever listens (invalidation,
 * subscriptions). A listener that throws is logged by the caller's `onError`
 * and never stops delivery to the others.
 */
import type { DomainEvent } from './types.js';

export type EventListener = (event: DomainEvent) => void | Promise<void>;

export interface EventBus {
  /** Delivers to every listener and waits for them; listener failures go to `onError`. */
  publish(event: DomainEvent): Promise<void>;
  /** @returns a function that removes the listener. */
  subscribe(listener: EventListener): () => void;
}

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
