/**
 * ops/: the Grafana dashboard, the Prometheus scrape config and the alert rules.
 * Every PromQL expression may only name metrics (and labels) the service exposes at
 * GET /metrics, so renaming a metric in src/observability without updating ops/
 * breaks this test instead of silently blanking a panel or muting an alert.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DASHBOARD_PATH = resolve(ROOT, 'ops/grafana/dashboard-api.json');
const PROMETHEUS_PATH = resolve(ROOT, 'ops/prometheus/prometheus.yml');
const ALERTS_PATH = resolve(ROOT, 'ops/prometheus/alerts.yml');

type Kind = 'counter' | 'gauge' | 'histogram';
interface MetricSpec {
  kind: Kind;
  labels: readonly string[];
  /** Allowed values of enumerated labels; a matcher on them must use these. */
  values?: Readonly<Record<string, readonly string[]>>;
}

const STORE_OPERATIONS = ['get', 'set', 'delete', 'lock', 'unlock', 'scan'];

/**
 * The metrics the service exposes. MUST match what src/observability declares
 * (cache-metrics.ts, graphql-metrics.ts, fx-metrics.ts, event-metrics.ts,
 * http-metrics.ts) and CONTRACT.md's "Prometheus metrics": rename one there, rename
 * it here and in ops/.
 */
const SERVICE_METRICS: Record<string, MetricSpec> = {
  // The contract's cache metrics.
  cache_requests_total: { kind: 'counter', labels: ['metric', 'result'], values: { result: ['hit', 'miss', 'stale'] } },
  cache_recomputes_total: { kind: 'counter', labels: ['metric'] },
  cache_source_queries_total: { kind: 'counter', labels: ['metric'] },
  cache_recompute_duration_seconds: { kind: 'histogram', labels: ['metric'] },
  cache_stale_served_total: { kind: 'counter', labels: ['metric'] },
  cache_lock_waits_total: { kind: 'counter', labels: ['metric'] },
  cache_invalidations_total: { kind: 'counter', labels: ['metric', 'reason'] },
  cache_errors_total: { kind: 'counter', labels: ['operation'], values: { operation: STORE_OPERATIONS } },
  cache_local_bytes: { kind: 'gauge', labels: ['kind'], values: { kind: ['held', 'peak', 'bound'] } },
  // Cache store, GraphQL, FX vendor, events, HTTP.
  cache_store_command_duration_seconds: { kind: 'histogram', labels: ['operation'], values: { operation: STORE_OPERATIONS } },
  graphql_request_duration_seconds: { kind: 'histogram', labels: ['operation_type', 'operation'] },
  graphql_errors_total: { kind: 'counter', labels: ['operation_type', 'operation', 'code'] },
  fx_vendor_requests_total: {
    kind: 'counter',
    labels: ['outcome'],
    values: { outcome: ['ok', 'error', 'timeout', 'invalid', 'circuit_open'] },
  },
  fx_vendor_request_duration_seconds: { kind: 'histogram', labels: [] },
  fx_vendor_circuit_open: { kind: 'gauge', labels: [] },
  fx_stale_served_total: { kind: 'counter', labels: [] },
  events_consumed_total: {
    kind: 'counter',
    labels: ['type', 'result'],
    values: { result: ['ingested', 'duplicate', 'malformed', 'failed'] },
  },
  event_stream_pending: { kind: 'gauge', labels: [] },
  graphql_subscriptions: { kind: 'gauge', labels: [] },
  http_requests_in_flight: { kind: 'gauge', labels: ['route'], values: { route: ['graphql', 'healthz', 'readyz', 'metrics', 'other'] } },
};

