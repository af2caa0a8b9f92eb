/**
 * The targets the product claims, each a ratio or a count from this run's results,
 * printed PASS or FAIL. A table: change a threshold or a server here.
 *
 * A target whose inputs were not measured (a subset run) is NOT RUN. A target
 * whose inputs had errors is FAIL whatever its ratio: a fast answer that is wrong
 * proves nothing.
 */
import { API_SERVERS, SERVERS, type ServerId } from './plan.js';
import { median } from './load.js';
import { cellOf, sequentialOf, type LoadCell, type Results } from './results.js';

export interface Measure {
  value: number;
  /** Where the value comes from, e.g. "1 234 / 2 345 req/s". */
  detail: string;
  /** Errors in the inputs; any makes the target FAIL. */
  problems: string[];
}

export interface Target {
  id: string;
  text: string;
  op: '>=' | '<=';
  threshold: number;
  /** How the value reads: a ratio (1.23×) or a count. */
  unit: 'ratio' | 'count';
  measure(results: Results): Measure | undefined;
}

export type Verdict = 'PASS' | 'FAIL' | 'NOT RUN';

export interface Evaluated {
  target: Target;
  verdict: Verdict;
  measure?: Measure | undefined;
}

/** The server whose (a) is "the field path alone": this API on Redis with whole responses off (RESPONSE_CACHE_TTL_MS=0). */
export const FIELD_PATH: ServerId = 'api-fields';

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const label = (id: ServerId) => SERVERS[id].label;

function cellProblems(...cells: LoadCell[]): string[] {
  return cells.flatMap((c) =>
    c.errors > 0 || c.problems.length > 0
      ? [`${label(c.server)} in ${c.load}: ${c.errors} errors${c.problems.length ? `; ${c.problems.join('; ')}` : ''}`]
      : [],
  );
}

/** req/s of `a` over req/s of `b`. */
function rpsRatio(results: Results, loadA: string, serverA: ServerId, loadB: string, serverB: ServerId): Measure | undefined {
  const a = cellOf(results, loadA, serverA);
  const b = cellOf(results, loadB, serverB);
  if (!a || !b) return undefined;
  return {
    value: b.rps > 0 ? a.rps / b.rps : a.rps > 0 ? Infinity : 0,
    detail: `${label(serverA)} ${loadA} ${fmt(a.rps)} / ${label(serverB)} ${loadB} ${fmt(b.rps)} req/s`,
    problems: cellProblems(a, b),
  };
}

/**
 * req/s of `serverA` in `loadA` over req/s of `serverB` in `loadB`, round by round: the
 * median of the ratios of windows measured in the same round, seconds apart (bench/plan.ts
 * ROUND_ORDER and `against`), so that a machine that speeds up or slows down between
 * rounds does not move the ratio. The medians of req/s each cell reports are shown beside it.
 */
function pairedRpsRatio(results: Results, loadA: string, serverA: ServerId, loadB: string, serverB: ServerId): Measure | undefined {
  const a = cellOf(results, loadA, serverA);
  const b = cellOf(results, loadB, serverB);
  if (!a || !b) return undefined;
  const rounds = Math.min(a.runs.length, b.runs.length);
  const ratios = Array.from({ length: rounds }, (_, i) => {
    const over = b.runs[i]!.rps;
    return over > 0 ? a.runs[i]!.rps / over : Infinity;
  });
  if (ratios.length === 0) return undefined;
  const pair =
    serverA === serverB
      ? `${label(serverA)} ${loadA} ${fmt(a.rps)} / ${loadB} ${fmt(b.rps)} req/s`
      : `${label(serverA)} ${loadA} ${fmt(a.rps)} / ${label(serverB)} ${loadB} ${fmt(b.rps)} req/s`;
  return {
    value: median(ratios),
    detail: `median of the rounds' ${ratios.map((r) => `${fmt(r, 2)}×`).join(', ')}; ${pair}`,
    problems: cellProblems(a, b),
  };
}

/** A server's p99 ÷ p50 in a load: the tail target's ratio, for any server. */
function tailRatio(results: Results, load: string, server: ServerId): Measure | undefined {
  const c = cellOf(results, load, server);
  if (!c) return undefined;
  return { value: c.p50 > 0 ? c.p99 / c.p50 : Infinity, detail: `p99 ${fmt(c.p99)} / p50 ${fmt(c.p50)} ms`, problems: cellProblems(c) };
}

function latencyRatio(results: Results, id: string, server: ServerId, base: ServerId): Measure | undefined {
  const a = sequentialOf(results, id, server);
  const b = sequentialOf(results, id, base);
  if (!a || !b) return undefined;
  const problems = [a, b].flatMap((c) =>
    c.errors || c.problems.length
      ? [`${label(c.server)} in ${id}: ${c.errors} errors${c.problems.length ? `; ${c.problems.join('; ')}` : ''}`]
      : [],
  );
  return { value: a.p50 / b.p50, detail: `p50 ${fmt(a.p50, 2)} / ${fmt(b.p50, 2)} ms`, problems };
}

