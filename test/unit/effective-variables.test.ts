/** The range variables a whole-response key is made of: snapped only where the answer is certainly the same. */
import { describe, expect, it } from 'vitest';
import { effectiveVariables } from '../../src/graphql/plugins/effective-variables.js';

const HOUR = 3_600_000;
const DOC =
  'query D($from: DateTime!, $to: DateTime!, $g: Granularity!) { dashboard(range: { from: $from, to: $to }, granularity: $g) { orders { total } } }';
const at = (ms: number) => new Date(ms).toISOString();
const base = Date.parse('2026-11-20T10:00:00.000Z');

describe('effectiveVariables', () => {
  it('snaps a sliding range: two instants in the same hour give the same variables', () => {
    const a = effectiveVariables(DOC, { from: at(base - 7 * 24 * HOUR + 60_000), to: at(base + 60_000), g: 'HOUR' });
    const b = effectiveVariables(DOC, { from: at(base - 7 * 24 * HOUR + 50 * 60_000), to: at(base + 50 * 60_000), g: 'HOUR' });
    expect(a).toEqual(b);
    expect(a).toEqual({ from: base - 7 * 24 * HOUR, to: base + HOUR, g: 'HOUR' });
  });

  it('snaps to the granularity asked for, literal or default', () => {
    const day = Date.parse('2026-11-20T00:00:00.000Z');
    const literal =
      'query D($from: DateTime!, $to: DateTime!) { dashboard(range: { from: $from, to: $to }, granularity: DAY) { orders { total } } }';
    expect(effectiveVariables(literal, { from: at(day + 5 * HOUR), to: at(day + 6 * HOUR) })).toEqual({ from: day, to: day + 24 * HOUR });
    const byDefault = 'query D($from: DateTime!, $to: DateTime!) { dashboard(range: { from: $from, to: $to }) { orders { total } } }';
    expect(effectiveVariables(byDefault, { from: at(day + 5 * HOUR + 1), to: at(day + 6 * HOUR) })).toEqual({
      from: day + 5 * HOUR,
      to: day + 6 * HOUR,
    });
  });

  it('leaves a range the resolver would refuse as sent, so that it never shares a key with an accepted one', () => {
    const ok = { from: at(base + 30 * 60_000), to: at(base + 90 * 24 * HOUR + 29 * 60_000), g: 'HOUR' }; // 90 days less a minute
    const tooLong = { from: at(base + 30 * 60_000), to: at(base + 90 * 24 * HOUR + 31 * 60_000), g: 'HOUR' }; // a minute over
    expect(effectiveVariables(DOC, tooLong)).toEqual(tooLong);
    expect(effectiveVariables(DOC, ok)).not.toEqual(effectiveVariables(DOC, tooLong));
    for (const bad of [
      { from: at(base + HOUR), to: at(base), g: 'HOUR' },
      { from: 'yesterday', to: at(base), g: 'HOUR' },
      { from: at(base), to: at(base + HOUR), g: 'WEEK' },
      { from: at(base), to: at(base + HOUR) }, // granularity not sent: its declared default is not read
    ])
      expect(effectiveVariables(DOC, bad)).toEqual(bad);
  });

  it('leaves variables used elsewhere, several dashboards, fragments and mutations as sent', () => {
    const vars = { from: at(base + 1), to: at(base + 2), g: 'HOUR' };
    for (const doc of [
      'query D($from: DateTime!, $to: DateTime!, $g: Granularity!) { a: dashboard(range: { from: $from, to: $to }, granularity: $g) { orders { total } } b: dashboard(range: { from: $from, to: $to }, granularity: $g) { orders { total } } }',
      'query D($from: DateTime!, $to: DateTime!, $g: Granularity!) { dashboard(range: { from: $from, to: $to }, granularity: $g) { ...F } } fragment F on Dashboard { orders { total } }',
      'query D($from: DateTime!, $to: DateTime!, $g: Granularity!) { dashboard(range: { from: $from, to: $to }, granularity: $g) { revenueIn(currency: $from) { amount } } }',
      'mutation M($from: DateTime!, $to: DateTime!) { invalidateMetrics(range: { from: $from, to: $to }) }',
      'not graphql',
    ])
      expect(effectiveVariables(doc, vars)).toBe(vars);
  });
});
