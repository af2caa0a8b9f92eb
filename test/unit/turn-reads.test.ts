import { describe, expect, it } from 'vitest';
import { createTrustedReads, createTurnReads } from '../../src/cache/loader.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import type { CacheStore } from '../../src/cache/store.js';
import { deferred } from './cache-test-kit.js';

const LONG = 60_000;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The memory store, recording each getMany it is sent. A read takes its values when it
 * is sent; its answer reaches the caller once the test opens its gate (a read in flight).
 */
function recordingStore(store: CacheStore) {
  const sent: string[][] = [];
  const gates: Array<ReturnType<typeof deferred<void>>> = [];
  let failNext = false;
  return {
    sent,
    gates,
    failNext: () => (failNext = true),
    store: {
      async getMany(keys: readonly string[]) {
        sent.push([...keys]);
        const gate = deferred<void>();
        gates.push(gate);
        if (failNext) {
          failNext = false;
          await gate.promise;
          throw new Error('store down');
        }
        const values = await store.getMany(keys);
        await gate.promise;
        return values;
      },
    },
  };
}

describe('createTurnReads: validator reads shared within one turn of the event loop', () => {
  it('sends the reads asked for in one turn as one getMany, each key once, and gives each caller its own keys in order', async () => {
    const memory = createMemoryStore();
    await memory.setMany([
      { key: 'v:a', value: '1', ttlMs: LONG },
      { key: 'v:b', value: '2', ttlMs: LONG },
    ]);
    const recording = recordingStore(memory);
    const reads = createTurnReads(recording.store);
    const calls = [reads.getMany(['v:a', 'v:b']), reads.getMany(['v:b', 'v:a']), reads.getMany(['v:c', 'v:a'])];
    // Nothing goes out before the turn's callbacks have run.
    expect(recording.sent).toEqual([]);
    await nextTurn();
    expect(recording.sent).toEqual([['v:a', 'v:b', 'v:c']]);
    recording.gates[0]!.resolve();
    expect(await Promise.all(calls)).toEqual([
      ['1', '2'],
      ['2', '1'],
      [null, '1'],
    ]);
  });

  it('never joins a read already sent: a caller after it gets its own, and sees a write made since', async () => {
    const memory = createMemoryStore();
    await memory.setMany([{ key: 'v:a', value: 'before', ttlMs: LONG }]);
    const recording = recordingStore(memory);
    const reads = createTurnReads(recording.store);
    const first = reads.getMany(['v:a']);
    await nextTurn();
    expect(recording.sent).toHaveLength(1);
    // The first read is in flight (sent, not answered) when the write returns.
    await memory.setMany([{ key: 'v:a', value: 'after', ttlMs: LONG }]);
    const second = reads.getMany(['v:a']);
    await nextTurn();
    expect(recording.sent).toHaveLength(2);
    recording.gates.forEach((gate) => gate.resolve());
    expect(await first).toEqual(['before']);
    expect(await second).toEqual(['after']);
  });

  it('fails every caller of a turn whose read failed, and reads again in the next turn', async () => {
    const memory = createMemoryStore();
    await memory.setMany([{ key: 'v:a', value: '1', ttlMs: LONG }]);
    const recording = recordingStore(memory);
    const reads = createTurnReads(recording.store);
    recording.failNext();
    const calls = [reads.getMany(['v:a']), reads.getMany(['v:a', 'v:b'])].map((p) => p.catch((error: Error) => error.message));
    await nextTurn();
    recording.gates[0]!.resolve();
    expect(await Promise.all(calls)).toEqual(['store down', 'store down']);
    const again = reads.getMany(['v:a']);
    await nextTurn();
    recording.gates[1]!.resolve();
    expect(await again).toEqual(['1']);
    expect(recording.sent).toHaveLength(2);
  });

  it('answers the callers of one read one at a time: each runs its promise jobs to the end before the next is answered', async () => {
    const reads = createTurnReads(createMemoryStore());
    const seen: string[] = [];
    // An execution that goes on over several promise jobs once its validators are in.
    const execution = (name: string) =>
      reads.getMany(['v']).then(async () => {
        seen.push(`${name} starts`);
        for (let job = 0; job < 5; job++) await Promise.resolve();
        seen.push(`${name} ends`);
      });
    await Promise.all([execution('a'), execution('b'), execution('c')]);
    expect(seen).toEqual(['a starts', 'a ends', 'b starts', 'b ends', 'c starts', 'c ends']);
  });

  it('answers an empty read at once, sending nothing', async () => {
    const recording = recordingStore(createMemoryStore());
    const reads = createTurnReads(recording.store);
    expect(await reads.getMany([])).toEqual([]);
    await nextTurn();
    expect(recording.sent).toEqual([]);
  });
});