/**
 * Commands this API's event-stream consumer sends on its own schedule (a blocking
 * XREADGROUP every few seconds, and the claims of a crashed instance's entries),
 * however many requests there are: the per-request targets leave them out, and
 * say so; the tables count every command.
 */
const BACKGROUND_COMMANDS = ['xreadgroup', 'xautoclaim', 'xpending', 'xinfo|groups', 'xgroup|create'];

function requestCommands(perRequest: Array<[string, number]> | undefined): { value: number; detail: string } | undefined {
  if (!perRequest) return undefined;
  const total = perRequest.reduce((n, [, v]) => n + v, 0);
  const own = perRequest.filter(([name]) => !BACKGROUND_COMMANDS.includes(name));
  const value = own.reduce((n, [, v]) => n + v, 0);
  const top =
    own
      .slice(0, 3)
      .map(([name, n]) => `${name} ${fmt(n, 2)}`)
      .join(', ') || 'none';
  return { value, detail: `${fmt(value, 2)} per request (${top}); ${fmt(total, 2)} with the stream consumer's polling` };
}

const perLoad = (loads: string[], make: (load: string) => Target) => loads.map(make);
const perServer = (servers: readonly ServerId[], make: (server: ServerId) => Target) => servers.map(make);

export const TARGETS: readonly Target[] = [
  ...perLoad(['a5', 'af'], (load) => ({
    id: `${load}-vs-whole-response`,
    text: `(a) ${load}: this API (Redis) req/s ≥ 1.0× whole-response cache`,
    op: '>=',
    threshold: 1.0,
    unit: 'ratio',
    measure: (r) => pairedRpsRatio(r, load, 'api-redis', load, 'whole-response'),
  })),
  ...perLoad(['a5', 'af'], (load) => ({
    id: `${load}-field-path-vs-limit`,
    text: `(a) ${load}: field path alone (this API, whole responses off) req/s ≥ 0.8× limit`,
    op: '>=',
    threshold: 0.8,
    unit: 'ratio',
    measure: (r) => pairedRpsRatio(r, load, FIELD_PATH, load, 'limit'),
  })),
  ...perLoad(['b5', 'bf'], (load) => ({
    id: `${load}-vs-own-a`,
    text: `(b) ${load}: this API (Redis) under churn ≥ 0.9× its own (a)`,
    op: '>=',
    threshold: 0.9,
    unit: 'ratio',
    measure: (r) => pairedRpsRatio(r, load, 'api-redis', load.replace('b', 'a'), 'api-redis'),
  })),
  ...perServer(API_SERVERS, (server) => ({
    id: `b-behind-${server}`,
    text: `(b) ${label(server)}: 0 orders behind the source after the writes`,
    op: '<=',
    threshold: 0,
    unit: 'count',
    measure(r) {
      const cells = ['b5', 'bf'].map((load) => cellOf(r, load, server)).filter((c): c is LoadCell => c !== undefined);
      if (cells.length === 0 || cells.some((c) => c.ordersBehind === undefined)) return undefined;
      const writeProblems = cells.flatMap((c) => (c.writes?.failed ? [`${c.load}: ${c.writes.failed} writes failed`] : []));
      return {
        value: Math.max(...cells.map((c) => c.ordersBehind!)),
        detail: cells.map((c) => `${c.load}: ${c.ordersBehind} behind after ${c.writes?.ok ?? 0} writes`).join('; '),
        problems: writeProblems,
      };
    },
  })),
  {
    id: 'c-vs-own-a',
    text: '(c) this API (Redis) sliding ≥ 0.8× its own (a) (all 7 fields)',
    op: '>=',
    threshold: 0.8,
    unit: 'ratio',
    measure: (r) => pairedRpsRatio(r, 'cf', 'api-redis', 'af', 'api-redis'),
  },
  {
    id: 'c-vs-whole-response',
    text: '(c) this API (Redis) sliding ≥ 5× the whole-response cache, same sliding load',
    op: '>=',
    threshold: 5,
    unit: 'ratio',
    measure: (r) => pairedRpsRatio(r, 'cf', 'api-redis', 'cf', 'whole-response'),
  },
  {
    id: 'e7-vs-limit',
    text: '(e) 7-day full dashboard, one at a time: this API (Redis) p50 ≤ 1.5× limit',
    op: '<=',
    threshold: 1.5,
    unit: 'ratio',
    measure: (r) => latencyRatio(r, 'e7', 'api-redis', 'limit'),
  },
  {
    id: 'e90-vs-limit',
    text: '(e) 90-day full dashboard, one at a time: this API (Redis) p50 ≤ 2× limit',
    op: '<=',
    threshold: 2,
    unit: 'ratio',
    measure: (r) => latencyRatio(r, 'e90', 'api-redis', 'limit'),
  },
  ...(['api-redis', 'api-cluster'] as const).flatMap((server) =>
    perLoad(['a5', 'af'], (load) => ({
      id: `${load}-store-commands-${server}`,
      text: `(a) ${load}: ${label(server)} ≤ 1 store command per warm request, under load (concurrent identical requests may share one read; stream consumer's polling left out)`,
      op: '<=',
      threshold: 1,
      unit: 'count',
      measure(r) {
        const c = cellOf(r, load, server);
        const m = requestCommands(c?.storeCommands);
        return c && m ? { ...m, problems: cellProblems(c) } : undefined;
      },
    })),
  ),
  ...(['api-redis', 'api-cluster'] as const).map((server): Target => ({
    id: `e7-store-commands-${server}`,
    text: `(e) e7: ${label(server)} ≤ 1 store command per warm request, one request at a time (no concurrent request to share a read with; stream consumer's polling left out)`,
    op: '<=',
    threshold: 1,
    unit: 'count',
    measure(r) {
      const c = sequentialOf(r, 'e7', server);
      const m = requestCommands(c?.storeCommands);
      if (!c || !m) return undefined;
      return {
        ...m,
        detail: `${m.detail}, over ${c.n} requests`,
        problems: c.errors || c.problems.length ? [`${c.errors} errors; ${c.problems.join('; ')}`] : [],
      };
    },
  })),
  {
    id: 'f-source-queries',
    text: '(f) ≤ 1 source query per metric over both processes (200 identical cold requests)',
    op: '<=',
    threshold: 1,
    unit: 'count',
    measure(r) {
      const f = r.stampede;
      if (!f) return undefined;
      const entries = Object.entries(f.sourceQueries);
      return {
        value: entries.length ? Math.max(...entries.map(([, n]) => n)) : 0,
        detail: entries.map(([m, n]) => `${m} ${n}`).join(', ') || 'no source queries counted',
        problems: f.errors || f.problems.length ? [`${f.errors} errors${f.problems.length ? `; ${f.problems.join('; ')}` : ''}`] : [],
      };
    },
  },
  {
    id: 'tier-bound',
    text: "this API's in-process tier never above its byte bound (its peak since start, `cache_local_bytes`, after every cell), every server with one",
    op: '<=',
    threshold: 1,
    unit: 'ratio',
    measure(r) {
      const peaks = new Map<ServerId, { peakBytes: number; boundBytes: number }>();
      for (const c of r.cells) {
        const seen = peaks.get(c.server);
        if (c.tier && (!seen || c.tier.peakBytes > seen.peakBytes)) peaks.set(c.server, c.tier);
      }
      if (!peaks.size) return undefined;
      const mib = (n: number) => fmt(n / 1024 / 1024, 1);
      return {
        value: Math.max(...[...peaks.values()].map((t) => t.peakBytes / t.boundBytes)),
        detail: [...peaks].map(([id, t]) => `${label(id)} ${mib(t.peakBytes)} of ${mib(t.boundBytes)} MiB`).join('; '),
        problems: [],
      };
    },
  },
  ...perLoad(['a5', 'af', 'b5', 'bf'], (load) => ({
    id: `${load}-p99-over-p50`,
    text: `(${load[0]}) ${load}: this API (Redis) p99 ≤ 3× p50`,
    op: '<=',
    threshold: 3,
    unit: 'ratio',
    measure: (r) => tailRatio(r, load, 'api-redis'),
  })),
];

