import { describe, expect, it } from 'vitest';
import { createBreaker, type BreakerOptions } from '../../src/cache/breaker.js';
import { deferred, flush, manualClock } from './cache-test-kit.js';

const T0 = Date.parse('2026-11-25T12:00:00Z');
const REFUSED = 'refused' as const;

function setup(options: BreakerOptions = {}) {
  const clock = manualClock(T0);
  const changes: Array<'open' | 'closed'> = [];
  const breaker = createBreaker({ failureThreshold: 3, cooldownMs: 5_000, ...options, clock, onChange: (state) => changes.push(state) });
  let calls = 0;
  const ok = () =>
    breaker.run(
      async () => {
        calls++;
        return 'ok' as const;
      },
      () => REFUSED,
    );
  const fail = () =>
    breaker
      .run(
        async () => {
          calls++;
          throw new Error('down');
        },
        () => REFUSED,
      )
      .catch((error: Error) => error.message);
  return { clock, breaker, changes, ok, fail, calls: () => calls };
}

describe('createBreaker: closed', () => {
  it('runs the work and passes its result on', async () => {
    const { breaker, ok, calls } = setup();
    expect(await ok()).toBe('ok');
    expect(calls()).toBe(1);
    expect(breaker.state()).toBe('closed');
  });

  it('passes a failure on as it came', async () => {
    const { breaker } = setup();
    const error = new Error('the cause');
    await expect(
      breaker.run(
        () => Promise.reject(error),
        () => REFUSED,
      ),
    ).rejects.toBe(error);
  });

  it('opens after failureThreshold consecutive failures, and a success resets the count', async () => {
    const { breaker, ok, fail, changes } = setup({ failureThreshold: 3 });
    await fail();
    await fail();
    await ok();
    await fail();
    await fail();
    expect(breaker.state()).toBe('closed');
    expect(changes).toEqual([]);
    await fail();
    expect(breaker.state()).toBe('open');
    expect(changes).toEqual(['open']);
  });

  it('honours a threshold of 1: the first failure opens it', async () => {
    const { breaker, fail } = setup({ failureThreshold: 1 });
    expect(await fail()).toBe('down');
    expect(breaker.state()).toBe('open');
  });

  it('uses the documented defaults: 3 failures, 5000 ms', async () => {
    const clock = manualClock(T0);
    const breaker = createBreaker({ clock });
    const fail = () =>
      breaker
        .run(
          () => Promise.reject(new Error('x')),
          () => REFUSED,
        )
        .catch(() => undefined);
    await fail();
    await fail();
    expect(breaker.state()).toBe('closed');
    await fail();
    expect(breaker.state()).toBe('open');
    clock.advance(4_999);
    expect(breaker.state()).toBe('open');
    clock.advance(1);
    expect(breaker.state()).toBe('half-open');
  });
});

describe('createBreaker: open', () => {
  it('refuses every call without running it until cooldownMs has passed', async () => {
    const { clock, breaker, ok, fail, calls } = setup({ failureThreshold: 2, cooldownMs: 5_000 });
    await fail();
    await fail();
    expect(calls()).toBe(2);
    clock.advance(4_999);
    expect(await ok()).toBe(REFUSED);
    expect(await fail()).toBe(REFUSED);
    expect(calls()).toBe(2);
    expect(breaker.state()).toBe('open');
  });

  it('lets a refusal answer asynchronously', async () => {
    const { breaker, fail } = setup({ failureThreshold: 1 });
    await fail();
    await expect(
      breaker.run(
        async () => 1,
        async () => 2,
      ),
    ).resolves.toBe(2);
    await expect(
      breaker.run(
        async () => 1,
        () => Promise.reject(new Error('refused')),
      ),
    ).rejects.toThrow('refused');
  });

  it('re-opens for a whole new cooldown when a call let through before it opened fails after', async () => {
    const { clock, breaker, fail, changes } = setup({ failureThreshold: 1, cooldownMs: 1_000 });
    const gate = deferred();
    const late = breaker.run(
      async () => {
        await gate.promise;
        throw new Error('late');
      },
      () => REFUSED,
    );
    await fail();
    clock.advance(600);
    gate.reject(undefined);
    await late.catch(() => undefined);
    expect(changes).toEqual(['open', 'open']);
    clock.advance(600);
    expect(breaker.state()).toBe('open');
    clock.advance(400);
    expect(breaker.state()).toBe('half-open');
  });

  it('closes when a call let through before it opened succeeds after', async () => {
    const { breaker, fail, changes } = setup({ failureThreshold: 1 });
    const gate = deferred();
    const late = breaker.run(
      () => gate.promise.then(() => 'late'),
      () => REFUSED,
    );
    await fail();
    expect(breaker.state()).toBe('open');
    gate.resolve();
    expect(await late).toBe('late');
    expect(breaker.state()).toBe('closed');
    expect(changes).toEqual(['open', 'closed']);
  });
});

