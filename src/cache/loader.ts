/**
 * The per-request batching loaders: every key asked for in the same tick of one
 * request goes to the store in one `getMany` (one MGET for a tenant). A store
 * failure reads as "absent" for every bucket of the batch (the resilient store has
 * already counted it), and as "unknown" for validators.
 *
 * Identical bucket batches of concurrent requests in one process share one
 * `getMany` — a hundred users opening the same dashboard at once cost one MGET, not
 * a hundred — but only between requests that read the same validators: a request
 * that started after a drop never joins a read that began before it.
 * Validator reads are shared only before they are sent: the requests that ask in the
 * same turn of the event loop go out in one `getMany` at the end of that turn
 * (`createTurnReads`), so the read still begins after each of them started, and orders
 * each after every write that returned before it did. A read already sent is never joined.
 */
import DataLoader from 'dataloader';
import { createSingleFlight } from './single-flight.js';
import { VALIDATOR_TTL_MS } from './local-tier.js';
import { newValidator, type CacheStore } from './store.js';

/** A request's loader of bucket entries: the raw stored text, null where absent (or the store failed). */
export type BucketLoader = DataLoader<string, string | null>;

/** Shares in-flight `getMany` calls for the same key list and the same validators, across requests of one process. */
export interface ReadCoalescer {
  getMany(keys: readonly string[], validators: string): Promise<Array<string | null>>;
}

/** A coalescer over `store`. */
export function createReadCoalescer(store: CacheStore): ReadCoalescer {
  const reads = createSingleFlight();
  return {
    // Keys never contain a newline (keys.ts escapes every control character).
    getMany: (keys, validators) => reads.run(`${validators}\n${keys.join('\n')}`, () => store.getMany(keys)),
  };
}

/**
 * A request's loader of bucket entries.
 * @param validators what the request has read of its validators when the batch goes
 *   out: requests that read the same share the read.
 */
export function createBucketLoader(reads: ReadCoalescer, validators: () => string): BucketLoader {
  return new DataLoader<string, string | null>(
    async (keys) => {
      try {
        return await reads.getMany(keys, validators());
      } catch {
        return keys.map(() => null);
      }
    },
    {
      // Values are per request anyway; caching them in the loader dedupes repeats.
      cache: true,
      // One batch per turn of the event loop, not per run of promise jobs: a field whose
      // lookups come a few awaits later than another's (a merge beside a series) still
      // joins the same MGET.
      batchScheduleFn: (dispatch) => setImmediate(dispatch),
    },
  );
}

/**
 * Reads batched per turn of the event loop: every `getMany` asked for during one turn
 * goes to `store` as one call (the keys of all, each once) when that turn's I/O
 * callbacks have run (`setImmediate`). Each caller's read is sent after it asked, so it
 * sees every write that returned before the caller asked — what its own read would
 * see — and fifty requests that look up the same validators in a turn cost one MGET.
 * A failed call fails every caller of its turn.
 *
 * The answer reaches each caller in an immediate of its own, all queued at once (so no
 * I/O runs between them): a request's execution then runs to its end before the next
 * one's starts, as it would had it read alone, instead of fifty executions interleaving
 * with all their answers alive at once (a quarter less time in scavenges).
 */
export function createTurnReads(store: Pick<CacheStore, 'getMany'>): Pick<CacheStore, 'getMany'> {
  let turn:
    | {
        keys: string[];
        index: Map<string, number>;
        callers: Array<{ at: number[]; resolve: (values: Array<string | null>) => void; reject: (error: unknown) => void }>;
      }
    | undefined;
  const send = () => {
    const { keys, callers } = turn!;
    turn = undefined;
    store.getMany(keys).then(
      (values) => {
        for (const caller of callers) setImmediate(() => caller.resolve(caller.at.map((i) => values[i] ?? null)));
      },
      (error: unknown) => {
        for (const caller of callers) caller.reject(error);
      },
    );
  };
  return {
    getMany(keys) {
      if (keys.length === 0) return Promise.resolve([]);
      if (!turn) {
        turn = { keys: [], index: new Map(), callers: [] };
        setImmediate(send);
      }
      const { index, keys: all } = turn;
      const at = keys.map((key) => {
        let i = index.get(key);
        if (i === undefined) index.set(key, (i = all.push(key) - 1));
        return i;
      });
      return new Promise((resolve, reject) => turn!.callers.push({ at, resolve, reject }));
    },
  };
}

/** Validator reads that may be answered from what was read before: the bounded-staleness mode. */
export interface TrustedReads extends Pick<CacheStore, 'getMany'> {
  /**
   * Trusts nothing read so far under `prefix` (a tenant's validators, say): the next
   * read of each goes to the store. For a drop this process made, once the store has
   * it; for another instance's, once its notice arrives.
   */
  forget(prefix: string): void;
}

/**
 * The bounded-staleness mode (CACHE_STALENESS_BOUND_MS; off by default): a validator
 * read within the last `boundMs` is taken again without a store command, so a warm
 * request sends nothing at all. What that gives up, and what it keeps:
 * - a value is trusted only for `boundMs` after the read that got it was asked for (it
 *   was sent later still, so it shows every write that returned before that instant):
 *   a request that starts more than `boundMs` after a write returned, on any instance,
 *   reflects it, whatever pub/sub delivered;
 * - `forget` ends the trust early: this process's own drops (so that it reads its own
 *   writes at once) and other instances' notices (so that, while pub/sub delivers,
 *   they show within a message's flight);
 * - a read that was in flight when something was forgotten is not kept (it may have
 *   been sent before the drop); only values are kept, an absent validator is read
 *   again (the reader makes it);
 * - at most `maxKeys` values, the oldest read dropped first.
 */
