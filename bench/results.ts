/** What one bench run measured; the targets and the report read only this. */
import type { ServerId } from './plan.js';

/** One measured window of an autocannon session (a "run"). */
export interface RunSample {
  /** Good answers (2xx with data and no GraphQL error) per second. */
  rps: number;
  p50: number;
  p99: number;
  good: number;
}

/** One load on one server: BENCH_RUNS windows and the counters around them. */
export interface LoadCell {
  load: string;
  server: ServerId;
  /** Seconds of load before the first measured window (longer for a slow server; see loadWarmUpSeconds). */
  warmUpS: number;
  /** Seconds per measured window (longer than BENCH_DURATION_S for a slow server). */
  windowS: number;
  runs: RunSample[];
  /** Medians over the windows. */
  rps: number;
  p50: number;
  p99: number;
  /** Good answers over all windows. */
  good: number;
  /** Non-2xx answers, answers with GraphQL errors or no data, connection errors and timeouts, over the warm-up and all windows. */
  errors: number;
  /** What the errors were, and anything else wrong (a wrong answer in the warm-up, a write that failed). */
  problems: string[];
  /** Store commands (Redis INFO commandstats, the bench's INFO excluded) per good answer between the two readings. */
  storeCommandsPerRequest?: number | undefined;
  /** The commands behind that number, per good answer, largest first. */
  storeCommands?: Array<[string, number]> | undefined;
  /** Source queries (from the server's /metrics) per good answer between the two readings. */
  sourceQueriesPerRequest?: number | undefined;
  /**
   * This API's bucket lookups per answer by result (cache_requests_total), and in all its
   * lock waits (cache_lock_waits_total) and store failures (cache_errors_total), over the windows.
   */
  cache?: { hit: number; miss: number; stale: number; lockWaits: number; storeErrors: number } | undefined;
  /** The server's longest event-loop delay over the windows (its nodejs_eventloop_lag_max_seconds), ms. */
  loopLagMaxMs?: number | undefined;
  /** This API's in-process tier after the cell (cache_local_bytes): the most it held since the server started, and its bound. */
  tier?: { peakBytes: number; boundBytes: number } | undefined;
  /** VmHWM of the server process over this cell, MiB. */
  peakRssMiB?: number | undefined;
  /** Scenario (b): orders written during the runs, and writes that failed. */
  writes?: { ok: number; failed: number } | undefined;
  /** Scenario (b): orders in the source for the range minus `orders.total` answered once the writes have returned. */
  ordersBehind?: number | undefined;
}

/** One query, one server, one request at a time. */
export interface SequentialCell {
  id: string;
  server: ServerId;
  p50: number;
  p90: number;
  n: number;
  errors: number;
  problems: string[];
  /** Store commands per request over the n requests (the Redis-backed servers only). */
  storeCommandsPerRequest?: number | undefined;
  storeCommands?: Array<[string, number]> | undefined;
}

/** Scenario (f). */
export interface StampedeResult {
  requests: number;
  errors: number;
  /** Source queries per metric, summed over both processes. */
  sourceQueries: Record<string, number>;
  lockWaits: number;
  storeCommandsPerRequest: number;
  /** Slowest answer, ms from the first request sent. */
  wallMs: number;
  problems: string[];
}

export interface Results {
  cells: LoadCell[];
  sequential: SequentialCell[];
  stampede?: StampedeResult | undefined;
}

export const cellOf = (results: Results, load: string, server: ServerId) =>
  results.cells.find((c) => c.load === load && c.server === server);
export const sequentialOf = (results: Results, id: string, server: ServerId) =>
  results.sequential.find((c) => c.id === id && c.server === server);
