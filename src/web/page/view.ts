/**
 * The page's DOM: the controls, a panel per field, the problem banner and the live
 * activity log. It renders the state it is given and reports what a person chose;
 * it fetches nothing. Every element a test reads carries a data attribute.
 */
import { createSeriesChart, type SeriesChart } from './charts.js';
import { describeCache, describeFreshness } from './cache-details.js';
import { isSeries, METRICS_READ_BY, PANEL_FIELDS, TITLES, type DashboardData, type PanelField, type SeriesField } from './fields.js';
import type { Granularity } from './gql/graphql.js';
import type { Problem } from './problems.js';
import type { RangePreset, PageSettings } from './settings.js';
import type { PageState, PanelState } from './state.js';

/** What a person asked for with the controls. */
export interface ViewActions {
  /** Get a development token for these claims. */
  pickIdentity(tenant: string, role: string, region: string | undefined): void;
  /** Use a pasted token. */
  useToken(token: string): void;
  /** Another range or granularity: reload everything. */
  changeRange(preset: RangePreset, granularity: Granularity): void;
  /** Another currency: refetch the converted revenue alone. */
  changeCurrency(currency: string): void;
}

/** A line of the live activity log. */
export interface ActivityEntry {
  at: number;
  reason: string;
  metrics: readonly string[];
  from: string;
  to: string;
  /** What the page did about it: the fields refetched, or why nothing. */
  outcome: string;
  fields: readonly PanelField[];
}

/** The rendered page. */
export interface View {
  render(state: PageState): void;
  /** Clears every panel (a new identity or range is loading, or it failed). */
  clear(): void;
  showProblem(problem: Problem | undefined): void;
  setIdentity(text: string): void;
  setLive(state: 'connecting' | 'live' | 'stopped' | 'off', text: string): void;
  addActivity(entry: ActivityEntry): void;
  /** The controls' current choices. */
  readonly choices: { preset: RangePreset; granularity: Granularity; currency: string };
}

const PRESETS: ReadonlyArray<{ id: RangePreset; label: string; granularity: Granularity }> = [
  { id: '24h', label: 'Last 24 hours', granularity: 'HOUR' },
  { id: '7d', label: 'Last 7 days', granularity: 'HOUR' },
  { id: '30d', label: 'Last 30 days', granularity: 'DAY' },
  { id: '90d', label: 'Last 90 days', granularity: 'DAY' },
];

const COLORS: Readonly<Record<SeriesField, string>> = { revenue: '#2563eb', orders: '#16a34a', sessions: '#9333ea', customers: '#ea580c' };

const number = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const money = new Intl.NumberFormat('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat('en', { style: 'percent', minimumFractionDigits: 2, maximumFractionDigits: 2 });
/** HH:MM:SS in the person's time zone. */
export const clock = (ms: number) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
const moment = (iso: string) => new Date(iso).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'short', hour12: false });

/** `tag` with attributes and children. */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function select(name: string, options: ReadonlyArray<{ value: string; label: string }>, selected: string): HTMLSelectElement {
  const node = el('select', { name, 'aria-label': name });
  for (const option of options) {
    const item = el('option', { value: option.value }, option.label);
    if (option.value === selected) item.selected = true;
    node.append(item);
  }
  return node;
}

interface PanelElements {
  root: HTMLElement;
  value: HTMLElement;
  problem: HTMLElement;
  body: HTMLElement;
  change: HTMLElement;
  cache: HTMLElement;
  chart?: SeriesChart;
}

