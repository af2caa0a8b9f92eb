/**
 * A circuit breaker: stop calling a dependency that keeps failing, for a while, then
 * try it once. The resilient store guards the cache store with one; the FX client
 * rests the vendor with another (`failureThreshold: 1`).
 *
 * | state     | a call                              | then                                        |
 * |-----------|-------------------------------------|---------------------------------------------|
 * | closed    | goes through                        | `failureThreshold` failures in a row → open |
 * | open      | refused at once                     | after `cooldownMs` (or at `probe()`: the    |
 * |           |                                     | dependency says it is back) → half-open     |
 * | half-open | one trial goes through, others are  | success → closed; failure → open again      |
 * |           | refused while it runs               |                                             |
 *
 * A success of any call closes the circuit and resets the count; a failure of any call
 * once the threshold is reached (re)opens it for a whole new `cooldownMs`.
 */

/** @default failureThreshold 3, cooldownMs 5000 */
export interface BreakerOptions {
  /** Consecutive failures that open the circuit. @default 3 */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial call. @default 5000 */
  cooldownMs?: number;
}

/** Where the circuit is (see the table above). */
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker around one dependency. It lives in one process: each instance learns
 * on its own that the dependency is down.
 */
export interface Breaker {
  /** The state now: an open circuit reads half-open once `cooldownMs` has passed. */
  state(): BreakerState;
  /**
   * Runs `work` when the circuit lets a call through, and moves the circuit by how it
   * ends (a rejection is a failure; its error is passed on). When the circuit refuses
   * the call, `work` is not run and `refused()` answers instead.
   */
  run<T, R = T>(work: () => Promise<T>, refused: () => R | Promise<R>): Promise<T | R>;
  /**
   * The dependency says it is back (a reconnect): an open circuit turns half-open now,
   * so that the next call is its trial, without waiting for the rest of `cooldownMs`.
   * The trial still decides: a failure opens the circuit again. Closed: nothing changes.
   */
  probe(): void;
}

/** The store's defaults: three failures in a row, five seconds of rest. */
export const DEFAULT_BREAKER: Readonly<Required<BreakerOptions>> = Object.freeze({ failureThreshold: 3, cooldownMs: 5_000 });

/** A breaker, closed. */
export function createBreaker(
  options: BreakerOptions & {
    /** Epoch ms now. @default Date.now */
    clock?: () => number;
    /** Told when the circuit opens (again) or closes; not when open turns half-open. */
    onChange?: (state: 'open' | 'closed') => void;
  } = {},
): Breaker {
  const threshold = options.failureThreshold ?? DEFAULT_BREAKER.failureThreshold;
  const cooldownMs = options.cooldownMs ?? DEFAULT_BREAKER.cooldownMs;
  const clock = options.clock ?? Date.now;
  let failures = 0;
  let openedAt = 0;
  let state: BreakerState = 'closed';
  let trialInFlight = false;

  const currentState = (): BreakerState => {
    if (state === 'open' && clock() - openedAt >= cooldownMs) state = 'half-open';
    return state;
  };

  return {
    state: currentState,
    async run(work, refused) {
      const now = currentState();
      if (now === 'open' || (now === 'half-open' && trialInFlight)) return refused();
      const trial = now === 'half-open';
      // Set before the first await: a call made while the trial runs is refused.
      if (trial) trialInFlight = true;
      try {
        const result = await work();
        failures = 0;
        if (state !== 'closed') {
          state = 'closed';
          options.onChange?.('closed');
        }
        return result;
      } catch (error) {
        failures++;
        if (trial || failures >= threshold) {
          state = 'open';
          openedAt = clock();
          options.onChange?.('open');
        }
        throw error;
      } finally {
        if (trial) trialInFlight = false;
      }
    },
    probe() {
      if (state === 'open') state = 'half-open';
    },
  };
}
