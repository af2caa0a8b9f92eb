/**
 * The one way the tests wait for a condition (STYLE.md: wait for conditions, never a
 * bare sleep). Unit, integration and e2e tests all use it; the defaults suit the slowest
 * of them, and a caller that knows better passes its own.
 */

/**
 * Default timeout of {@link eventually}, in milliseconds: 10 s.
 *
 * Long enough for what e2e and integration tests wait for on a loaded two-core machine
 * (a stream entry consumed, a server answering, a subscription counted), and well
 * under vitest's 30 s `testTimeout`, so that a condition that never holds fails with
 * its own name rather than as an anonymous test timeout. Unit tests that wait on
 * in-process state pass a shorter one so that a broken race fails fast.
 */
export const EVENTUALLY_TIMEOUT_MS = 10_000;

/**
 * Default pause between two checks of {@link eventually}, in milliseconds: 20 ms.
 *
 * Many conditions make a round trip (an HTTP scrape, a Redis command); 20 ms keeps that
 * to at most 50 checks a second against a server under test on a shared machine, and
 * costs a wait on in-process state at most 20 ms.
 */
export const EVENTUALLY_INTERVAL_MS = 20;

/**
 * Checks `condition` until it returns (or resolves to) true, pausing `intervalMs`
 * between checks; rejects with "`what` not met within `timeoutMs` ms" once a check
 * after the deadline still fails. A condition that throws or rejects ends the wait at
 * once with that error, so a condition can assert on what it sees (`expect` inside) or
 * give up early (a child process exited).
 *
 * @param condition Checked once at once, then after every pause; never runs concurrently with itself.
 * @param timeoutMs How long to keep checking, in ms. @default EVENTUALLY_TIMEOUT_MS (10 s)
 * @param what Names the condition in the timeout error. @default 'condition'
 * @param intervalMs Pause between checks, in ms. @default EVENTUALLY_INTERVAL_MS (20 ms)
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = EVENTUALLY_TIMEOUT_MS,
  what = 'condition',
  intervalMs = EVENTUALLY_INTERVAL_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
