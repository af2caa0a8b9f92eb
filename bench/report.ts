/** BENCHMARKS.md: the machine, the run, a table per scenario, the targets. */
import { readFileSync } from 'node:fs';
import {
  CHURN_EVERY_MS,
  CONNECTIONS,
  LOAD_WARM_S,
  SLOW_WARM_CAP_S,
  SLOW_WINDOW_CAP_S,
  E_CAP_MS,
  E_REQUESTS,
  F_REQUESTS,
  LOADS,
  SCENARIO_TITLES,
  SEED,
  SEQUENTIAL,
  SERVERS,
  WARM_UPS,
  type ScenarioId,
  type ServerId,
} from './plan.js';
import { cellOf, sequentialOf, type LoadCell, type Results } from './results.js';
import { REPORTED, type Evaluated } from './targets.js';

export interface RunMeta {
  date: string;
  command: string;
  commit: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  loadAtStart: number;
  node: string;
  redis: string;
  durationS: number;
  runs: number;
  rows: { orders: number; sessions: number };
  elapsedS: number;
  scenarios: readonly ScenarioId[];
  servers: readonly ServerId[];
  rssResettable: boolean;
  notes: string[];
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? '–'
    : !Number.isFinite(n)
      ? '∞'
      : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (n: number) => (!Number.isFinite(n) ? '∞' : n > 0 && n < 0.1 ? `${n.toPrecision(2)}×` : `${fmt(n, n < 10 ? 2 : 1)}×`);

function loadTable(results: Results, loadId: string, servers: readonly ServerId[], durationS: number): string {
  const load = LOADS.find((l) => l.id === loadId)!;
  const churn = load.churn;
  const stored = cellOf(results, loadId, 'stored');
  const head = ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'store cmds / req', 'source queries / req', 'peak RSS MiB'];
  if (stored) head.push('× stored req/s');
  if (churn) head.push('orders written', 'orders behind');
  const lines = [
    `| ${head.join(' | ')} |`,
    `| --- | ${head
      .slice(1)
      .map(() => '---:')
      .join(' | ')} |`,
  ];
  for (const server of servers) {
    const c = cellOf(results, loadId, server);
    if (!c) continue;
    const row = [
      SERVERS[server].label,
      `${fmt(c.rps)} <sub>(${c.runs.map((r) => fmt(r.rps)).join(' / ')}${c.warmUpS > LOAD_WARM_S || c.windowS !== durationS ? `; ${c.windowS} s each after ${c.warmUpS} s` : ''})</sub>`,
      fmt(c.p50),
      fmt(c.p99),
      c.errors || c.problems.length ? `**${fmt(c.errors)}**` : '0',
      fmt(c.storeCommandsPerRequest, 2),
      fmt(c.sourceQueriesPerRequest, 2),
      fmt(c.peakRssMiB),
    ];
    if (stored) row.push(stored.rps > 0 ? ratio(c.rps / stored.rps) : '–');
    if (churn)
      row.push(
        c.writes ? `${fmt(c.writes.ok)}${c.writes.failed ? ` (**${c.writes.failed} failed**)` : ''}` : '–',
        c.ordersBehind === undefined ? '–' : c.ordersBehind === 0 ? '0' : `**${fmt(c.ordersBehind)}**`,
      );
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

function cellNotes(results: Results, loadId: string): string[] {
  const out: string[] = [];
  for (const c of results.cells.filter((x) => x.load === loadId)) {
    if (c.problems.length) out.push(`- ⚠ ${SERVERS[c.server].label}: ${c.problems.join('; ')}`);
  }
  const caches = results.cells
    .filter((x) => x.load === loadId && x.cache && x.good > 0)
    .map(
      (c) =>
        `${SERVERS[c.server].label}: ${fmt(c.cache!.miss, 2)} misses, ${fmt(c.cache!.stale, 2)} stale, ${fmt(c.cache!.hit + c.cache!.miss + c.cache!.stale, 1)} lookups; ${fmt(c.cache!.lockWaits)} lock waits and ${fmt(c.cache!.storeErrors)} store failures in all`,
    );
  if (caches.length)
    out.push(
      `- bucket lookups per request (\`cache_requests_total\`, \`cache_lock_waits_total\`, \`cache_errors_total\`): ${caches.join('; ')}`,
    );
  const lags = results.cells
    .filter((x) => x.load === loadId && x.loopLagMaxMs !== undefined)
    .map((c) => `${SERVERS[c.server].label} ${fmt(c.loopLagMaxMs)}`);
  if (lags.length) out.push(`- longest event-loop delay over the windows, ms (\`nodejs_eventloop_lag_max_seconds\`): ${lags.join(', ')}`);
  const commands = results.cells
    .filter((x): x is LoadCell & { storeCommands: Array<[string, number]> } => x.load === loadId && (x.storeCommands?.length ?? 0) > 0)
    .map(
      (c) =>
        `${SERVERS[c.server].label}: ${c.storeCommands
          .slice(0, 4)
          .map(([name, n]) => `${name} ${fmt(n, 2)}`)
          .join(', ')}`,
    );
  if (commands.length) out.push(`- store commands per request: ${commands.join('; ')}`);
  return out;
}

export function renderReport(meta: RunMeta, results: Results, evaluated: Evaluated[]): string {
  const out: string[] = [];
  const verdictCount = (v: string) => evaluated.filter((e) => e.verdict === v).length;
  out.push(
    '# Benchmarks',
    '',
    'Written by `npm run bench` (bench/dashboard.ts) and overwritten by every run: every server below measured in this one run, on this machine, on the same seeded data, each server its own process. Compare ratios within a run; the absolute numbers depend on the machine and on what else runs on it.',
    '',
    '## Run',
    '',
    `- date: ${meta.date}`,
    `- command: \`${meta.command}\``,
    `- git commit: ${meta.commit}`,
    `- machine: ${meta.cpu}, ${meta.cores} cores, ${fmt(meta.memoryGiB, 1)} GiB memory; 1-minute load average at start ${fmt(meta.loadAtStart, 2)} (the machine is shared: other work skews the numbers)`,
    `- node ${meta.node}, ${meta.redis}`,
    `- data: seed({ days: ${SEED.days}, scale: ${SEED.scale} }) once (${fmt(meta.rows.orders)} orders, ${fmt(meta.rows.sessions)} sessions), ending at the current hour; each server reads its own byte-identical copy of that SQLite file, so that one server's writes in (b) do not reach another's`,
    `- load: autocannon in the driver's thread (the servers are other processes), ${CONNECTIONS} connections, ${meta.runs} round${meta.runs === 1 ? '' : 's'}: (d) alone, then (a), (c) and (b) together, each round measuring every load of its stage on every one of its servers once: a server's (c) and (b) right after its (a), and the servers a target compares one after the other (bench/plan.ts ROUND_ORDER), so that the two windows of every req/s ratio are seconds apart and a shared machine whose speed drifts moves both alike; every req/s target is the median of the rounds' ratios; one session per server, load and round: ${WARM_UPS} warm-up requests of each distinct body, then load for at least ${LOAD_WARM_S} s, then one measured window ("run") of ${meta.durationS} s on the same open connections; once the machine is quiet, every other bench server is paused (SIGSTOP) for the cell, so that its timers, polling and idle-time garbage collection do not run in the window. A slow server answers its ${CONNECTIONS} connections in bursts about ${CONNECTIONS} × its warm single-request latency apart, so its load warms up for 1.5 bursts (up to ${SLOW_WARM_CAP_S} s) and its windows hold at least one burst (up to ${SLOW_WINDOW_CAP_S} s; both shown beside its windows); req/s, p50 and p99 are the medians over a server's windows (one per round), each window's req/s shown small. (Separate short runs would each start ${CONNECTIONS} connections at once and count the wait for their first answers as idle time, which halves the rate of a slow server.) NODE_ENV=production and one JWT_SECRET everywhere, all on 127.0.0.1`,
    `- scenarios run: ${meta.scenarios.join(', ')}; servers: ${meta.servers.map((s) => SERVERS[s].label).join(', ')}`,
    `- the whole run took ${fmt(meta.elapsedS)} s`,
    '',
    "Columns: **req/s** good answers per second (HTTP 200 with data and no GraphQL error); **errors** non-2xx, answers with GraphQL errors or no data, connection errors and timeouts (bold when not 0; a wrong answer in the warm-up is listed under the table); **store cmds / req** Redis `INFO commandstats` read when the last window closes − when the first opens, all commands but the bench's own INFO, over the good answers that arrived between the two readings (– where there is no Redis to count); **source queries / req** `cache_source_queries_total` on the server's /metrics (for the whole-response cache and limit: `bench_source_queries_total`, a count of AggregateSource calls that the bench wraps around the source; – for `uncached`, which counts none: createApp(cache: false) has no counter), likewise over the answers between its two readings (a busy server answers /metrics in its turn, so the load goes on past the last window until it has); **peak RSS** VmHWM of the server's Node process over the windows" +
      (meta.rssResettable
        ? ' (reset before each cell through /proc/PID/clear_refs)'
        : ' (since the process started: /proc/PID/clear_refs could not be written)') +
      '.',
    '',
    '## Servers',
    '',
    '| server | what |',
    '| --- | --- |',
    ...meta.servers.map((s) => `| ${SERVERS[s].label} | ${SERVERS[s].what} |`),
    '',
    `## Targets: ${verdictCount('PASS')} PASS, ${verdictCount('FAIL')} FAIL${verdictCount('NOT RUN') ? `, ${verdictCount('NOT RUN')} NOT RUN` : ''}`,
    '',
    '| target | measured | from | result |',
    '| --- | ---: | --- | --- |',
  );
  for (const e of evaluated) {
    const m = e.measure;
    const value = m ? (e.target.unit === 'ratio' ? ratio(m.value) : fmt(m.value, Number.isInteger(m.value) ? 0 : 2)) : '–';
    const from = m ? `${m.detail}${m.problems.length ? `; ⚠ ${m.problems.join('; ')}` : ''}` : '';
    const verdict = e.verdict === 'FAIL' ? '**FAIL**' : e.verdict;
    out.push(`| ${e.target.text} | ${value} | ${from} | ${verdict} |`);
  }
  const reported = REPORTED.map((r) => ({ text: r.text, m: r.measure(results) })).filter((r) => r.m);
  if (reported.length) {
    out.push('', 'Also from this run (no target):', '');
    for (const r of reported) out.push(`- ${r.text}: ${ratio(r.m!.value)} (${r.m!.detail})`);
  }
  if (meta.notes.length) out.push('', ...meta.notes.map((n) => `- ${n}`));

  for (const scenario of meta.scenarios) {
    const loads = LOADS.filter((l) => l.scenario === scenario);
    if (scenario === 'e') {
      out.push(
        '',
        `## ${SCENARIO_TITLES.e}`,
        '',
        `p50 (p90) over up to ${E_REQUESTS} sequential requests (at most ${E_CAP_MS / 1000} s of them, at least 5), after ${WARM_UPS} warm-ups, from the driver with one kept-alive connection.`,
        '',
      );
      out.push(
        `| server | ${SEQUENTIAL.map((s) => `${s.title}: p50 (p90) ms`).join(' | ')} | × limit (p50) |`,
        `| --- | ${SEQUENTIAL.map(() => '---:').join(' | ')} | ---: |`,
      );
      for (const server of meta.servers) {
        const cells = SEQUENTIAL.map((s) => sequentialOf(results, s.id, server));
        if (cells.every((c) => !c)) continue;
        const limits = SEQUENTIAL.map((s) => sequentialOf(results, s.id, 'limit'));
        const vsLimit = cells.map((c, i) => (c && limits[i] ? ratio(c.p50 / limits[i].p50) : '–')).join(' / ');
        out.push(
          `| ${SERVERS[server].label} | ${cells.map((c) => (c ? `${fmt(c.p50, 2)} (${fmt(c.p90, 2)})${c.errors ? ` **${c.errors} errors**` : ''}${c.n < E_REQUESTS ? ` <sub>n=${c.n}</sub>` : ''}` : '–')).join(' | ')} | ${vsLimit} |`,
        );
      }
      for (const c of results.sequential.filter((x) => x.problems.length))
        out.push(`- ⚠ ${SERVERS[c.server].label} ${c.id}: ${c.problems.join('; ')}`);
      const commands = results.sequential
        .filter((c) => c.storeCommandsPerRequest !== undefined)
        .map(
          (c) =>
            `${SERVERS[c.server].label} ${c.id}: ${fmt(c.storeCommandsPerRequest, 2)} (${(c.storeCommands ?? [])
              .slice(0, 3)
              .map(([name, n]) => `${name} ${fmt(n, 2)}`)
              .join(', ')})`,
        );
      if (commands.length) out.push('', `- store commands per request, one at a time: ${commands.join('; ')}`);
      continue;
    }
    if (scenario === 'f') {
      const f = results.stampede;
      out.push('', `## ${SCENARIO_TITLES.f}`, '');
      if (!f) {
        out.push('Not measured.');
        continue;
      }
      out.push(
        `${F_REQUESTS} copies of the 7-day, all-fields dashboard sent at once, alternately to two fresh processes of this API on one fresh private Redis (one database file): nothing cached before. Source queries from both processes' /metrics (\`cache_source_queries_total\`, by metric).`,
        '',
        '| metric | source queries |',
        '| --- | ---: |',
        ...Object.entries(f.sourceQueries).map(([metric, n]) => `| ${metric} | ${n > 1 ? `**${fmt(n)}**` : fmt(n)} |`),
        '',
        `- answers: ${fmt(f.requests - f.errors)} good of ${fmt(f.requests)}${f.errors ? ` (**${f.errors} errors**)` : ''}; the last one ${fmt(f.wallMs)} ms after the first was sent`,
        `- lock waits (\`cache_lock_waits_total\`, both processes): ${fmt(f.lockWaits)}; store commands per request: ${fmt(f.storeCommandsPerRequest, 2)}`,
        ...f.problems.map((p) => `- ⚠ ${p}`),
      );
      continue;
    }
    out.push('', `## ${SCENARIO_TITLES[scenario]}`);
    if (scenario === 'b') {
      out.push(
        '',
        `The (a) load while the driver writes one order for acme every ${CHURN_EVERY_MS} ms through the server's own \`recordOrder\` (ADMIN token), into the open hour, which every answer covers. **orders behind**: once the writes have returned, orders in that server's database for the range minus the \`orders.total\` it answers for the load's request. stored and limit serve no writes; uncached is left out (it reads the source for every answer, so it cannot fall behind).`,
      );
    }
    if (scenario === 'c') {
      out.push(
        '',
        'Every request asks for the 7 days up to the instant it is sent (slidingRequest in bench/load.ts sets `to` to the time of sending): no two requests carry the same variables, every bucket but the open one is the same.',
      );
    }
    for (const load of loads) {
      if (!results.cells.some((c) => c.load === load.id)) continue;
      out.push(
        '',
        `### ${load.title}`,
        '',
        loadTable(results, load.id, meta.servers, meta.durationS),
        ...(cellNotes(results, load.id).length ? ['', ...cellNotes(results, load.id)] : []),
      );
    }
  }

  // Kept by hand beside the bench, so that every run carries it.
  out.push('', readFileSync(new URL('./OPTIMISATIONS.md', import.meta.url), 'utf8').trimEnd(), '');
  return out.join('\n');
}