describe('createTrustedReads: the bounded-staleness mode', () => {
  const BOUND = 1_000;
  async function setup(values: Record<string, string>) {
    const memory = createMemoryStore();
    await memory.setMany(Object.entries(values).map(([key, value]) => ({ key, value, ttlMs: LONG })));
    const recording = recordingStore(memory);
    let now = 10_000;
    const clock = { now: () => now, advance: (ms: number) => (now += ms) };
    const reads = createTrustedReads(recording.store, { boundMs: BOUND, clock: clock.now, maxKeys: 3 });
    /** A read whose store command (if any) is answered at once. */
    const read = async (keys: string[]) => {
      const sent = recording.sent.length;
      const pending = reads.getMany(keys);
      await Promise.resolve();
      recording.gates.slice(sent).forEach((gate) => gate.resolve());
      return pending;
    };
    return { memory, recording, clock, reads, read };
  }

  it('takes a value read less than the bound ago again without a store command, and reads it again after', async () => {
    const { memory, recording, clock, read } = await setup({ 'v:a': '1', 'v:b': '2' });
    expect(await read(['v:a', 'v:b'])).toEqual(['1', '2']);
    await memory.setMany([{ key: 'v:a', value: 'moved', ttlMs: LONG }]);
    clock.advance(BOUND - 1);
    // Within the bound: what was read, not what the store holds now.
    expect(await read(['v:b', 'v:a'])).toEqual(['2', '1']);
    expect(recording.sent).toEqual([['v:a', 'v:b']]);
    clock.advance(1);
    // At the bound: the store again, the keys no longer trusted only.
    expect(await read(['v:a', 'v:c'])).toEqual(['moved', null]);
    expect(recording.sent).toEqual([
      ['v:a', 'v:b'],
      ['v:a', 'v:c'],
    ]);
  });

  it('reads again what was forgotten under a prefix, and keeps nothing a read in flight at the forget brought', async () => {
    const { memory, recording, reads, read } = await setup({ 'x:{acme}:v': '1', 'x:{globex}:v': '1' });
    await read(['x:{acme}:v', 'x:{globex}:v']);
    await memory.setMany([{ key: 'x:{acme}:v', value: '2', ttlMs: LONG }]);
    reads.forget('x:{acme}:');
    expect(await read(['x:{acme}:v', 'x:{globex}:v'])).toEqual(['2', '1']);
    expect(recording.sent.at(-1)).toEqual(['x:{acme}:v']);

    // A read sent before a drop, answered after this process forgot: not kept.
    await memory.setMany([{ key: 'x:{acme}:v', value: '3', ttlMs: LONG }]);
    reads.forget('x:{acme}:');
    const inFlight = reads.getMany(['x:{acme}:v']);
    await Promise.resolve();
    reads.forget('x:{acme}:');
    recording.gates.at(-1)!.resolve();
    expect(await inFlight).toEqual(['3']);
    const sent = recording.sent.length;
    expect(await read(['x:{acme}:v'])).toEqual(['3']);
    expect(recording.sent).toHaveLength(sent + 1);
  });

  it('keeps no absent validator and at most maxKeys values, the oldest read dropped first', async () => {
    const { recording, read } = await setup({ 'v:a': '1', 'v:b': '2', 'v:c': '3', 'v:d': '4' });
    expect(await read(['v:none'])).toEqual([null]);
    expect(await read(['v:none'])).toEqual([null]);
    expect(recording.sent).toHaveLength(2);
    await read(['v:a']);
    await read(['v:b', 'v:c', 'v:d']);
    const sent = recording.sent.length;
    // v:a was the oldest of four with room for three.
    expect(await read(['v:b', 'v:c', 'v:d'])).toEqual(['2', '3', '4']);
    expect(recording.sent).toHaveLength(sent);
    expect(await read(['v:a'])).toEqual(['1']);
    expect(recording.sent).toHaveLength(sent + 1);
  });
});
