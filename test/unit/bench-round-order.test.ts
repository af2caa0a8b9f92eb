import { describe, expect, it } from 'vitest';
import { LOADS, roundOrder, STAGES, type LoadSpec } from '../../bench/plan.js';

const stageLoads = (scenarios: readonly string[]) => LOADS.filter((l) => scenarios.includes(l.scenario));
const cells = (loads: readonly LoadSpec[]) => roundOrder(loads).map(([load, id]) => `${load.id} ${id}`);

describe('the bench measures the windows a target compares next to each other', () => {
  it('measures every load of a stage on every one of its servers exactly once a round', () => {
    for (const stage of STAGES) {
      const loads = stageLoads(stage);
      const expected = loads.flatMap((l) => l.servers.map((id) => `${l.id} ${id}`)).sort();
      expect(cells(loads).sort()).toEqual(expected);
    }
  });

  it("puts a server's (b) and (c) right after its (a), before the next server", () => {
    const order = cells(stageLoads(['a', 'c', 'b']));
    const at = (cell: string) => order.indexOf(cell);
    expect(at('b5 api-redis')).toBe(at('a5 api-redis') + 1);
    expect(at('cf api-redis')).toBe(at('af api-redis') + 1);
    expect(at('bf api-redis')).toBe(at('af api-redis') + 2);
    expect(at('b5 whole-response')).toBe(at('a5 whole-response') + 1);
  });

  it('puts the servers a cross-server target compares one after the other', () => {
    const order = cells(stageLoads(['a', 'c', 'b']));
    const at = (cell: string) => order.indexOf(cell);
    for (const load of ['a5', 'af']) {
      expect(at(`${load} api-fields`)).toBe(at(`${load} limit`) + 1);
      // The whole-response cache's own (b) and (c) come between it and this API's (a).
      const between = order.slice(at(`${load} whole-response`) + 1, at(`${load} api-redis`));
      expect(between.every((cell) => cell.endsWith(' whole-response'))).toBe(true);
    }
  });

  it('measures a load whose base is not in the run on its own', () => {
    const churn = LOADS.filter((l) => l.scenario === 'b');
    expect(cells(churn).sort()).toEqual(churn.flatMap((l) => l.servers.map((id) => `${l.id} ${id}`)).sort());
  });
});
