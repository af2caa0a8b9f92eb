/**
 * What a composition has opened, and how to close it: each part registers its
 * closer as it opens, so that a start that fails half-way closes exactly what had
 * opened (in reverse order), and a graceful stop closes everything the same way.
 */
import type { Logger } from '../observability/logger.js';

/**
 * The closers of what a composition has opened, run newest first. Once `close` has begun,
 * `defer` throws: nothing may open while the service stops.
 */
export interface Lifecycle {
  /** Registers `close` to run when the lifecycle ends: later registrations close first. */
  defer(name: string, close: () => Promise<void> | void): void;
  /**
   * Runs every closer once, newest first. A closer that throws is logged and the
   * rest still run; the first error is rethrown once all have run.
   */
  close(): Promise<void>;
}

/** An empty lifecycle; closers that fail are logged on `logger`. */
export function createLifecycle(logger: Logger): Lifecycle {
  const closers: Array<{ name: string; close: () => Promise<void> | void }> = [];
  let closing: Promise<void> | undefined;
  return {
    defer(name, close) {
      if (closing) throw new Error(`cannot open ${name}: the service is stopping`);
      closers.push({ name, close });
    },
    close() {
      closing ??= (async () => {
        let first: unknown;
        for (const { name, close } of closers.reverse()) {
          try {
            await close();
          } catch (error) {
            logger.error({ err: error, part: name }, 'failed to close');
            first ??= error;
          }
        }
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the first failing closer threw, as it threw it
        if (first !== undefined) throw first;
      })();
      return closing;
    },
  };
}

/**
 * Runs `open` with a fresh lifecycle; if it throws, closes whatever it had opened and
 * rethrows. On success the caller owns the lifecycle.
 */
export async function openAll<T>(logger: Logger, open: (lifecycle: Lifecycle) => Promise<T>): Promise<{ value: T; lifecycle: Lifecycle }> {
  const lifecycle = createLifecycle(logger);
  try {
    return { value: await open(lifecycle), lifecycle };
  } catch (error) {
    await lifecycle.close().catch(() => {});
    throw error;
  }
}
