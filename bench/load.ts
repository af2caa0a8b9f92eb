/**
 * Load and requests: autocannon sessions measured in windows, single requests, the
 * sequential latency loop of (e), and the order writer of (b).
 */
import autocannon from 'autocannon';
import { BUCKET_MS } from '../src/cache/buckets.js';
import { CHURN_MUTATION, documentOf, type RequestSpec } from './plan.js';
import type { RunSample } from './results.js';

/**
 * A good answer: data for the dashboard and no GraphQL error (a refused or failed
 * query still answers HTTP 200).
 */
export function goodBody(body: unknown): boolean {
  return typeof body === 'string' && body.startsWith('{"data":{"dashboard":{') && !body.includes('"errors":');
}

/**
 * autocannon `setupRequest` for the sliding scenario (c): every request asks for the
 * last `spec.days` up to the instant it is sent, as a dashboard showing "the last 7
 * days" does.
 */
function slidingRequest(spec: RequestSpec): (request: autocannon.Request) => autocannon.Request {
  const query = documentOf(spec.fields);
  const spanMs = spec.days * BUCKET_MS.DAY;
  return (request) => {
    const to = Date.now();
    const variables = { from: new Date(to - spanMs).toISOString(), to: new Date(to).toISOString(), granularity: spec.granularity };
    return { ...request, body: JSON.stringify({ query, variables }) };
  };
}

export type Headers = Record<string, string>;

/** How long autocannon waits for one answer before it counts a timeout (an error). */
const LOAD_TIMEOUT_S = 30;

/** What autocannon sends: a fixed request, requests cycled in order, or a sliding one rewritten per request. */
export type LoadRequests =
  | { kind: 'fixed'; headers: Headers; body: string }
  | { kind: 'cycle'; requests: Array<{ headers: Headers; body: string }> }
  | { kind: 'sliding'; headers: Headers; spec: RequestSpec };

/** One measured window. */
export interface RunOutcome extends RunSample {
  /** Non-2xx, bodies that are not a good answer, connection errors, timeouts. */
  errors: number;
  problems: string[];
}

interface Window {
  good: number[];
  non2xx: number;
  mismatches: number;
  reqErrors: number;
}

/**
 * One autocannon session against `origin`/graphql, its connections kept open
 * throughout: a warm-up of `warmS` seconds, then `windows` measured windows of
 * `windowS` seconds each, counted from autocannon's own response events.
 *
 * Why windows of one session rather than separate runs: a run opens its
 * connections at once, and on a server that takes L per request the first answers
 * come back only after about connections × L, which a short run then counts as idle
 * time (a 6 s run of a 60 ms server at 50 connections would report half its rate).
 * Inside one session every window after the warm-up is in the steady state.
 *
 * autocannon runs in this (the driver's) thread: the servers are other processes,
 * and the driver does nothing else meanwhile but the churn writes.
 */
export async function runWindows(
  origin: string,
  load: LoadRequests,
  connections: number,
  warmS: number,
  windowS: number,
  windows: number,
  /**
   * Called when the first window opens and when the last one closes, for counters
   * that must cover the windows only; the load goes on for `tailS` after the last
   * window, so that what the end hook asks a busy server is answered under the same load.
   */
  at?: { start(): Promise<void>; end(): Promise<void> },
  tailS = 0,
): Promise<{ runs: RunOutcome[]; warmErrors: number; answersBetween(fromMs: number, toMs: number): number }> {
  // A slow server under this load answers in seconds; autocannon's default 10 s timeout would
  // turn its slowness into errors. LOAD_TIMEOUT_S is far beyond any answer the targets care about.
  const base = {
    url: `${origin}/graphql`,
    method: 'POST' as const,
    connections,
    duration: warmS + windows * windowS + tailS,
    timeout: LOAD_TIMEOUT_S,
    verifyBody: goodBody,
  };
  // autocannon keeps the headers object it is given; each session gets its own copy.
  let options: autocannon.Options;
  switch (load.kind) {
    case 'fixed':
      options = { ...base, headers: { ...load.headers }, body: load.body };
      break;
    case 'cycle':
      options = {
        ...base,
        requests: load.requests.map((r) => ({ method: 'POST' as const, path: '/graphql', headers: { ...r.headers }, body: r.body })),
      };
      break;
    case 'sliding':
      options = {
        ...base,
        headers: { ...load.headers },
        requests: [{ method: 'POST', path: '/graphql', setupRequest: slidingRequest(load.spec) }],
      };
      break;
  }
  const counted: Window[] = Array.from({ length: windows }, () => ({ good: [], non2xx: 0, mismatches: 0, reqErrors: 0 }));
  let warmErrors = 0;
  let t0 = performance.now();
  const windowAt = (): Window | undefined => {
    const t = (performance.now() - t0) / 1000 - warmS;
    return t < 0 ? undefined : counted[Math.floor(t / windowS)];
  };
  // A mismatch is reported right after the response it belongs to, in the same tick.
  let last: { window: Window | undefined; ok: boolean } | undefined;
  /** performance.now() of every good answer, warm-up and tail included. */
  const goodAt: number[] = [];
  let finish!: (error: unknown) => void;
  const finished = new Promise<void>(
    (resolve, reject) =>
      (finish = (error) => (error ? reject(error instanceof Error ? error : new Error('autocannon failed')) : resolve())),
  );
  const instance = autocannon(options, (error) => finish(error));
  const hooks: Array<Promise<void>> = [];
  const timers: NodeJS.Timeout[] = [];
  instance.on('start', () => {
    t0 = performance.now();
    if (at) {
      timers.push(setTimeout(() => hooks.push(at.start()), warmS * 1000));
      timers.push(setTimeout(() => hooks.push(at.end()), (warmS + windows * windowS) * 1000));
    }
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    const window = windowAt();
    const ok = statusCode >= 200 && statusCode < 300;
    last = { window, ok };
    if (ok) goodAt.push(performance.now());
    if (!window) {
      if (!ok) warmErrors += 1;
    } else if (ok) window.good.push(responseTime);
    else window.non2xx += 1;
  });
  (instance as unknown as NodeJS.EventEmitter).on('reqMismatch', () => {
    if (!last?.ok) return;
    goodAt.pop();
    if (last.window) {
      last.window.good.pop();
      last.window.mismatches += 1;
    } else warmErrors += 1;
  });
  instance.on('reqError', () => {
    const window = windowAt();
    if (window) window.reqErrors += 1;
    else if ((performance.now() - t0) / 1000 < warmS) warmErrors += 1;
    // An error in the tail is past the windows: not counted, as no answer there is.
  });
  try {
    await finished;
  } finally {
    for (const t of timers) clearTimeout(t);
  }
  // Without a tail, autocannon stops at the same instant as the end hook: let that one run.
  if (at && hooks.length < 2) hooks.push(...(hooks.length === 0 ? [at.start(), at.end()] : [at.end()]));
  await Promise.all(hooks);

  const runs = counted.map((w): RunOutcome => {
    const problems: string[] = [];
    if (w.reqErrors) problems.push(`${w.reqErrors} connection errors or timeouts`);
    if (w.non2xx) problems.push(`${w.non2xx} non-2xx answers`);
    if (w.mismatches) problems.push(`${w.mismatches} answers with GraphQL errors or no data`);
    return {
      rps: w.good.length / windowS,
      p50: quantile(w.good, 0.5),
      p99: quantile(w.good, 0.99),
      good: w.good.length,
      errors: w.reqErrors + w.non2xx + w.mismatches,
      problems,
    };
  });
  const answersBetween = (fromMs: number, toMs: number) => goodAt.filter((t) => t >= fromMs && t < toMs).length;
  return { runs, warmErrors, answersBetween };
}