/** prom-client 15's default Node metrics (collectDefaultMetrics in src/observability/registry.ts). */
const DEFAULT_METRICS: Record<string, MetricSpec> = {
  ...Object.fromEntries(
    ['process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total'].map((name) => [
      name,
      { kind: 'counter', labels: [] } satisfies MetricSpec,
    ]),
  ),
  ...Object.fromEntries(
    [
      'process_start_time_seconds',
      'process_resident_memory_bytes',
      'process_virtual_memory_bytes',
      'process_heap_bytes',
      'process_open_fds',
      'process_max_fds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_min_seconds',
      'nodejs_eventloop_lag_max_seconds',
      'nodejs_eventloop_lag_mean_seconds',
      'nodejs_eventloop_lag_stddev_seconds',
      'nodejs_eventloop_lag_p50_seconds',
      'nodejs_eventloop_lag_p90_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_active_resources_total',
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_heap_size_total_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_external_memory_bytes',
    ].map((name) => [name, { kind: 'gauge', labels: [] } satisfies MetricSpec]),
  ),
  nodejs_active_resources: { kind: 'gauge', labels: ['type'] },
  nodejs_active_handles: { kind: 'gauge', labels: ['type'] },
  nodejs_active_requests: { kind: 'gauge', labels: ['type'] },
  nodejs_heap_space_size_total_bytes: { kind: 'gauge', labels: ['space'] },
  nodejs_heap_space_size_used_bytes: { kind: 'gauge', labels: ['space'] },
  nodejs_heap_space_size_available_bytes: { kind: 'gauge', labels: ['space'] },
  nodejs_version_info: { kind: 'gauge', labels: ['version', 'major', 'minor', 'patch'] },
  nodejs_gc_duration_seconds: { kind: 'histogram', labels: ['kind'] },
};

/** Series Prometheus writes itself for every scrape target; alert rules may use them. */
const PROMETHEUS_SERIES: Record<string, MetricSpec> = {
  up: { kind: 'gauge', labels: [] },
};

const KNOWN: Record<string, MetricSpec> = { ...SERVICE_METRICS, ...DEFAULT_METRICS, ...PROMETHEUS_SERIES };

/** Labels every scraped series carries: Prometheus's target labels and prometheus.yml's static labels. */
const TARGET_LABELS = ['job', 'instance', 'service'];

// ── A small PromQL scanner ────────────────────────────────────────────────────

interface Selector {
  /** The name as written, e.g. `cache_recompute_duration_seconds_bucket`. */
  written: string;
  /** The exposed metric: histogram suffixes stripped, when the base is a known histogram. */
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}

interface Scanned {
  selectors: Selector[];
  /** Labels named in by / without / on / ignoring / group_left / group_right. */
  groupingLabels: string[];
  /** Functions called, e.g. `rate`, `histogram_quantile`. */
  functions: string[];
}

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];
const GROUPING_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const OTHER_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

/** A written series name → the exposed metric (`x_bucket` → `x` only when `x` is a known histogram). */
function baseMetric(name: string): string {
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    if (KNOWN[base]?.kind === 'histogram') return base;
  }
  return name;
}

/**
 * Finds every series selector of a PromQL expression: bare identifiers that are
 * neither functions/aggregations (followed by `(` or by `by`/`without`) nor keywords,
 * plus their `{…}` matchers. Strings, ranges `[…]`, numbers, durations and Grafana
 * variables (`$metric`, `$__rate_interval`) are skipped.
 */