/** Builds the page in `root`. */
export function createView(root: HTMLElement, settings: PageSettings, actions: ViewActions): View {
  const choices = {
    preset: settings.defaults.preset,
    granularity: PRESETS.find((p) => p.id === settings.defaults.preset)?.granularity ?? 'HOUR',
    currency: settings.defaults.currency,
  };

  // Identity: a picker of demo identities outside production; a token field everywhere.
  const identity = el('span', { id: 'identity', 'data-testid': 'identity' }, '…');
  const identityForm = el('form', { id: 'identity-form', class: 'controls' });
  if (settings.devTokens) {
    const tenant = select(
      'tenant',
      settings.tenants.map((t) => ({ value: t.id, label: `${t.name} (${t.id})` })),
      settings.defaults.tenant,
    );
    const role = select(
      'role',
      settings.roles.map((r) => ({ value: r, label: r })),
      settings.defaults.role,
    );
    const region = select('region', [{ value: '', label: 'all regions' }, ...settings.regions.map((r) => ({ value: r, label: r }))], '');
    const get = el('button', { type: 'button', id: 'get-token' }, 'Get token');
    get.addEventListener('click', () => actions.pickIdentity(tenant.value, role.value, region.value || undefined));
    identityForm.append(el('label', {}, 'Tenant ', tenant), el('label', {}, 'Role ', role), el('label', {}, 'Region ', region), get);
  }
  const tokenInput = el('input', {
    name: 'token',
    id: 'token-input',
    type: 'password',
    autocomplete: 'off',
    placeholder: settings.production ? 'Paste a token (npm run token …)' : 'or paste a token',
  });
  const useToken = el('button', { type: 'submit', id: 'use-token' }, 'Use token');
  identityForm.append(tokenInput, useToken);
  identityForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim().replace(/^Bearer\s+/i, '');
    if (token) actions.useToken(token);
    tokenInput.value = '';
  });

  const preset = select(
    'range',
    PRESETS.map((p) => ({ value: p.id, label: p.label })),
    choices.preset,
  );
  const granularity = select(
    'granularity',
    [
      { value: 'HOUR', label: 'by hour' },
      { value: 'DAY', label: 'by day' },
    ],
    choices.granularity,
  );
  const currency = select(
    'currency',
    settings.currencies.map((c) => ({ value: c, label: c })),
    choices.currency,
  );
  preset.addEventListener('change', () => {
    choices.preset = preset.value as RangePreset;
    choices.granularity = PRESETS.find((p) => p.id === choices.preset)?.granularity ?? choices.granularity;
    granularity.value = choices.granularity;
    actions.changeRange(choices.preset, choices.granularity);
  });
  granularity.addEventListener('change', () => {
    choices.granularity = granularity.value as Granularity;
    actions.changeRange(choices.preset, choices.granularity);
  });
  currency.addEventListener('change', () => {
    choices.currency = currency.value;
    actions.changeCurrency(choices.currency);
  });
  const rangeForm = el(
    'form',
    { id: 'range-form', class: 'controls' },
    el('label', {}, 'Range ', preset),
    el('label', {}, 'Granularity ', granularity),
    el('label', {}, 'Currency ', currency),
  );
  rangeForm.addEventListener('submit', (event) => event.preventDefault());

  const live = el('span', { id: 'live-status', 'data-state': 'off' }, 'not connected');
  const range = el('p', { id: 'range' }, '');
  const problem = el('div', { id: 'problem', role: 'alert', hidden: '' });
  const activity = el('ol', { id: 'activity-log' });

  const panels = new Map<PanelField, PanelElements>();
  const charts = el('div', { class: 'grid charts' });
  const figures = el('div', { class: 'grid figures' });
  for (const field of PANEL_FIELDS) {
    const value = el('div', { class: 'panel-value', 'data-value': '' }, '—');
    const problemLine = el('div', { class: 'panel-problem', role: 'note', hidden: '' });
    const body = el('div', { class: 'panel-body' });
    const change = el('div', { class: 'panel-change' }, '');
    const cache = el('div', { class: 'panel-cache' }, '');
    const section = el(
      'section',
      { class: `panel ${isSeries(field) ? 'series' : 'figure'}`, 'data-field': field },
      el('header', {}, el('h2', {}, TITLES[field]), el('span', { class: 'badge' }, 'refetched')),
      value,
      problemLine,
      body,
      el('footer', {}, change, cache),
    );
    (isSeries(field) ? charts : figures).append(section);
    panels.set(field, { root: section, value, problem: problemLine, body, change, cache });
  }

  root.replaceChildren(
    el('header', { class: 'top' }, el('h1', {}, 'Dashboard ', identity), live, identityForm, rangeForm),
    problem,
    range,
    el('main', {}, charts, figures),
    el('section', { id: 'activity' }, el('h2', {}, 'Live activity'), activity),
  );
  // Charts measure their container, so they are made once the panels are in the page.
  for (const field of PANEL_FIELDS) {
    if (!isSeries(field)) continue;
    const panel = panels.get(field)!;
    const container = el('div', { class: 'chart', 'data-points': '0' });
    panel.body.append(container);
    panel.chart = createSeriesChart(container, TITLES[field], COLORS[field], (v) => compact.format(v));
  }

  function renderValue(field: PanelField, panel: PanelElements, state: PanelState): void {
    const { value } = state;
    const set = (text: string, raw: number | null | undefined) => {
      panel.value.textContent = text;
      panel.value.dataset.value = raw === null || raw === undefined ? '' : String(raw);
    };
    if (value === undefined) return set('—', undefined);
    switch (field) {
      case 'revenue':
      case 'orders':
      case 'sessions':
      case 'customers': {
        const series = value as DashboardData[SeriesField];
        if (!series) return set('—', undefined);
        set(field === 'revenue' ? money.format(series.total) : number.format(series.total), series.total);
        const changed = state.change && { from: Date.parse(state.change.from), to: Date.parse(state.change.to) };
        panel.chart?.update(series.points, changed);
        return;
      }
      case 'averageOrderValue': {
        const aov = value as DashboardData['averageOrderValue'];
        return set(aov === null ? 'no orders' : money.format(aov), aov);
      }
      case 'conversionRate': {
        const rate = value as DashboardData['conversionRate'];
        return set(rate === null ? 'no sessions' : percent.format(rate), rate);
      }
      case 'topProducts': {
        const products = value as DashboardData['topProducts'];
        set(products[0] ? products[0].name : 'no orders', products.length);
        const hidden = state.partProblem ? 'not permitted' : undefined;
        panel.body.replaceChildren(
          el(
            'table',
            { class: 'products' },
            el('thead', {}, el('tr', {}, el('th', {}, 'Product'), el('th', {}, 'Orders'), el('th', {}, 'Revenue'))),
            el(
              'tbody',
              {},
              ...products.map((p) =>
                el(
                  'tr',
                  { 'data-product': p.productId },
                  el('td', {}, p.name),
                  el('td', {}, number.format(p.orders)),
                  el(
                    'td',
                    { class: p.revenue === null ? 'forbidden' : '' },
                    p.revenue === null ? (hidden ?? '—') : money.format(p.revenue),
                  ),
                ),
              ),
            ),
          ),
        );
        return;
      }
      case 'revenueIn': {
        const converted = value as DashboardData['revenueIn'];
        if (!converted) return set('—', undefined);
        set(`${money.format(converted.amount)} ${converted.currency}`, converted.amount);
        panel.body.replaceChildren(
          el(
            'dl',
            { class: 'fx' },
            el('dt', {}, 'Rate'),
            el('dd', { 'data-rate': String(converted.rate) }, `1 → ${converted.rate} ${converted.currency}`),
            el('dt', {}, 'Source'),
            el('dd', {}, converted.source),
            el('dt', {}, 'Fetched'),
            el('dd', {}, moment(converted.fetchedAt)),
            el('dt', {}, 'Stale'),
            el(
              'dd',
              { class: converted.stale ? 'stale' : '', 'data-stale': String(converted.stale) },
              converted.stale ? 'yes: the vendor is unreachable, this is its last good rate' : 'no',
            ),
          ),
        );
        return;
      }
    }
  }

  function renderPanel(field: PanelField, state: PanelState, production: boolean): void {
    const panel = panels.get(field)!;
    renderValue(field, panel, state);
    if (state.value === undefined && !isSeries(field)) panel.body.replaceChildren();
    if (state.value === undefined && isSeries(field)) panel.chart?.update([]);
    const shown = state.problem ?? state.partProblem;
    panel.problem.hidden = !shown;
    panel.problem.textContent = shown ? `${shown.title} ${shown.action}` : '';
    panel.root.dataset.problem = state.problem?.code ?? '';
    panel.root.classList.toggle('not-permitted', state.problem?.code === 'FORBIDDEN');

    const change = state.change;
    panel.root.dataset.reason = change?.reason ?? '';
    panel.root.dataset.refetchedAt = change ? String(change.refetchedAt) : '';
    panel.root.classList.toggle('refetched', change !== undefined);
    // Restart the highlight: the class goes and comes back on every refetch.
    panel.root.classList.remove('flash');
    if (change) {
      void panel.root.offsetWidth;
      panel.root.classList.add('flash');
    }
    panel.change.textContent = change
      ? `changed ${clock(change.at)} · ${change.reason} · refetched ${isSeries(field) ? `${moment(change.from)}–${moment(change.to)}` : 'for the range'}`
      : `loaded ${clock(state.fetchedAt)}, not changed since`;
    panel.cache.textContent = state.problem
      ? ''
      : `${describeCache(state.cache, production, METRICS_READ_BY[field])} · ${describeFreshness(state.maxAgeS, state.cacheControl)}`;
    panel.root.dataset.cache = state.cache.kind;
  }

  return {
    choices,
    render(state) {
      range.textContent = `${moment(state.range.from)} – ${moment(state.range.to)}, by ${state.granularity === 'HOUR' ? 'hour' : 'day'}`;
      range.dataset.from = state.range.from;
      range.dataset.to = state.range.to;
      range.dataset.granularity = state.granularity;
      for (const field of PANEL_FIELDS) renderPanel(field, state.panels[field], settings.production);
      document.body.dataset.ready = 'true';
    },
    clear() {
      for (const [field, panel] of panels) {
        panel.value.textContent = '—';
        panel.value.dataset.value = '';
        panel.problem.hidden = true;
        panel.change.textContent = '';
        panel.cache.textContent = '';
        panel.root.classList.remove('refetched', 'flash', 'not-permitted');
        panel.root.dataset.reason = '';
        panel.root.dataset.problem = '';
        if (isSeries(field)) panel.chart?.update([]);
        else panel.body.replaceChildren();
      }
      range.textContent = '';
    },
    showProblem(shown) {
      problem.hidden = !shown;
      problem.dataset.code = shown?.code ?? '';
      problem.replaceChildren(
        ...(shown
          ? [
              el('strong', {}, shown.title),
              ' ',
              el('span', { class: 'action' }, shown.action),
              ...(shown.detail && shown.detail !== shown.title ? [' ', el('small', {}, `(server: ${shown.detail})`)] : []),
            ]
          : []),
      );
    },
    setIdentity(text) {
      identity.textContent = text;
    },
    setLive(state, text) {
      live.dataset.state = state;
      live.textContent = text;
    },
    addActivity(entry) {
      const item = el(
        'li',
        { 'data-reason': entry.reason, 'data-fields': entry.fields.join(',') },
        el('time', {}, clock(entry.at)),
        ` ${entry.reason}: ${entry.metrics.join(', ')} over ${moment(entry.from)}–${moment(entry.to)} → ${entry.outcome}`,
      );
      activity.prepend(item);
      while (activity.children.length > 12) activity.lastElementChild?.remove();
    },
  };
}