/** A good dashboard answer: HTTP 200, data, no GraphQL error (what goodBody accepts, and parsed). */
export interface Answer {
  text: string;
  data: { dashboard: Record<string, unknown> };
  ms: number;
}

/** POSTs one GraphQL request; throws with the answer when it is not a good one. */
export async function post(origin: string, headers: Headers, body: string): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${origin}/graphql`, { method: 'POST', headers: { ...headers }, body });
  const text = await response.text();
  const ms = performance.now() - started;
  let parsed: { data?: { dashboard?: Record<string, unknown> }; errors?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new Error(`HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (response.status !== 200 || parsed.errors || !parsed.data?.dashboard) {
    throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
  }
  return { text, data: parsed.data as Answer['data'], ms };
}

/** Requests one at a time until `n` are done or `capMs` has passed (at least 5); p50 and p90 of their latency. */
export async function sequential(
  origin: string,
  headers: Headers,
  body: string,
  n: number,
  capMs: number,
): Promise<{ p50: number; p90: number; n: number; errors: number; problems: string[] }> {
  const times: number[] = [];
  const problems: string[] = [];
  let errors = 0;
  const started = performance.now();
  while (times.length + errors < n && (times.length + errors < 5 || performance.now() - started < capMs)) {
    try {
      times.push((await post(origin, headers, body)).ms);
    } catch (error) {
      errors += 1;
      if (problems.length < 3) problems.push((error as Error).message.slice(0, 200));
    }
  }
  return { p50: quantile(times, 0.5), p90: quantile(times, 0.9), n: times.length, errors, problems };
}

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export const median = (values: number[]) => quantile(values, 0.5);
/** The median of the values that are numbers: a window with no answer has no latency, not a latency of NaN. */
export const medianOfMeasured = (values: number[]) => median(values.filter((v) => !Number.isNaN(v)));

/**
 * Writes one order every `everyMs` through the server's recordOrder (not waiting
 * for the previous one: the rate holds even when a write is slow) until stopped;
 * `stop` resolves once every write sent has returned.
 */
export function startChurn(
  origin: string,
  headers: Headers,
  productId: string,
  everyMs: number,
): { stop(): Promise<{ ok: number; failed: number; problems: string[] }> } {
  let ok = 0;
  let failed = 0;
  let n = 0;
  const problems: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const write = () => {
    n += 1;
    const body = JSON.stringify({
      query: CHURN_MUTATION,
      variables: { input: { productId, customerId: `bench-churn-${n % 500}`, amount: 42.5 } },
    });
    const done = fetch(`${origin}/graphql`, { method: 'POST', headers, body })
      .then(async (response) => {
        const text = await response.text();
        if (response.status === 200 && text.includes('"recordOrder":{"id"') && !text.includes('"errors"')) ok += 1;
        else throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
      })
      .catch((error: Error) => {
        failed += 1;
        if (problems.length < 3) problems.push(error.message);
      })
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  };
  const timer = setInterval(write, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return { ok, failed, problems };
    },
  };
}
