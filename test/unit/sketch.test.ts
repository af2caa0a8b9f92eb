import { describe, expect, it } from 'vitest';
import { countDistinct, murmur3, SET_MAX, sketchOf, type Sketch } from '../../src/cache/sketch.js';

/** `count` distinct ids starting at `from`: c<from>, c<from+1>, … */
const ids = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `customer-${from + i}`);

const relativeError = (estimate: number, truth: number) => Math.abs(estimate - truth) / truth;

/** `parts` sketches of `n` ids, each covering 3/parts of them and overlapping its neighbours (wrapping around). */
function overlappingSketches(n: number, parts: number): Sketch[] {
  const step = Math.ceil(n / parts);
  const width = Math.min(n, 3 * step);
  return Array.from({ length: parts }, (_, p) => sketchOf(Array.from({ length: width }, (_, i) => `customer-${(p * step + i) % n}`)));
}

describe('murmur3 (MurmurHash3 x86_32, UTF-8 bytes)', () => {
  // Published vectors (SMHasher-derived tables and the reference ports' test suites).
  it.each<[string, number, number]>([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['hello', 0, 0x248bfa47],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['aa', 0x9747b28c, 0x5d211726],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
  ])('hashes %j with seed %i to the reference value', (text, seed, expected) => {
    expect(murmur3(text, seed)).toBe(expected);
  });

  it('returns an unsigned 32-bit integer', () => {
    for (const id of ids(0, 1_000)) {
      const h = murmur3(id, 0x9747b28c);
      expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    }
  });
});

describe('sketchOf / countDistinct: exact sets', () => {
  it('counts an empty sketch, and no sketch at all, as 0', () => {
    expect(countDistinct([sketchOf([])])).toBe(0);
    expect(countDistinct([])).toBe(0);
    expect(countDistinct([sketchOf([]), sketchOf([])])).toBe(0);
  });

  it.each([1, 2, 3, 100, 1_000, 5_000, SET_MAX - 1, SET_MAX])('counts %i members exactly, as a set', (n) => {
    const sketch = sketchOf(ids(0, n));
    expect(sketch.k).toBe('set');
    expect(countDistinct([sketch])).toBe(n);
  });

  it('switches to an HLL one member past SET_MAX', () => {
    expect(SET_MAX).toBe(8_192);
    expect(sketchOf(ids(0, SET_MAX + 1)).k).toBe('hll');
  });

  it('does not count duplicates twice', () => {
    expect(countDistinct([sketchOf(['a', 'a', 'b', 'a', 'b'])])).toBe(2);
    const many = ids(0, 3_000);
    expect(countDistinct([sketchOf([...many, ...many, ...many.slice(0, 1_000)])])).toBe(3_000);
  });

  it('keeps duplicates out of the set/HLL decision: SET_MAX members repeated stay an exact set', () => {
    const members = ids(0, SET_MAX);
    const sketch = sketchOf([...members, ...members]);
    expect(sketch.k).toBe('set');
    expect(countDistinct([sketch])).toBe(SET_MAX);
  });

  it('counts the union of overlapping sets exactly', () => {
    const a = sketchOf(ids(0, 5_000));
    const b = sketchOf(ids(3_000, 5_000)); // 3000..7999
    const c = sketchOf(ids(7_500, 1_000)); // 7500..8499
    expect(countDistinct([a, b])).toBe(8_000);
    expect(countDistinct([a, b, c])).toBe(8_500);
    expect(countDistinct([a, a, a])).toBe(5_000);
  });

  it('stays exact when merged sets exceed SET_MAX together', () => {
    const parts = Array.from({ length: 6 }, (_, p) => sketchOf(ids(p * 4_000, 6_000))); // 0..25999
    expect(parts.every((s) => s.k === 'set')).toBe(true);
    expect(countDistinct(parts)).toBe(26_000);
  });

  it('survives a JSON round trip, as it travels inside an entry', () => {
    const sketch = sketchOf(ids(0, 777));
    const copy = JSON.parse(JSON.stringify(sketch)) as Sketch;
    expect(copy).toEqual(sketch);
    expect(countDistinct([copy])).toBe(777);
  });

  it('does not depend on member order', () => {
    const members = ids(0, 2_000);
    expect(sketchOf(members)).toEqual(sketchOf([...members].reverse()));
  });
});

describe('sketchOf / countDistinct: HyperLogLog estimates', () => {
  it.each([20_000, 100_000, 300_000])('estimates %i distinct members within 2% from one sketch', (n) => {
    const sketch = sketchOf(ids(0, n));
    expect(sketch.k).toBe('hll');
    expect(relativeError(countDistinct([sketch]), n)).toBeLessThan(0.02);
  });

  it.each([20_000, 100_000, 300_000])('estimates %i distinct members within 2% as a merge of 30 overlapping sketches', (n) => {
    const parts = overlappingSketches(n, 30);
    expect(parts).toHaveLength(30);
    expect(relativeError(countDistinct(parts), n)).toBeLessThan(0.02);
  });

  it('merges HLLs into exactly the sketch of the union', () => {
    const a = sketchOf(ids(0, 30_000));
    const b = sketchOf(ids(20_000, 30_000));
    expect(countDistinct([a, b])).toBe(countDistinct([sketchOf(ids(0, 50_000))]));
    expect(countDistinct([a, b])).toBe(countDistinct([b, a]));
  });

  it('does not count duplicates twice in an HLL', () => {
    const members = ids(0, 20_000);
    expect(countDistinct([sketchOf([...members, ...members, ...members])])).toBe(countDistinct([sketchOf(members)]));
    expect(countDistinct([sketchOf(members), sketchOf(members)])).toBe(countDistinct([sketchOf(members)]));
  });

  it('folds exact sets into an HLL as if their members had been added, in any order', () => {
    const hll = sketchOf(ids(0, 20_000));
    const inside = sketchOf(ids(5_000, 3_000)); // a set of members the HLL already has
    const outside = sketchOf(ids(20_000, 4_000)); // 4000 new members
    expect(inside.k).toBe('set');
    expect(countDistinct([hll, inside])).toBe(countDistinct([hll]));
    expect(countDistinct([inside, hll])).toBe(countDistinct([hll]));
    const merged = countDistinct([inside, hll, outside]);
    expect(merged).toBe(countDistinct([hll, outside, inside]));
    expect(merged).toBe(countDistinct([sketchOf(ids(0, 24_000))]));
    expect(relativeError(merged, 24_000)).toBeLessThan(0.02);
  });

  it('merges many small sets with one HLL within 2%', () => {
    const sets = Array.from({ length: 20 }, (_, p) => sketchOf(ids(50_000 + p * 1_000, 1_500))); // 50000..70499
    const hll = sketchOf(ids(0, 55_000));
    expect(relativeError(countDistinct([...sets.slice(0, 10), hll, ...sets.slice(10)]), 70_500)).toBeLessThan(0.02);
  });

  // The signature takes any Iterable, and the doc says "a sketch of the distinct
  // members of `ids`"; a generator can be iterated only once.
  it('sketches a one-shot iterable (a generator) beyond SET_MAX like the same members in an array', () => {
    function* generate(n: number) {
      for (let i = 0; i < n; i++) yield `customer-${i}`;
    }
    expect(countDistinct([sketchOf(generate(20_000))])).toBe(countDistinct([sketchOf(ids(0, 20_000))]));
  });

  it('sketches a one-shot iterable within SET_MAX exactly', () => {
    function* generate(n: number) {
      for (let i = 0; i < n; i++) yield `customer-${i}`;
    }
    expect(countDistinct([sketchOf(generate(1_000))])).toBe(1_000);
  });
});
