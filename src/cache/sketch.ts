/**
 * A mergeable distinct-count sketch, stored per bucket so that distinct counts over
 * any range come from merging buckets at read time:
 *
 * - `set`: the 32-bit hashes of the members, exact (up to hash collisions, about
 *   n²/2³³: 0.07 for 25,000 members) while there are at most SET_MAX of them;
 * - `hll`: a HyperLogLog of 2^15 registers (standard error 0.57%, so the contract's 2%
 *   is 3.5 standard errors) beyond that.
 *
 * Merging sets stays exact; merging with any HLL gives an HLL estimate. Pure code, so
 * the in-process store and Redis give the same answer.
 */

/** Most members kept exactly; a set this large weighs as much as the HLL (32 KiB). */
export const SET_MAX = 8_192;
const P = 15;
const M = 1 << P;
/** Ranks use Q bits of the second hash, so a register holds 0..Q+1. */
const Q = 32 - P;

/**
 * A stored distinct-count sketch: `set` with the base64 of the sorted 32-bit member
 * hashes (exact, at most `SET_MAX`), or `hll` with the base64 of 2^15 HyperLogLog
 * registers.
 */
export type Sketch = { k: 'set'; h: string } | { k: 'hll'; r: string };

/** A sketch of the distinct members of `ids`. */
export function sketchOf(ids: Iterable<string>): Sketch {
  const hashes = new Set<number>();
  for (const id of ids) hashes.add(murmur3(id, 0x9747b28c));
  if (hashes.size <= SET_MAX) return setSketch(hashes);
  // From the hashes, not the ids: `ids` may be an iterable that can be read only once.
  const registers = new Uint8Array(M);
  for (const h of hashes) addHash(registers, h);
  return { k: 'hll', r: Buffer.from(registers).toString('base64') };
}

/** The estimated number of distinct members of the union of `sketches`. */
export function countDistinct(sketches: Iterable<Sketch>): number {
  const union = new Set<number>();
  let registers: Uint8Array | undefined;
  const pendingSets: Sketch[] = [];
  for (const sketch of sketches) {
    if (sketch.k === 'hll') {
      registers ??= new Uint8Array(M);
      const other = Buffer.from(sketch.r, 'base64');
      for (let i = 0; i < M; i++) if (other[i]! > registers[i]!) registers[i] = other[i]!;
    } else if (registers) {
      pendingSets.push(sketch);
    } else {
      for (const h of readSet(sketch.h)) union.add(h);
    }
  }
  if (!registers) return union.size;
  // Exact members meet an HLL: fold their hashes into the registers as members would.
  for (const h of union) addHash(registers, h);
  for (const sketch of pendingSets) for (const h of readSet((sketch as { h: string }).h)) addHash(registers, h);
  return Math.round(estimate(registers));
}

function setSketch(hashes: Set<number>): Sketch {
  const sorted = Uint32Array.from(hashes).sort();
  return { k: 'set', h: Buffer.from(sorted.buffer, sorted.byteOffset, sorted.byteLength).toString('base64') };
}

function readSet(base64: string): Uint32Array {
  const bytes = Buffer.from(base64, 'base64');
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Uint32Array(copy.buffer, 0, copy.byteLength / 4);
}

// The index comes from the top P bits of the member's hash, the rank from a second,
// independent hash of that hash, so that a set can be folded into registers later
// from its stored hashes alone.
function addHash(registers: Uint8Array, h: number): void {
  const index = h >>> (32 - P);
  const w = fmix32((h ^ 0x5bd1e995) >>> 0);
  const rank = Math.min(Math.clz32(w) + 1, Q + 1);
  if (rank > registers[index]!) registers[index] = rank;
}

/**
 * Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
 * sketches", 2017): unbiased from a handful of members to billions, without the
 * empirical bias tables of HLL++ and without the error bump of the classic estimator
 * where it switches to linear counting.
 */
function estimate(registers: Uint8Array): number {
  const counts = new Array<number>(Q + 2).fill(0);
  for (let i = 0; i < M; i++) counts[registers[i]!]!++;
  let z = M * tau(1 - counts[Q + 1]! / M);
  for (let k = Q; k >= 1; k--) z = 0.5 * (z + counts[k]!);
  z += M * sigma(counts[0]! / M);
  return (M * M) / (2 * Math.LN2 * z);
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const previous = z;
    z += x * y;
    y += y;
    if (z === previous) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
    if (z === previous) return z / 3;
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 (x86, 32-bit) of the UTF-8 bytes of `text`. */
export function murmur3(text: string, seed: number): number {
  const data = Buffer.from(text, 'utf8');
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = data.length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (data.length & 3) {
    case 3:
      k ^= data[blocks + 2]! << 16;
    // falls through
    case 2:
      k ^= data[blocks + 1]! << 8;
    // falls through
    case 1:
      k ^= data[blocks]!;
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= data.length;
  return fmix32(h);
}