describe('createBreaker: half-open', () => {
  it('lets one trial through after cooldownMs; its success closes the circuit', async () => {
    const { clock, breaker, ok, fail, changes, calls } = setup({ failureThreshold: 2, cooldownMs: 5_000 });
    await fail();
    await fail();
    clock.advance(5_000);
    expect(breaker.state()).toBe('half-open');
    expect(await ok()).toBe('ok');
    expect(calls()).toBe(3);
    expect(breaker.state()).toBe('closed');
    expect(changes).toEqual(['open', 'closed']);
    // Closed again: the count starts from zero.
    await fail();
    expect(breaker.state()).toBe('closed');
  });

  it('re-opens on one failed trial, not after failureThreshold of them, for a whole new cooldown', async () => {
    const { clock, breaker, ok, fail, changes } = setup({ failureThreshold: 5, cooldownMs: 1_000 });
    for (let i = 0; i < 5; i++) await fail();
    clock.advance(1_000);
    expect(await fail()).toBe('down');
    expect(breaker.state()).toBe('open');
    expect(changes).toEqual(['open', 'open']);
    clock.advance(999);
    expect(await ok()).toBe(REFUSED);
    clock.advance(1);
    expect(await ok()).toBe('ok');
  });

  it('refuses every other call while the trial is in flight, and lets calls through once it ended', async () => {
    const { clock, breaker, ok, fail, calls } = setup({ failureThreshold: 1, cooldownMs: 1_000 });
    await fail();
    clock.advance(1_000);
    const gate = deferred();
    const trial = breaker.run(
      () => gate.promise.then(() => 'trial'),
      () => REFUSED,
    );
    await flush();
    expect(breaker.state()).toBe('half-open');
    expect(await ok()).toBe(REFUSED);
    expect(calls()).toBe(1);
    gate.resolve();
    expect(await trial).toBe('trial');
    expect(await ok()).toBe('ok');
  });

  it('tells nothing when open turns half-open: only opening and closing are changes', async () => {
    const { clock, breaker, fail, changes } = setup({ failureThreshold: 1, cooldownMs: 1_000 });
    await fail();
    clock.advance(1_000);
    expect(breaker.state()).toBe('half-open');
    expect(changes).toEqual(['open']);
  });
});

describe('createBreaker: probe (the dependency says it is back)', () => {
  it('turns an open circuit half-open at once: the next call is the trial, and its success closes it', async () => {
    const { clock, breaker, ok, fail, changes } = setup({ failureThreshold: 1, cooldownMs: 60_000 });
    await fail();
    clock.advance(1_000);
    expect(await ok()).toBe(REFUSED);
    breaker.probe();
    expect(breaker.state()).toBe('half-open');
    expect(await ok()).toBe('ok');
    expect(breaker.state()).toBe('closed');
    expect(changes).toEqual(['open', 'closed']);
  });

  it('leaves the trial to decide: a failure opens the circuit for a whole cooldown again', async () => {
    const { clock, breaker, ok, fail } = setup({ failureThreshold: 1, cooldownMs: 60_000 });
    await fail();
    breaker.probe();
    expect(await fail()).toBe('down');
    expect(breaker.state()).toBe('open');
    clock.advance(59_999);
    expect(await ok()).toBe(REFUSED);
  });

  it('does nothing to a closed circuit, nor to one whose trial is running', async () => {
    const { clock, breaker, ok, fail, calls } = setup({ failureThreshold: 2, cooldownMs: 1_000 });
    breaker.probe();
    expect(breaker.state()).toBe('closed');
    await fail();
    await fail();
    clock.advance(1_000);
    const gate = deferred();
    const trial = breaker.run(
      () => gate.promise.then(() => 'trial'),
      () => REFUSED,
    );
    await flush();
    breaker.probe();
    expect(await ok()).toBe(REFUSED);
    expect(calls()).toBe(2);
    gate.resolve();
    expect(await trial).toBe('trial');
  });
});
