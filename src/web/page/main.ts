/**
 * The live dashboard page (`GET /`): loads every panel for the chosen range, then
 * listens to `metricsInvalidated` and, on each notice, refetches only the fields
 * that show the metrics named, and only the changed range of their points. Outside
 * production it opens on a development token (tenant acme, ADMIN, the last 7 days by
 * hour); in production it asks for a token to be pasted.
 */
import { claimsOf, developmentToken, request, RequestFailed, type ApiContext, type Claims } from './api.js';
import { fieldsShowing, isSeries, type PanelField } from './fields.js';
import { DashboardPageDocument } from './gql/graphql.js';
import { connectLive, type Live, type Notice } from './live.js';
import { liveStoppedProblem, newTokenAdvice, problemOf, type Problem, type ProblemContext } from './problems.js';
import { pruneRefetch } from './refetch.js';
import { SETTINGS_ELEMENT_ID, type PageSettings, type RangePreset } from './settings.js';
import { applyChanged, stateFromPage, type PageState } from './state.js';
import { clock, createView } from './view.js';

/** How many products the ranking panel lists. */
const TOP_LIMIT = 5;
const DAY_MS = 86_400_000;
const PRESET_MS: Readonly<Record<RangePreset, number>> = { '24h': DAY_MS, '7d': 7 * DAY_MS, '30d': 30 * DAY_MS, '90d': 90 * DAY_MS };
/** Where a pasted token survives a reload (production only: outside it the page opens on the default). */
const TOKEN_KEY = 'dashboard-token';

const settings = JSON.parse(document.getElementById(SETTINGS_ELEMENT_ID)?.textContent ?? '{}') as PageSettings;
const origin = location.origin;

let token: string | undefined;
let claims: Claims = {};
let state: PageState | undefined;
let live: Live | undefined;
/** Bumped by every full load: answers of an older one are dropped. */
let generation = 0;
let slideTimer: ReturnType<typeof setTimeout> | undefined;

const context = (): ProblemContext => ({ production: settings.production, role: claims.role });
const api = (): ApiContext => ({ ...context(), token: token ?? '', origin });

const view = createView(document.getElementById('app') ?? document.body, settings, {
  pickIdentity: (tenant, role, region) => void pickIdentity(tenant, role, region),
  useToken: (pasted) => void useToken(pasted),
  changeRange: () => void loadAll(),
  changeCurrency: (currency) => void changeCurrency(currency),
});

function show(problem: Problem | undefined): void {
  view.showProblem(problem);
}

async function pickIdentity(tenant: string, role: string, region: string | undefined): Promise<void> {
  try {
    await useToken(await developmentToken(origin, { tenant, role, region }));
  } catch (error) {
    if (error instanceof RequestFailed) show(error.problem);
    else throw error;
  }
}

async function useToken(next: string): Promise<void> {
  token = next;
  claims = claimsOf(next);
  if (settings.production) sessionStorage.setItem(TOKEN_KEY, next);
  const until = claims.expiresAt ? ` · token until ${clock(claims.expiresAt)}` : '';
  view.setIdentity(`${claims.tenant ?? '?'} · ${claims.role ?? '?'} · ${claims.region ?? 'all regions'}${until}`);
  live?.close();
  live = undefined;
  view.setLive('off', 'not connected');
  state = undefined;
  view.clear();
  if (await loadAll()) startLive();
}

const HOUR_MS = 3_600_000;

/**
 * The range of the chosen preset, ending now. The server snaps it outward to whole
 * buckets, so it starts on the hour that many days before the end of this hour: the
 * last 90 days by hour are then exactly the 90 days the API allows, not one hour more.
 */
function chosenRange(): { from: string; to: string } {
  const now = Date.now();
  const end = Math.ceil(now / HOUR_MS) * HOUR_MS;
  return { from: new Date(end - PRESET_MS[view.choices.preset]).toISOString(), to: new Date(now).toISOString() };
}

/** Errors that concern the request rather than one panel: shown above them all. */
const REQUEST_CODES = new Set(['BAD_USER_INPUT', 'QUERY_TOO_COMPLEX']);

/** Loads every panel afresh. @returns true when it did. */
async function loadAll(): Promise<boolean> {
  if (!token) return false;
  const mine = ++generation;
  clearTimeout(slideTimer);
  try {
    const answer = await request(
      DashboardPageDocument,
      { range: chosenRange(), granularity: view.choices.granularity, currency: view.choices.currency, limit: TOP_LIMIT },
      api(),
    );
    if (mine !== generation) return false;
    state = stateFromPage(answer, context());
    view.render(state);
    const general = answer.errors.find((e) => REQUEST_CODES.has(String(e.extensions?.code)));
    show(general && problemOf(general, context(), answer.requestId));
    // "The last N days" moves on when the open bucket closes: then load the new range.
    slideTimer = setTimeout(() => void loadAll(), Math.max(1_000, Date.parse(state.range.to) - Date.now() + 1_000));
    return true;
  } catch (error) {
    if (!(error instanceof RequestFailed) || mine !== generation) throw error;
    state = undefined;
    view.clear();
    show(error.problem);
    if (error.problem.code === 'UNAUTHENTICATED') stopLive();
    return false;
  }
}