/** Ratios reported beside the targets, with no threshold. */
export const REPORTED: ReadonlyArray<{ text: string; measure(results: Results): Measure | undefined }> = [
  { text: '(a) a5: this API (Redis) / stored, req/s', measure: (r) => rpsRatio(r, 'a5', 'api-redis', 'a5', 'stored') },
  { text: '(a) af: this API (Redis) / stored, req/s', measure: (r) => rpsRatio(r, 'af', 'api-redis', 'af', 'stored') },
  { text: '(a) af: whole-response cache / stored, req/s', measure: (r) => rpsRatio(r, 'af', 'whole-response', 'af', 'stored') },
  { text: '(a) af: this API (embedded) / limit, req/s', measure: (r) => rpsRatio(r, 'af', 'api-memory', 'af', 'limit') },
  { text: '(a) af: this API (Cluster) / this API (Redis), req/s', measure: (r) => rpsRatio(r, 'af', 'api-cluster', 'af', 'api-redis') },
  // The tail target's ratio for the baselines under the same load and rounds: how much of
  // it the machine and the load generator give any server (stored does almost no work).
  ...(['a5', 'af'] as const).flatMap((load) =>
    (['stored', 'limit', 'whole-response'] as const).map((server) => ({
      text: `(a) ${load}: ${label(server)} p99 / p50 (the tail target's ratio, for a baseline)`,
      measure: (r: Results) => tailRatio(r, load, server),
    })),
  ),
];

export function evaluate(results: Results, notRun: ReadonlyMap<string, string> = new Map()): Evaluated[] {
  return TARGETS.map((target) => {
    if (notRun.has(target.id)) return { target, verdict: 'NOT RUN' as const };
    const measure = target.measure(results);
    if (!measure) return { target, verdict: 'NOT RUN' as const };
    const met = target.op === '>=' ? measure.value >= target.threshold : measure.value <= target.threshold;
    return { target, measure, verdict: met && measure.problems.length === 0 ? ('PASS' as const) : ('FAIL' as const) };
  });
}