function scan(expr: string): Scanned {
  const out: Scanned = { selectors: [], groupingLabels: [], functions: [] };
  let i = 0;
  const peekNonSpace = (from: number): { char: string; at: number } => {
    let j = from;
    while (j < expr.length && /\s/.test(expr[j]!)) j++;
    return { char: expr[j] ?? '', at: j };
  };
  const readIdent = (from: number): string => /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(from))?.[0] ?? '';
  const readString = (from: number): { value: string; end: number } => {
    const quote = expr[from]!;
    let j = from + 1;
    let value = '';
    while (j < expr.length && expr[j] !== quote) {
      if (expr[j] === '\\' && quote !== '`') j++;
      value += expr[j];
      j++;
    }
    if (j >= expr.length) throw new Error(`unterminated string in: ${expr}`);
    return { value, end: j + 1 };
  };
  /** Parses `{label op "value", …}` from the `{` at `from`; returns the matchers and the index after `}`. */
  const readMatchers = (from: number): { matchers: Selector['matchers']; end: number } => {
    const matchers: Selector['matchers'] = [];
    let j = from + 1;
    for (;;) {
      const next = peekNonSpace(j);
      j = next.at;
      if (next.char === '}') return { matchers, end: j + 1 };
      if (next.char === ',') {
        j++;
        continue;
      }
      const label = readIdent(j);
      if (!label) throw new Error(`bad label matcher at ${j} in: ${expr}`);
      j = peekNonSpace(j + label.length).at;
      const op = /^(=~|!~|!=|=)/.exec(expr.slice(j))?.[0];
      if (!op) throw new Error(`bad matcher operator after ${label} in: ${expr}`);
      j = peekNonSpace(j + op.length).at;
      if (!/["'`]/.test(expr[j] ?? '')) throw new Error(`matcher ${label} has no quoted value in: ${expr}`);
      const str = readString(j);
      matchers.push({ label, op, value: str.value });
      j = str.end;
    }
  };

  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      i = readString(i).end;
    } else if (c === '[') {
      const end = expr.indexOf(']', i);
      if (end < 0) throw new Error(`unterminated range in: ${expr}`);
      i = end + 1;
    } else if (c === '{') {
      // A selector with no name, e.g. {__name__="…"}: not allowed here, names must be visible.
      throw new Error(`selector without a metric name in: ${expr}`);
    } else if (c === '$') {
      i++;
      i += readIdent(i).length || 0;
    } else if (/[0-9.]/.test(c)) {
      const number = /^(0x[0-9a-fA-F]+|(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?([a-z]+\d*)*)/.exec(expr.slice(i))?.[0];
      i += number ? number.length : 1;
    } else if (/[A-Za-z_:]/.test(c)) {
      const ident = readIdent(i);
      i += ident.length;
      const next = peekNonSpace(i);
      const lower = ident.toLowerCase();
      if (GROUPING_KEYWORDS.has(lower)) {
        if (next.char === '(') {
          const end = expr.indexOf(')', next.at);
          out.groupingLabels.push(
            ...expr
              .slice(next.at + 1, end)
              .split(',')
              .map((label) => label.trim())
              .filter(Boolean),
          );
          i = end + 1;
        }
      } else if (OTHER_KEYWORDS.has(lower)) {
        // operator or keyword
      } else if (next.char === '(' || ['by', 'without'].includes(readIdent(next.at))) {
        out.functions.push(ident);
      } else {
        let matchers: Selector['matchers'] = [];
        if (next.char === '{') {
          const parsed = readMatchers(next.at);
          matchers = parsed.matchers;
          i = parsed.end;
        }
        out.selectors.push({ written: ident, metric: baseMetric(ident), matchers });
      }
    } else {
      i++;
    }
  }
  return out;
}

