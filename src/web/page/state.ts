/**
 * What the page shows, per panel: the value, its problem if any, what the cache did
 * for it, and the last notice that changed it. Built from the full answer, then
 * patched by partial refetches. Pure: no DOM, no network.
 */
import type { Answer } from './api.js';
import { cacheDetailOf, type CacheDetail } from './cache-details.js';
import { isSeries, PANEL_FIELDS, type DashboardData, type PanelField } from './fields.js';
import type { DashboardPageQuery, Granularity } from './gql/graphql.js';
import { problemOf, type Problem, type ProblemContext } from './problems.js';
import type { PartialChanged } from './refetch.js';

/** The notice (or the person) that made a panel refetch. */
export interface Change {
  /** Why: the notice's reason (`order.recorded`, `manual`…) or the page's (`currency changed`). */
  reason: string;
  /** When the notice was sent (its `at`), epoch ms. */
  at: number;
  /** The range whose points were refetched, ISO; the whole range for values that are not series. */
  from: string;
  to: string;
  /** When the refetched answer arrived, epoch ms. */
  refetchedAt: number;
}

/** One panel's state. */
export interface PanelState<F extends PanelField = PanelField> {
  /** The field's value; undefined when it failed (see `problem`). */
  value: DashboardData[F] | undefined;
  /** Why there is no value (FORBIDDEN for a VIEWER's revenue, SERVICE_UNAVAILABLE for a vendor down). */
  problem?: Problem | undefined;
  /** A problem inside the value that leaves the rest of it shown (a VIEWER's `topProducts.revenue`). */
  partProblem?: Problem | undefined;
  /** When its last answer arrived, epoch ms. */
  fetchedAt: number;
  /** What the cache did for its last fetch. */
  cache: CacheDetail;
  /** Seconds that answer stays fresh (Cache-Control max-age), and the header. */
  maxAgeS: number | undefined;
  cacheControl: string | null;
  /** The last notice that made it refetch; undefined until one did. */
  change?: Change | undefined;
}

/** Everything the page shows. */
export interface PageState {
  /** The effective range (snapped to whole buckets by the server), ISO. */
  range: { from: string; to: string };
  granularity: Granularity;
  panels: { [F in PanelField]: PanelState<F> };
}

/** The problem of each panel whose field failed, by the field named second in the error's path. */
function problemsByField(answer: Answer<unknown>, context: ProblemContext): { whole: Map<string, Problem>; part: Map<string, Problem> } {
  const whole = new Map<string, Problem>();
  const part = new Map<string, Problem>();
  for (const error of answer.errors) {
    const field = error.path?.[1];
    if (typeof field !== 'string') continue;
    const target = (error.path?.length ?? 0) > 2 ? part : whole;
    if (!target.has(field)) target.set(field, problemOf(error, context, answer.requestId));
  }
  return { whole, part };
}

/** The page's state from the answer to `DashboardPage`. */
export function stateFromPage(answer: Answer<DashboardPageQuery>, context: ProblemContext): PageState {
  const dashboard = answer.data.dashboard;
  const { whole, part } = problemsByField(answer, context);
  const panel = <F extends PanelField>(field: F): PanelState<F> => {
    const problem = whole.get(field);
    const value = dashboard[field];
    return {
      value: problem ? undefined : value,
      problem,
      partProblem: part.get(field),
      fetchedAt: answer.at,
      cache: problem ? { kind: 'none' } : cacheDetailOf(field, answer.extensions),
      maxAgeS: answer.maxAgeS,
      cacheControl: answer.cacheControl,
    };
  };
  const panels = Object.fromEntries(PANEL_FIELDS.map((f) => [f, panel(f)])) as PageState['panels'];
  return { range: dashboard.range, granularity: dashboard.granularity, panels };
}

type Point = { start: string; value: number };

/** `points` with those of `changed` put in place of the ones with the same start; points outside stay. */
export function mergePoints(points: readonly Point[], changed: readonly Point[]): Point[] {
  const byStart = new Map(changed.map((p) => [Date.parse(p.start), p.value]));
  return points.map((p) => {
    const value = byStart.get(Date.parse(p.start));
    return value === undefined ? p : { start: p.start, value };
  });
}

/**
 * Patches `state` (in place) with the answer to a pruned `DashboardChanged` for
 * `fields`: a series gets the changed points and its new total, any other field its
 * new value; each gets `change`, the answer's cache detail and freshness.
 */
export function applyChanged(
  state: PageState,
  answer: Answer<PartialChanged>,
  fields: ReadonlySet<PanelField>,
  change: Omit<Change, 'refetchedAt'>,
  context: ProblemContext,
): void {
  const { whole, part } = problemsByField(answer, context);
  const set = <F extends PanelField>(field: F, value: DashboardData[F] | undefined) => {
    const problem = whole.get(field);
    const panel = state.panels[field];
    panel.value = problem ? undefined : value;
    panel.problem = problem;
    panel.partProblem = part.get(field);
    panel.fetchedAt = answer.at;
    panel.cache = problem ? { kind: 'none' } : cacheDetailOf(field, answer.extensions);
    panel.maxAgeS = answer.maxAgeS;
    panel.cacheControl = answer.cacheControl;
    panel.change = { ...change, refetchedAt: answer.at };
  };
  const { dashboard, changed } = answer.data;
  for (const field of fields) {
    if (isSeries(field)) {
      const before = state.panels[field].value;
      const total = dashboard[field]?.total;
      const points = changed?.[field]?.points;
      set(field, total === undefined ? null : { total, points: mergePoints(before?.points ?? [], points ?? []) });
    } else {
      set(field, dashboard[field]);
    }
  }
}
