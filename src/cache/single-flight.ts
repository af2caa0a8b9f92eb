/**
 * In-process single flight: one run per id at a time; whoever asks for an id while
 * its run is in flight gets that run's promise instead of starting another.
 *
 * | who asks for an id                      | gets                                          |
 * |-----------------------------------------|-----------------------------------------------|
 * | nobody runs it                          | a new run, started inside the call            |
 * | a run is in flight                      | that run's promise (joins it)                 |
 * | a run is in flight but was forgotten    | a new run; the forgotten one still settles    |
 * |                                         | for everyone who had joined it                |
 * | the run settled                         | a new run (results are not kept)              |
 *
 * `forget(keys)` is for invalidation: a run that began before a write may return what
 * the source held before it, so nobody who starts after the write may join it.
 */

/** Runs shared by id. An id must always name work of one result type. */
export interface SingleFlight {
  /**
   * Joins the run in flight for `id`, or starts `work` (synchronously, inside this
   * call) as that run.
   * @param covers the store keys the run reads, for `forget`.
   */
  run<T>(id: string, work: () => Promise<T>, covers?: Iterable<string>): Promise<T>;
  /** New callers no longer join runs that cover any of `keys`; who joined them still gets their result. */
  forget(keys: readonly string[]): void;
  /** How many runs are in flight and joinable. */
  readonly size: number;
}

interface Flight {
  promise: Promise<unknown>;
  covers: ReadonlySet<string>;
}

/** An empty set of runs; one per family of work (ids of one family share a result type). */
export function createSingleFlight(): SingleFlight {
  const flights = new Map<string, Flight>();
  return {
    run<T>(id: string, work: () => Promise<T>, covers: Iterable<string> = []): Promise<T> {
      const joined = flights.get(id);
      if (joined) return joined.promise as Promise<T>;
      const promise = work();
      const flight: Flight = { promise, covers: new Set(covers) };
      flights.set(id, flight);
      // Only if still ours: after a `forget`, a newer run may hold the id.
      const settle = () => {
        if (flights.get(id) === flight) flights.delete(id);
      };
      promise.then(settle, settle);
      return promise;
    },
    forget(keys) {
      for (const [id, flight] of flights) if (keys.some((key) => flight.covers.has(key))) flights.delete(id);
    },
    get size() {
      return flights.size;
    },
  };
}