/** Problems of one expression: unknown metrics, unknown labels, impossible label values. */
function problems(expr: string, known: Record<string, MetricSpec> = KNOWN): string[] {
  const found: string[] = [];
  const scanned = scan(expr);
  if (scanned.selectors.length === 0) found.push(`no metric in: ${expr}`);
  let usesBuckets = false;
  for (const selector of scanned.selectors) {
    const spec = known[selector.metric];
    if (!spec) {
      found.push(`unknown metric ${selector.written}`);
      continue;
    }
    const bucket = selector.written.endsWith('_bucket') && spec.kind === 'histogram';
    usesBuckets ||= bucket;
    if (spec.kind === 'histogram' && selector.written === selector.metric) {
      found.push(`histogram ${selector.metric} used without _bucket/_sum/_count`);
    }
    for (const { label, op, value } of selector.matchers) {
      const allowed = [...spec.labels, ...TARGET_LABELS, ...(bucket ? ['le'] : [])];
      if (!allowed.includes(label)) found.push(`${selector.written} has no label ${label}`);
      const values = spec.values?.[label];
      // Literal values and literal alternations (a|b) only; patterns and $variables are not checked.
      if (values && /^[A-Za-z0-9_.|]+$/.test(value) && !/\.[*+?]/.test(value) && op !== '!~') {
        for (const v of value.split('|')) if (!values.includes(v)) found.push(`${selector.written}{${label}} is never "${v}"`);
      }
    }
  }
  const labelsInScope = new Set([
    ...TARGET_LABELS,
    ...(usesBuckets ? ['le'] : []),
    ...scanned.selectors.flatMap((s) => known[s.metric]?.labels ?? []),
  ]);
  for (const label of scanned.groupingLabels) {
    if (!labelsInScope.has(label)) found.push(`grouping by ${label}, which none of its metrics has`);
  }
  if (scanned.functions.includes('histogram_quantile')) {
    if (!usesBuckets) found.push(`histogram_quantile without a _bucket series: ${expr}`);
    if (!scanned.groupingLabels.includes('le')) found.push(`histogram_quantile that does not keep le: ${expr}`);
  }
  return found;
}

// ── The files ─────────────────────────────────────────────────────────────────

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  __inputs?: { name: string; type: string; pluginId: string }[];
  schemaVersion: number;
  title?: string;
  uid?: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string; datasource?: { uid?: string } }[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface PrometheusConfig {
  global?: { scrape_interval?: string };
  rule_files?: string[];
  scrape_configs: { job_name: string; metrics_path?: string; scrape_interval?: string; static_configs?: { targets: string[] }[] }[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
const prometheus = parse(readFileSync(PROMETHEUS_PATH, 'utf8')) as PrometheusConfig;
const alerts = parse(readFileSync(ALERTS_PATH, 'utf8')) as RuleFile;

/** Every panel, those inside collapsed rows included. */
const allPanels = (list: Panel[]): Panel[] => list.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panels = allPanels(dashboard.panels);
const graphPanels = panels.filter((p) => p.type !== 'row');
const dashboardExprs = graphPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title ?? '?', expr: t.expr ?? '' })));
const rules = alerts.groups.flatMap((g) => g.rules);

describe('the PromQL scanner', () => {
  it('finds selectors and skips functions, keywords, strings, ranges and variables', () => {
    const scanned = scan(
      'histogram_quantile(0.99, sum by (le, metric) (rate(cache_recompute_duration_seconds_bucket{metric=~"$metric"}[$__rate_interval] offset 1h))) > 0.25 and on(job) up == 1',
    );
    expect(scanned.selectors.map((s) => s.written)).toEqual(['cache_recompute_duration_seconds_bucket', 'up']);
    expect(scanned.selectors[0]?.metric).toBe('cache_recompute_duration_seconds');
    expect(scanned.groupingLabels).toEqual(['le', 'metric', 'job']);
    expect(scanned.functions).toEqual(['histogram_quantile', 'sum', 'rate']);
  });

  it('reports renamed metrics, unknown labels, impossible values and histogram misuse', () => {
    expect(problems('sum(rate(cache_request_total{result="hit"}[5m]))')).toEqual(['unknown metric cache_request_total']);
    expect(problems('sum(rate(cache_requests_total{results="hit"}[5m]))')).toEqual(['cache_requests_total has no label results']);
    expect(problems('sum(rate(cache_requests_total{result=~"hit|hits"}[5m]))')).toEqual(['cache_requests_total{result} is never "hits"']);
    expect(problems('sum by (tenant) (rate(cache_requests_total[5m]))')).toEqual(['grouping by tenant, which none of its metrics has']);
    expect(problems('rate(cache_recompute_duration_seconds[5m])')).toEqual([
      'histogram cache_recompute_duration_seconds used without _bucket/_sum/_count',
    ]);
    expect(problems('rate(cache_requests_total_bucket[5m])')).toEqual(['unknown metric cache_requests_total_bucket']);
    expect(problems('histogram_quantile(0.5, sum by (metric) (rate(cache_recompute_duration_seconds_bucket[5m])))')).toHaveLength(1);
    expect(problems('vector(1)')).toEqual(['no metric in: vector(1)']);
    expect(problems('sum without (instance) (rate(graphql_request_duration_seconds_count{operation_type="query"}[5m]))')).toEqual([]);
  });
});