function stopLive(): void {
  live?.close();
  live = undefined;
  view.setLive('stopped', 'live updates stopped');
}

function startLive(): void {
  if (!token) return;
  view.setLive('connecting', 'connecting…');
  live = connectLive(origin, token, claims.expiresAt, {
    connecting: () => view.setLive('connecting', 'connecting…'),
    connected: (again) => {
      view.setLive('live', 'live');
      // Notices sent while the connection was down are lost: reload what they would have refetched.
      if (again) void loadAll();
    },
    stopped: (reason) => {
      live = undefined;
      view.setLive('stopped', 'live updates stopped');
      show(liveStoppedProblem(reason, context()));
    },
    notice: onNotice,
  });
}

/** What the next refetch asks: notices that arrive while one is in flight are merged into one. */
interface Pending {
  fields: Set<PanelField>;
  from: number;
  to: number;
  reasons: Set<string>;
  at: number;
}
let pending: Pending | undefined;
let draining = false;

function onNotice(notice: Notice): void {
  if (!state) return;
  const activity = { at: Date.parse(notice.at), reason: notice.reason, metrics: notice.metrics, from: notice.from, to: notice.to };
  // A range outside the one shown changes nothing shown.
  const from = Math.max(Date.parse(notice.from), Date.parse(state.range.from));
  const to = Math.min(Date.parse(notice.to), Date.parse(state.range.to));
  const shown = fieldsShowing(notice.metrics);
  // A field refused to this role stays refused: asking again would only be refused again.
  const fields = shown.filter((f) => state!.panels[f].problem?.code !== 'FORBIDDEN');
  if (from >= to) return view.addActivity({ ...activity, fields: [], outcome: 'outside the range shown: nothing to refetch' });
  if (fields.length === 0) return view.addActivity({ ...activity, fields: [], outcome: 'not permitted for this role: nothing to refetch' });
  view.addActivity({ ...activity, fields, outcome: `refetching ${fields.join(', ')}` });
  if (pending) {
    for (const f of fields) pending.fields.add(f);
    pending.from = Math.min(pending.from, from);
    pending.to = Math.max(pending.to, to);
    pending.reasons.add(notice.reason);
    pending.at = Math.max(pending.at, activity.at);
  } else {
    pending = { fields: new Set(fields), from, to, reasons: new Set([notice.reason]), at: activity.at };
  }
  if (!draining) void drain();
}

async function drain(): Promise<void> {
  draining = true;
  try {
    while (pending && state) {
      const next = pending;
      pending = undefined;
      await refetch(next);
    }
  } finally {
    draining = false;
  }
}

async function refetch(next: Pending): Promise<void> {
  const current = state!;
  const mine = generation;
  // A series shown without points (it failed before) has nothing to patch: load it all.
  if ([...next.fields].some((f) => isSeries(f) && current.panels[f].value === undefined && !current.panels[f].problem)) {
    await loadAll();
    return;
  }
  const changed = { from: new Date(next.from).toISOString(), to: new Date(next.to).toISOString() };
  const plan = pruneRefetch(next.fields, {
    range: current.range,
    changed,
    granularity: current.granularity,
    currency: view.choices.currency,
    limit: TOP_LIMIT,
  });
  if (!plan) return;
  try {
    const answer = await request(plan.document, plan.variables, api());
    if (mine !== generation || state !== current) return;
    applyChanged(current, answer, next.fields, { reason: [...next.reasons].join(', '), at: next.at, ...changed }, context());
    view.render(current);
  } catch (error) {
    if (!(error instanceof RequestFailed)) throw error;
    show(error.problem);
    if (error.problem.code === 'UNAUTHENTICATED') stopLive();
  }
}

async function changeCurrency(currency: string): Promise<void> {
  if (!state) return;
  const current = state;
  const plan = pruneRefetch(new Set<PanelField>(['revenueIn']), {
    range: current.range,
    changed: current.range,
    granularity: current.granularity,
    currency,
    limit: TOP_LIMIT,
  });
  if (!plan) return;
  try {
    const answer = await request(plan.document, plan.variables, api());
    if (state !== current) return;
    applyChanged(
      current,
      answer,
      new Set(['revenueIn']),
      { reason: `currency ${currency} chosen`, at: Date.now(), ...current.range },
      context(),
    );
    view.render(current);
  } catch (error) {
    if (!(error instanceof RequestFailed)) throw error;
    show(error.problem);
  }
}

async function start(): Promise<void> {
  if (settings.devTokens) {
    const { tenant, role } = settings.defaults;
    return pickIdentity(tenant, role, undefined);
  }
  const kept = sessionStorage.getItem(TOKEN_KEY);
  if (kept) return useToken(kept);
  view.setIdentity('no token');
  show({ code: 'NO_TOKEN', title: 'Paste a token to see the dashboard.', action: newTokenAdvice(context()) });
}

void start();