export function createTrustedReads(
  reads: Pick<CacheStore, 'getMany'>,
  /** `clock`: milliseconds, monotonic (a wall clock set back would stretch the trust). @default performance.now */
  options: { boundMs: number; clock?: () => number; maxKeys?: number },
): TrustedReads {
  const clock = options.clock ?? (() => performance.now());
  const maxKeys = options.maxKeys ?? 10_000;
  const known = new Map<string, { value: string; readAt: number }>();
  /** Moves on every `forget`: a read that saw it move while in flight keeps nothing. */
  let forgets = 0;
  return {
    async getMany(keys) {
      const askedAt = clock();
      const values: Array<string | null> = new Array<string | null>(keys.length).fill(null);
      const missing: string[] = [];
      const missingAt: number[] = [];
      keys.forEach((key, i) => {
        const item = known.get(key);
        if (item && askedAt - item.readAt < options.boundMs) values[i] = item.value;
        else {
          missing.push(key);
          missingAt.push(i);
        }
      });
      if (missing.length === 0) return values;
      const before = forgets;
      const read = await reads.getMany(missing);
      const keep = before === forgets;
      missing.forEach((key, j) => {
        const value = read[j] ?? null;
        values[missingAt[j]!] = value;
        if (!keep || value === null) return;
        known.delete(key);
        known.set(key, { value, readAt: askedAt });
        if (known.size > maxKeys) known.delete(known.keys().next().value!);
      });
      return values;
    },
    forget(prefix) {
      forgets += 1;
      for (const key of known.keys()) if (key.startsWith(prefix)) known.delete(key);
    },
  };
}

/** Writes a fresh validator at `key` unless one appeared meanwhile; resolves with what is there, undefined if unknown. */
async function makeValidator(store: CacheStore, key: string, clock: () => number): Promise<string | undefined> {
  const value = newValidator(clock());
  try {
    if (await store.acquireLock(key, value, VALIDATOR_TTL_MS)) return value;
    // Someone wrote it first (a drop, another request): theirs counts.
    return (await store.getMany([key]))[0] ?? undefined;
  } catch {
    return undefined;
  }
}

/** A request's validators: each read once, all of a tick in one batch. */
export interface ValidatorReader {
  /** The validator at `key`: a value, null when absent, undefined when the store could not say. */
  load(key: string): Promise<string | null | undefined>;
  /** Every validator read so far, as one string: requests with equal snapshots may share bucket reads. */
  snapshot(): string;
  /**
   * The validators read so far and their snapshot (as `validatorSnapshot` writes it), when
   * every one is a value; undefined when one was unknown (the store could not say) or none was read.
   */
  trusted(): ValidatedBy | undefined;
  /**
   * Takes `values` of `keys` as read, without reading them again: for values this request
   * read itself, after it started, before it executed (the whole-response lookup). An
   * absent one is left to `load`, which makes it.
   */
  prime(keys: readonly string[], values: ReadonlyArray<string | null>): void;
}

/** What a value composed from cached reads was validated by: check it again with one read of `keys`. */
export interface ValidatedBy {
  /** Validator keys, sorted. */
  readonly keys: readonly string[];
  /** `validatorSnapshot(keys, values read under)`. */
  readonly snapshot: string;
}

/** The one string a set of validators reads as: equal only for the same keys with the same values. */
export function validatorSnapshot(keys: readonly string[], values: ReadonlyArray<string | null | undefined>): string {
  let out = '';
  for (let i = 0; i < keys.length; i++) out += `${i ? '\n' : ''}${keys[i]}=${String(values[i])}`;
  return out;
}

/**
 * A request's validator reader over `store`, its values read through `reads` (by default
 * the store itself; `createTurnReads` shares a turn's reads between requests).
 */
export function createValidatorReader(
  store: CacheStore,
  clock: () => number = Date.now,
  reads: Pick<CacheStore, 'getMany'> = store,
): ValidatorReader {
  const seen = new Map<string, string | null | undefined>();
  const loader = new DataLoader<string, string | null | undefined>(
    async (keys) => {
      let values: Array<string | null | undefined>;
      try {
        values = await reads.getMany(keys);
      } catch {
        return keys.map(() => undefined);
      }
      // An absent validator (never written, expired, evicted, or the store restarted
      // empty) is made here, with a value never used before: an item is only ever kept
      // under a value, so "absent" can never match an item read before a drop whose
      // validator was lost since. Costs one more round trip, once per metric and tenant.
      const absent = keys.filter((_, i) => values[i] === null);
      if (absent.length) {
        const made = await Promise.all(absent.map((key) => makeValidator(store, key, clock)));
        absent.forEach((key, j) => (values[keys.indexOf(key)] = made[j]));
      }
      return values;
    },
    { cache: true },
  );
  return {
    async load(key) {
      const value = await loader.load(key);
      seen.set(key, value);
      return value;
    },
    snapshot() {
      const keys = [...seen.keys()].sort();
      return validatorSnapshot(
        keys,
        keys.map((key) => seen.get(key)),
      );
    },
    prime(keys, values) {
      keys.forEach((key, i) => {
        const value = values[i];
        if (typeof value === 'string') loader.prime(key, value);
      });
    },
    trusted() {
      const keys = [...seen.keys()].sort();
      const values = keys.map((key) => seen.get(key));
      if (keys.length === 0 || values.some((v) => v === undefined || v === null)) return undefined;
      return { keys, snapshot: validatorSnapshot(keys, values) };
    },
  };
}