describe('ops/grafana/dashboard-api.json', () => {
  it('imports cleanly: schema 39 and a DS_PROMETHEUS datasource input used by every panel and target', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.uid).toBeTruthy();
    expect(dashboard.__inputs).toContainEqual(
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    );
    for (const panel of graphPanels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe('${DS_PROMETHEUS}');
    }
  });

  it('has a metric variable over label_values(cache_requests_total, metric)', () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'metric');
    expect(variable).toBeDefined();
    expect(variable?.datasource?.uid).toBe('${DS_PROMETHEUS}');
    const query = typeof variable?.query === 'string' ? variable.query : (variable?.query as { query?: string } | undefined)?.query;
    expect(query?.replace(/\s+/g, '')).toBe('label_values(cache_requests_total,metric)');
    // Every variable's label_values names a known metric and label too.
    for (const v of dashboard.templating.list) {
      const q = typeof v.query === 'string' ? v.query : ((v.query as { query?: string }).query ?? '');
      const match = /^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$/.exec(q.trim());
      expect(match, `variable ${v.name}`).not.toBeNull();
      expect(KNOWN[match![1]!]?.labels, `variable ${v.name}`).toContain(match![2]);
    }
  });

  it('every panel has a title and targets with an expression; ids are unique; the grid fits', () => {
    expect(graphPanels.length).toBeGreaterThan(10);
    for (const panel of panels) expect(panel.title?.trim(), `panel ${panel.id}`).toBeTruthy();
    for (const panel of graphPanels) {
      expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.expr?.trim(), panel.title).toBeTruthy();
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      const { x, w } = panel.gridPos ?? { x: -1, w: 0 };
      expect(x >= 0 && w > 0 && x + w <= 24, panel.title).toBe(true);
    }
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('uses only exposed metrics and labels in every expression', () => {
    const found = dashboardExprs.flatMap(({ panel, expr }) => problems(expr).map((p) => `${panel}: ${p}`));
    expect(found).toEqual([]);
  });

  it('shows every metric the service exposes', () => {
    const used = new Set(dashboardExprs.flatMap(({ expr }) => scan(expr).selectors.map((s) => s.metric)));
    expect(Object.keys(SERVICE_METRICS).filter((name) => !used.has(name))).toEqual([]);
  });

  it('filters the per-metric cache panels by $metric', () => {
    for (const { panel, expr } of dashboardExprs) {
      for (const selector of scan(expr).selectors) {
        if (!SERVICE_METRICS[selector.metric]?.labels.includes('metric')) continue;
        expect(selector.matchers, `${panel}: ${selector.written}`).toContainEqual({ label: 'metric', op: '=~', value: '$metric' });
      }
    }
  });

  it('has the panels the issue asks for', () => {
    const titles = graphPanels.map((p) => p.title ?? '');
    for (const wanted of [
      /hit ratio/i,
      /recomputes/i,
      /stale served/i,
      /lock waits/i,
      /source queries/i,
      /graphql latency p50 \/ p99/i,
      /recompute duration/i,
      /store errors/i,
      /store command p99/i,
      /invalidations/i,
      /fx vendor requests/i,
      /fx vendor latency/i,
      /circuit/i,
      /stale fx/i,
      /events consumed/i,
      /stream pending/i,
      /subscriptions/i,
      /event loop lag/i,
    ]) {
      expect(
        titles.some((t) => wanted.test(t)),
        String(wanted),
      ).toBe(true);
    }
  });
});

