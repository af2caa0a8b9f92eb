import { describe, expect, it } from 'vitest';
import { createTurnReads } from '../../src/cache/loader.js';
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

  it('answers an empty read at once, sending nothing', async () => {
    const recording = recordingStore(createMemoryStore());
    const reads = createTurnReads(recording.store);
    expect(await reads.getMany([])).toEqual([]);
    await nextTurn();
    expect(recording.sent).toEqual([]);
  });
});
