/**
 * Steady load for the fault tests: `concurrency` loops, each sending one request after
 * another until stopped, every outcome recorded with when it was sent and answered
 * (performance.now()), so that a test can look at what happened in any window.
 */

/** One request of the load. */
export interface LoadOutcome {
  /** performance.now() when it was sent. */
  sent: number;
  /** performance.now() when it was answered (or failed). */
  answered: number;
  /** True when it was answered as the caller expects (say 200 and no errors). */
  ok: boolean;
  /** What the request was, for a failure message (tenant, range…). */
  label: string;
  /** Why it failed, when it did. */
  detail?: string | undefined;
}

/** What one request of the load came back with. */
export interface LoadAnswer {
  ok: boolean;
  label: string;
  detail?: string | undefined;
}

/** A running load. */
export interface Load {
  /** Every request answered so far, in the order they were answered. */
  readonly outcomes: LoadOutcome[];
  /** Stops sending, and resolves once every loop's last request is answered. Safe to call again. */
  stop(): Promise<void>;
}

/**
 * Starts `concurrency` loops; loop `i` sends `request(n)` for n = i, i + concurrency, …,
 * so that consecutive requests cycle through whatever `request` picks by `n`. A request
 * that throws counts as failed, with the error as its detail.
 */
export function startLoad(concurrency: number, request: (n: number) => Promise<LoadAnswer>): Load {
  const outcomes: LoadOutcome[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async (_, i) => {
    for (let n = i; running; n += concurrency) {
      const sent = performance.now();
      let answer: LoadAnswer;
      try {
        answer = await request(n);
      } catch (error) {
        answer = { ok: false, label: `request ${n}`, detail: (error as Error)?.message ?? String(error) };
      }
      outcomes.push({ sent, answered: performance.now(), ...answer });
    }
  });
  let stopped: Promise<void> | undefined;
  return {
    outcomes,
    stop() {
      running = false;
      stopped ??= Promise.all(loops).then(() => undefined);
      return stopped;
    },
  };
}