describe('ops/prometheus/prometheus.yml', () => {
  it('scrapes /metrics every 15s and loads alerts.yml', () => {
    expect(prometheus.global?.scrape_interval).toBe('15s');
    expect(prometheus.rule_files).toEqual(['alerts.yml']);
    // Prometheus resolves rule_files relative to the config file.
    for (const file of prometheus.rule_files ?? []) expect(existsSync(resolve(dirname(PROMETHEUS_PATH), file))).toBe(true);
    const job = prometheus.scrape_configs.find((c) => c.job_name === 'dashboard-api');
    expect(job).toBeDefined();
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job?.scrape_interval ?? prometheus.global?.scrape_interval).toBe('15s');
    expect(job?.static_configs?.flatMap((s) => s.targets)).toContain('localhost:4000');
  });

  it('alerts select the scraped job', () => {
    for (const rule of rules) {
      for (const selector of scan(rule.expr).selectors) {
        const job = selector.matchers.find((m) => m.label === 'job');
        if (job) expect(job.value, rule.alert).toBe('dashboard-api');
      }
    }
  });
});

describe('ops/prometheus/alerts.yml', () => {
  it('has the alerts the issue asks for, each once', () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const name of [
      'CacheHitRatioLow',
      'CacheHitRatioFalling',
      'CacheStoreErrors',
      'CacheStoreSlow',
      'FxVendorCircuitOpen',
      'FxServingStale',
      'EventStreamLagging',
      'EventsMalformed',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('every alert has a severity, a summary, a description and a valid for', () => {
    for (const rule of rules) {
      expect(rule.alert, rule.expr).toBeTruthy();
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary?.trim(), rule.alert).toBeTruthy();
      expect(rule.annotations?.description?.trim(), rule.alert).toBeTruthy();
      if (rule.for !== undefined) expect(rule.for, rule.alert).toMatch(/^(\d+(ms|s|m|h|d|w|y))+$/);
    }
  });

  it('uses only exposed metrics and labels in every expression', () => {
    const found = rules.flatMap((rule) => problems(rule.expr).map((p) => `${rule.alert}: ${p}`));
    expect(found).toEqual([]);
  });

  it('keeps the thresholds the runbook documents', () => {
    const expr = (name: string) => (rules.find((r) => r.alert === name)?.expr ?? '').replace(/\s+/g, ' ').trim();
    const rule = (name: string) => rules.find((r) => r.alert === name);
    expect(expr('CacheHitRatioLow')).toContain('< 0.8');
    expect(rule('CacheHitRatioLow')?.for).toBe('15m');
    expect(expr('CacheHitRatioFalling')).toContain('offset 1h');
    expect(expr('CacheHitRatioFalling')).toContain('> 0.2');
    expect(expr('CacheStoreErrors')).toMatch(/rate\(cache_errors_total\[5m\]\)\) > 0$/);
    expect(rule('CacheStoreErrors')?.for).toBe('5m');
    expect(expr('CacheStoreSlow')).toContain('> 0.25');
    expect(expr('FxVendorCircuitOpen')).toBe('fx_vendor_circuit_open == 1');
    expect(rule('FxVendorCircuitOpen')?.for).toBe('2m');
    expect(rule('FxServingStale')?.for).toBe('30m');
    expect(rule('FxServingStale')?.labels?.severity).toBe('info');
    expect(expr('EventStreamLagging')).toContain('> 1000');
    expect(rule('EventStreamLagging')?.for).toBe('10m');
    expect(expr('EventsMalformed')).toContain('[15m]');
    expect(rule('EventsMalformed')?.labels?.severity).toBe('info');
  });
});
