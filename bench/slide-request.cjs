'use strict';
/**
 * autocannon `setupRequest` for the sliding-window scenario. It runs inside
 * autocannon's worker thread, which loads it with require(), so it is plain CommonJS
 * and reads its inputs from the environment that bench/dashboard.ts sets before it
 * starts autocannon (a worker gets a copy of process.env when it is created).
 *
 *   BENCH_QUERY          the GraphQL document, with $from and $to variables
 *   BENCH_SLIDE_FROM_MS  `from` of window 0, epoch ms on an hour edge
 *   BENCH_SLIDE_SPAN_MS  window length in ms
 *
 * Request n (n = 1, 2, … across all connections of the worker) asks for window 0
 * shifted forward by n hours, so that it shares all buckets but one with the window
 * before it.
 */
const HOUR_MS = 3_600_000;
const query = process.env.BENCH_QUERY;
const base = Number(process.env.BENCH_SLIDE_FROM_MS);
const span = Number(process.env.BENCH_SLIDE_SPAN_MS);
if (!query || !Number.isFinite(base) || !Number.isFinite(span)) {
  throw new Error('slide-request.cjs: BENCH_QUERY, BENCH_SLIDE_FROM_MS and BENCH_SLIDE_SPAN_MS must be set');
}
let n = 0;

module.exports = function setupRequest(request) {
  n += 1;
  const from = base + n * HOUR_MS;
  const variables = { from: new Date(from).toISOString(), to: new Date(from + span).toISOString() };
  return { ...request, body: JSON.stringify({ query, variables }) };
};
