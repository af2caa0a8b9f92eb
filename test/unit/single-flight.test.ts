import { describe, expect, it } from 'vitest';
import { createSingleFlight } from '../../src/cache/single-flight.js';
import { deferred, flush } from './cache-test-kit.js';

/** Work that counts its starts and settles when the test says. */
function controlledWork<T>() {
  const gates: Array<ReturnType<typeof deferred<T>>> = [];
  const work = () => {
    const gate = deferred<T>();
    gates.push(gate);
    return gate.promise;
  };
  return { work, gates, starts: () => gates.length };
}

describe('createSingleFlight: sharing', () => {
  it('runs the work once for concurrent callers of one id, and every caller gets its result', async () => {
    const flights = createSingleFlight();
    const { work, gates, starts } = controlledWork<string>();
    const calls = [flights.run('a', work), flights.run('a', work), flights.run('a', work)];
    expect(starts()).toBe(1);
    gates[0]!.resolve('result');
    expect(await Promise.all(calls)).toEqual(['result', 'result', 'result']);
  });

  it('starts the work synchronously, inside the call that creates the run', () => {
    const flights = createSingleFlight();
    let started = false;
    void flights.run('a', async () => {
      started = true;
    });
    expect(started).toBe(true);
  });

  it('runs different ids independently', async () => {
    const flights = createSingleFlight();
    const { work, gates, starts } = controlledWork<string>();
    const a = flights.run('a', work);
    const b = flights.run('b', work);
    expect(starts()).toBe(2);
    gates[1]!.resolve('b');
    expect(await b).toBe('b');
    expect(flights.size).toBe(1);
    gates[0]!.resolve('a');
    expect(await a).toBe('a');
  });

  it('keeps no result: a call after the run settled starts a new run', async () => {
    const flights = createSingleFlight();
    const { work, gates, starts } = controlledWork<number>();
    const first = flights.run('a', work);
    gates[0]!.resolve(1);
    expect(await first).toBe(1);
    expect(flights.size).toBe(0);
    const second = flights.run('a', work);
    expect(starts()).toBe(2);
    gates[1]!.resolve(2);
    expect(await second).toBe(2);
  });

  it('shares a failure with every caller, then lets the next call run again', async () => {
    const flights = createSingleFlight();
    const { work, gates, starts } = controlledWork<number>();
    const calls = [flights.run('a', work), flights.run('a', work)];
    const error = new Error('source down');
    gates[0]!.reject(error);
    for (const call of calls) await expect(call).rejects.toBe(error);
    expect(flights.size).toBe(0);
    void flights.run('a', work);
    expect(starts()).toBe(2);
  });
});

describe('createSingleFlight: forget', () => {
  it('stops new callers from joining a run that covers a dropped key; who joined still gets its result', async () => {
    const flights = createSingleFlight();
    const { work, gates, starts } = controlledWork<string>();
    const before = [flights.run('span', work, ['k1', 'k2']), flights.run('span', work, ['k1', 'k2'])];
    flights.forget(['k2']);
    const after = flights.run('span', work, ['k1', 'k2']);
    expect(starts()).toBe(2);
    gates[1]!.resolve('after the write');
    gates[0]!.resolve('before the write');
    expect(await Promise.all(before)).toEqual(['before the write', 'before the write']);
    expect(await after).toBe('after the write');
  });

  it('leaves runs that cover none of the dropped keys, and runs without keys, joinable', async () => {
    const flights = createSingleFlight();
    const { work, gates, starts } = controlledWork<string>();
    void flights.run('a', work, ['k1']);
    void flights.run('b', work);
    flights.forget(['k2', 'k3']);
    void flights.run('a', work, ['k1']);
    void flights.run('b', work);
    expect(starts()).toBe(2);
    for (const gate of gates) gate.resolve('x');
  });

  it('lets the forgotten run settle without removing the newer run that took its id', async () => {
    const flights = createSingleFlight();
    const { work, gates, starts } = controlledWork<string>();
    const old = flights.run('span', work, ['k']);
    flights.forget(['k']);
    const newer = flights.run('span', work, ['k']);
    gates[0]!.resolve('old');
    expect(await old).toBe('old');
    await flush();
    // Only if still ours: the old run's end does not free the id the newer run holds.
    const joiner = flights.run('span', work, ['k']);
    expect(starts()).toBe(2);
    gates[1]!.resolve('newer');
    expect(await joiner).toBe('newer');
    expect(await newer).toBe('newer');
    expect(flights.size).toBe(0);
  });

  it('forgets every run that covers any of the keys', () => {
    const flights = createSingleFlight();
    const { work } = controlledWork<string>();
    void flights.run('a', work, ['k1', 'k2']);
    void flights.run('b', work, ['k2', 'k3']);
    void flights.run('c', work, ['k4']);
    flights.forget(['k2']);
    expect(flights.size).toBe(1);
  });
});
