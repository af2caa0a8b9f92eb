/**
 * Whole responses that are never stale: an identical request (same document, variables,
 * operation, verified tenant, region and role) is answered from the response an earlier
 * one produced, while everything that response was built from is still valid — checked
 * with the same validators as the field path's in-process tier (local-tier.ts), in one
 * MGET in the tenant's slot. Built on @envelop/response-cache through the yoga plugin:
 * its `cache` interface is where the check goes, its session hook is the verified token.
 *
 * | when a response is asked for                             | then                                  |
 * |----------------------------------------------------------|---------------------------------------|
 * | kept, every validator it was built under unchanged, fresh | served whole (one MGET, no execution) |
 * | the same, past its fresh deadline, within its buckets'    | served stale while one request        |
 * | stale window (the tier keeps it no longer)                | executes (refreshing the buckets)     |
 * | a validator moved (a write, a drop) or could not be read  | executed on the field path, kept anew |
 * | not kept                                                  | executed on the field path, kept      |
 *
 * - After a write, identical requests that find nothing valid wait for one execution
 *   instead of each executing; an execution serves a waiter only if it read its validators
 *   after the waiter started, or read the same ones the waiter read itself.
 * - Kept only when the execution had no errors and read only validated cache data (not a
 *   vendor's rate, see `MetricsReader.readUnvalidated`); served fresh as long as its
 *   shortest-lived bucket stays fresh (at most `maxLifeMs`), stale no longer than that
 *   bucket may be. An answer that served a stale bucket is kept as stale.
 * - Kept in the in-process tier (its byte bound covers both), per instance: a write on any
 *   instance replaces the validators in the store before it returns, so every instance's
 *   next request for it sees the change (CONTRACT.md, "Freshness").
 * - Authorization is decided per request: the session is made from the token verified on
 *   every request, a VIEWER's refused fields are errors (never kept), and a request
 *   carrying If-None-Match is not answered from here (the HTTP server answers it with its
 *   own ETag, after authorization).
 */
import { createHash, randomBytes } from 'node:crypto';
import { useResponseCache } from '@graphql-yoga/plugin-response-cache';
import type { DocumentNode, ExecutionArgs, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { verifyAuthorization } from '../../auth/identity.js';
import { parseResponseKey, responseKey } from '../../cache/keys.js';
import { validatorSnapshot, type ValidatedBy } from '../../cache/loader.js';
import type { LocalTier } from '../../cache/local-tier.js';
import type { CacheStore } from '../../cache/store.js';
import type { GraphQLContext } from '../context.js';
import { effectiveVariables } from './effective-variables.js';

/**
 * How a whole-response lookup ended: `hit` served fresh; `stale` past its fresh deadline
 * (served while one request refreshes it, or that request); `joined` served what another
 * request's execution just made; `changed` kept but a validator moved (or could not be
 * read); `miss` none kept.
 */
export type ResponseLookup = 'hit' | 'stale' | 'joined' | 'changed' | 'miss';

/** Counts what the layer does (cache_response_lookups_total). */
export interface ResponseCacheObserver {
  lookup(result: ResponseLookup): void;
  /** A response served stale while one request refreshes it: once for each metric whose buckets in it turned stale (cache_stale_served_total). */
  staleServed?(metric: string): void;
}

/** What the layer is built from. */
export interface ResponseCacheOptions {
  /**
   * Where validators are read: the cache core's reads of its (resilient) store, shared by
   * the requests of one turn of the event loop (CacheCore `validatorReads`).
   */
  store: Pick<CacheStore, 'getMany'>;
  /** Where responses are kept: the bucket cache's in-process tier. */
  tier: LocalTier;
  /** The store's key prefix (CACHE_KEY_PREFIX). */
  prefix: string;
  /** CACHE_VERSION. */
  cacheVersion: string;
  /** The JWT secret, to verify the token a session is made from. */
  secret: Uint8Array;
  /** Longest a response is kept (RESPONSE_CACHE_TTL_MS), however long its buckets stay fresh. */
  maxLifeMs: number;
  /** Adds `extensions.responseCache` ({ hit, didCache, ttl }) to answers: outside production. */
  describe: boolean;
  /** Epoch ms now. */
  clock: () => number;
  observer?: ResponseCacheObserver | undefined;
  /** Longest a request waits for another's execution of the same request before it executes itself. @default 3000 */
  waitMs?: number | undefined;
}

/** What the tier holds for one response. */
interface KeptResponse {
  kind: 'response';
  result: ExecutionResult;
  /** `result` serialised, once: what a hit writes back. */
  text: string;
  validators: readonly string[];
  /** Until when it is served as fresh: its earliest bucket's fresh deadline, or `maxLifeMs` after it was made. */
  freshUntil: number;
  /** Its earliest bucket's fresh deadline: what Cache-Control says of it, as the field path would. */
  bucketsFreshUntil: number;
  /** Per metric, its buckets' earliest fresh deadline: which metrics a stale copy counts as stale values served. */
  metricsFreshUntil: ReadonlyArray<readonly [string, number]>;
}

/** An execution's answer, as kept, for the requests that waited for it. */
interface Built {
  result: ExecutionResult;
  text: string;
  validatedBy: ValidatedBy;
  freshUntil: number;
  staleUntil: number;
  bucketsFreshUntil: number;
}

/** Until when a served-whole result stays fresh: set on the copy that is served, read for Cache-Control. */
const FRESH_UNTIL = Symbol('freshUntil');
const SEP = '\u0000';
/**
 * Between the response key and the request's number in a request's own key: no response
 * key holds it (keys.ts), and it may stand in a header (the plugin names the key in an ETag).
 */
const REQUEST_SEP = '#';
/** The response key of a request's own key (a response key as it is). */
const responseKeyOf = (key: string) => {
  const cut = key.indexOf(REQUEST_SEP);
  return cut < 0 ? key : key.slice(0, cut);
};
/** Longest identical requests execute side by side after an execution that kept nothing (see `unkept`). */
const UNKEPT_MS = 60_000;
/** Most first-lookup marks kept (see `missedFirst`). */
const MISSED_FIRST_MAX = 10_000;
const NOOP: ResponseCacheObserver = { lookup: () => {} };

/** The layer as a yoga plugin (see the top of this file). A failing store never fails a request: its lookups miss. */
export function createResponseCache(options: ResponseCacheOptions): Plugin {
  const { store, tier, clock } = options;
  const observer = options.observer ?? NOOP;
  const waitMs = options.waitMs ?? 3_000;
  const space = { prefix: options.prefix, cacheVersion: options.cacheVersion };
  /** The key a request's context was given, so that `onTtl` can find what that request read. */
  const keyOf = new WeakMap<object, string>();
  /** What the execution behind a key was validated by, from `onTtl` to `set` (the same synchronous step). */
  const pending = new Map<
    string,
    {
      validatedBy: ValidatedBy;
      freshUntil: number;
      bucketsFreshUntil: number;
      staleUntil: number;
      metricsFreshUntil: ReadonlyArray<readonly [string, number]>;
    }
  >();
  /**
   * First lookups that found nothing, by the request's own key (the response key and the
   * request's number, see `buildResponseCacheKey`). The plugin looks a request's key up
   * twice when it does not answer it whole (when the request arrives, then before it
   * executes); the second lookup could only miss again, and is answered "absent" from
   * here, without a read. Tied to the request, not to the response key: a mark per
   * response key let an identical request's first lookup take it, and the request that
   * had left it then waited for its own execution (until `waitMs`). At most
   * MISSED_FIRST_MAX, the oldest dropped first (a request that never reaches its second
   * lookup, refused by validation, say, leaves its mark); a mark dropped costs that
   * request one more read, never a wait for itself (`builds` names who started each).
   */
  const missedFirst = new Set<string>();
  /** Numbers the requests whose key is built, to make each request's key its own. */
  let requests = 0;
  /**
   * Executions under way, per key: a request that finds nothing valid waits for one (at
   * most `waitMs`) instead of executing too, and takes its answer if that was validated by
   * exactly what this request reads itself; a stale response is served while one runs.
   */
  const builds = new Map<
    string,
    {
      seq: number;
      /** The own key of the request that executes (see `missedFirst`). */
      by: string | undefined;
      done: Promise<Built | undefined>;
      finish: (built: Built | undefined) => void;
    }
  >();
  /**
   * Keys whose last execution kept nothing (an answer with errors, one that read no
   * validated cache data, like `{ __typename }`), with until when: identical requests for
   * them execute at once instead of waiting for one another only to execute after, which
   * doubled their latency under load. Until an execution keeps an answer, at most
   * UNKEPT_MS.
   */
  const unkept = new Map<string, number>();
  /** Orders keys built, lookups and executions: an execution registered after a lookup read everything after it. */
  let seq = 0;
  /** When each request's key was built (it had started by then). */
  const builtAt = new WeakMap<object, number>();
  /**
   * The last validators read per key, or the failure of that read, with when: an
   * execution whose request started before the read takes them (they are no older than
   * it) instead of reading them again, or sends the failing store nothing more.
   */
  const lastRead = new Map<
    string,
    { seq: number; read: { keys: readonly string[]; values: Array<string | null> } | { failed: unknown } }
  >();

  function remember(key: string, at: number, read: { keys: readonly string[]; values: Array<string | null> } | { failed: unknown }): void {
    if (lastRead.size > 10_000) lastRead.clear();
    lastRead.set(key, { seq: at, read });
  }

  /** This request (`by`, its own key) executes for `key`; others may wait for it. */
  function build(key: string, by: string | undefined): undefined {
    if (!builds.has(key)) {
      let resolve!: (built: Built | undefined) => void;
      const done = new Promise<Built | undefined>((r) => (resolve = r));
      // An execution that never reaches `set` (it failed, or its client went) lets its waiters go.
      const timer = setTimeout(() => built(key, 'timeout'), waitMs);
      timer.unref();
      builds.set(key, {
        seq: ++seq,
        by,
        done,
        finish: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
      });
    }
    return undefined;
  }

  /** An execution for `key` ended, with what it kept (undefined: nothing; `timeout`: it did not end within `waitMs`). */
  function built(key: string, what: Built | undefined | 'timeout'): void {
    if (what === undefined) {
      if (unkept.size >= 10_000) unkept.clear();
      unkept.set(key, clock() + UNKEPT_MS);
    } else unkept.delete(key);
    const under = builds.get(key);
    if (!under) return;
    builds.delete(key);
    under.finish(what === 'timeout' ? undefined : what);
  }

  /**
   * A kept answer as served: in production with its serialised text, which yoga writes as
   * it is (a result's `stringify`) instead of serialising the answer again on every hit;
   * outside production yoga adds `extensions.responseCache`, so it serialises.
   */
  const serve = (kept: { result: ExecutionResult; text: string }, freshUntil: number) =>
    (options.describe
      ? { ...kept.result, [FRESH_UNTIL]: freshUntil }
      : { ...kept.result, stringify: () => kept.text, [FRESH_UNTIL]: freshUntil }) as unknown as ExecutionResult;

  /** A request's lookup of its own key (a client's If-None-Match names a response key alone). */
  async function lookup(asked: string): Promise<ExecutionResult | undefined> {
    const own = asked.includes(REQUEST_SEP);
    if (own && missedFirst.delete(asked)) return undefined;
    const found = await lookupResponse(responseKeyOf(asked), own ? asked : undefined);
    if (own && found === undefined) {
      if (missedFirst.size >= MISSED_FIRST_MAX) missedFirst.delete(missedFirst.values().next().value!);
      missedFirst.add(asked);
    }
    return found;
  }

  async function lookupResponse(key: string, asked: string | undefined): Promise<ExecutionResult | undefined> {
    const mine = ++seq;
    // Keys come from clients too (If-None-Match): only a response key of ours is looked up,
    // never a bucket or any other item of the tier.
    if (!parseResponseKey(key, space)) return undefined;
    const kept = tier.peek<KeptResponse>(key);
    let read: { keys: readonly string[]; values: Array<string | null> } | undefined;
    if (kept && kept.entry.value.kind === 'response') {
      const { validators, freshUntil, bucketsFreshUntil } = kept.entry.value;
      try {
        read = { keys: validators, values: await store.getMany(validators) };
        remember(key, mine, read);
      } catch (failed) {
        // The store cannot say whether anything changed: not served (the field path answers,
        // without waiting on the store again).
        remember(key, mine, { failed });
        observer.lookup('changed');
        return undefined;
      }
      if (validatorSnapshot(validators, read.values) === kept.validator) {
        if (clock() < freshUntil) {
          observer.lookup('hit');
          return serve(kept.entry.value, bucketsFreshUntil);
        }
        // Past its fresh deadline, within its buckets' stale window (the tier keeps it no
        // longer): served while one request executes, which refreshes the stale buckets.
        observer.lookup('stale');
        if (!builds.has(key)) return build(key, asked);
        const now = clock();
        for (const [metric, until] of kept.entry.value.metricsFreshUntil) if (until <= now) observer.staleServed?.(metric);
        return serve(kept.entry.value, now);
      }
      // Left in place until an execution replaces it: the requests that find it meanwhile
      // compare that execution's answer with what they read here, with no read of their own.
      observer.lookup('changed');
    } else observer.lookup('miss');

    // Nothing to wait for where the last execution kept nothing: each executes at once.
    const until = unkept.get(key);
    if (until !== undefined) {
      if (clock() < until) return undefined;
      unkept.delete(key);
    }
    // Wait for the execution under way, or a next one, until `waitMs` has passed.
    const deadline = performance.now() + waitMs;
    for (;;) {
      const under = builds.get(key);
      if (!under) return build(key, asked);
      // Its own execution (its first lookup's mark was dropped): it goes on to execute.
      if (asked !== undefined && under.by === asked) return undefined;
      const answer = await under.done;
      // Not kept (errors, a vendor's rate, stale buckets): nothing to share, each executes.
      if (!answer) return undefined;
      // Stale (it served a bucket whose refresh is under way): as the field path would serve it now.
      if (clock() < answer.staleUntil) {
        // Registered after this lookup began, that execution read every validator after this
        // request started: it shows every write that returned before.
        if (under.seq > mine) return joined(answer);
        // Else it counts only if it read what this request reads itself, after it started.
        const { keys, snapshot } = answer.validatedBy;
        let values = read && read.keys.join('\n') === keys.join('\n') ? read.values : undefined;
        values ??= await store.getMany(keys).catch(() => undefined);
        if (values && validatorSnapshot(keys, values) === snapshot) return joined(answer);
      }
      // A write came between: the next execution (this request's, unless another's starts first) will do.
      if (performance.now() >= deadline) return undefined;
    }
  }

  function joined(answer: Built): ExecutionResult {
    observer.lookup('joined');
    return serve(answer, answer.bucketsFreshUntil);
  }

  function keep(key: string, result: ExecutionResult): void {
    const validated = pending.get(key);
    pending.delete(key);
    if (!validated) return built(key, undefined);
    // Served whole, every bucket the answer stands for came from the cache, validated: what
    // `extensions.cache` (outside production) says of it is that they were all hits.
    // `http` is yoga's (headers it sets, never written in the body): a hit sets its own.
    const { cache, ...rest } = (result.extensions ?? {}) as { cache?: Record<string, Record<string, number>>; http?: unknown };
    delete rest.http;
    const extensions: Record<string, unknown> = rest;
    if (cache) {
      extensions.cache = Object.fromEntries(
        Object.entries(cache).map(([metric, c]) => [metric, { hit: (c.hit ?? 0) + (c.miss ?? 0) + (c.stale ?? 0), miss: 0, stale: 0 }]),
      );
    }
    const stored: ExecutionResult = Object.keys(extensions).length ? { ...result, extensions } : { data: result.data };
    const { validatedBy, freshUntil, bucketsFreshUntil, staleUntil, metricsFreshUntil } = validated;
    const text = JSON.stringify(stored);
    const value: KeptResponse = {
      kind: 'response',
      result: stored,
      text,
      validators: validatedBy.keys,
      freshUntil,
      bucketsFreshUntil,
      metricsFreshUntil,
    };
    // The answer decoded and its text: about three times the text, plus the key and the validators' names.
    const bytes = 3 * text.length + 2 * key.length + 96 * (1 + validatedBy.keys.length);
    tier.set(key, { value, computedAt: clock(), version: 'response', freshUntil, staleUntil }, validatedBy.snapshot, bytes);
    built(key, { result: stored, text, validatedBy, freshUntil, staleUntil, bucketsFreshUntil });
  }

  const servedFresh = new WeakMap<Request, number>();
  const responseCache = useResponseCache({
    // A request with If-None-Match is left to the HTTP server's ETag, which it answers after authorization.
    enabled: (request) => !request.headers.has('if-none-match'),
    ttl: options.maxLifeMs,
    invalidateViaMutation: false,
    includeExtensionMetadata: options.describe,
    async session(request) {
      try {
        const identity = await verifyAuthorization(request.headers.get('authorization'), options.secret);
        return [identity.tenant, identity.region ?? '*', identity.role].join(SEP);
      } catch {
        // No valid token: a session nobody else has, so nothing is ever shared with it.
        return `anonymous${SEP}${randomBytes(16).toString('hex')}`;
      }
    },
    buildResponseCacheKey({ documentString, variableValues, operationName, sessionId, context }) {
      const tenant = (sessionId ?? '').split(SEP)[0] ?? '';
      const hash = createHash('sha256')
        // The range as the answer depends on it: a sliding "last 7 days" shares one key per hour.
        .update(
          [
            sessionId,
            documentString,
            JSON.stringify(effectiveVariables(documentString, variableValues ?? undefined) ?? {}),
            operationName ?? '',
          ].join(SEP),
        )
        .digest('base64url');
      const key = responseKey({ ...space, tenant, hash });
      if (context) {
        keyOf.set(context, key);
        builtAt.set(context, ++seq);
      }
      // The request's own key: the plugin looks it up (twice on a miss), stores under it and
      // names it in an ETag (which onResponse drops); what is kept is under the response key.
      return Promise.resolve(`${key}${REQUEST_SEP}${++requests}`);
    },
    onTtl({ ttl, context }) {
      const key = keyOf.get(context);
      const metrics = (context as Partial<GraphQLContext>).metrics;
      const validatedBy = metrics?.validatedBy();
      const now = clock();
      const bucketsFreshUntil = metrics?.freshUntil() ?? 0;
      const freshUntil = Math.min(now + ttl, bucketsFreshUntil);
      // Served stale no longer than its earliest bucket may be. An answer that served a stale
      // bucket (its refresh is under way) is kept too, to be served stale until one that
      // is fresh replaces it: every request that waited for it would otherwise execute.
      const staleUntil = Math.max(freshUntil, metrics?.staleUntil() ?? 0);
      if (!key || !validatedBy || !(staleUntil > now)) {
        if (key) {
          pending.delete(key);
          built(key, undefined);
        }
        return 0;
      }
      const metricsFreshUntil = [...(metrics?.freshUntilByMetric() ?? [])];
      pending.set(key, { validatedBy, freshUntil, bucketsFreshUntil, staleUntil, metricsFreshUntil });
      return Math.max(1, freshUntil - now);
    },
    shouldCacheResult({ cacheKey, result }) {
      const ok = !result.errors?.length;
      if (!ok) {
        const key = responseKeyOf(cacheKey);
        pending.delete(key);
        built(key, undefined);
      }
      return ok;
    },
    cache: {
      get: lookup,
      set: (key, result) => keep(responseKeyOf(key), result),
      // Invalidation goes through the validators, which every drop replaces.
      invalidate() {},
    },
  });

  return {
    onPluginInit({ addPlugin }) {
      addPlugin(responseCache);
    },
    onExecute({ args, executeFn, setExecuteFn }) {
      const context = args.contextValue as Partial<GraphQLContext>;
      const key = keyOf.get(context);
      const last = key === undefined ? undefined : lastRead.get(key);
      if (last && last.seq > (builtAt.get(context) ?? Infinity)) context.metrics?.seed(last.read);
      // On a miss the plugin (added after this one, so it calls this) executes a copy of the
      // document with `__typename` added to every selection set, for the entity invalidation
      // this layer does not use, and then strips it from every object of the answer: for a
      // dashboard, a field more on each of its hundreds of points, and objects that `delete`
      // leaves slow to serialise. The document as sent answers the same.
      const document = args.document as DocumentNode;
      const execute = executeFn as (executeArgs: ExecutionArgs) => unknown;
      setExecuteFn((executeArgs) => execute({ ...(executeArgs as ExecutionArgs), document }) as ExecutionResult | Promise<ExecutionResult>);
    },
    onResultProcess({ request, result }) {
      const until = (result as { [FRESH_UNTIL]?: number })[FRESH_UNTIL];
      if (until !== undefined) servedFresh.set(request, until);
    },
    onResponse({ request, response }) {
      // The plugin's own ETag names the response key; the HTTP server makes ETags of bodies.
      response.headers.delete('etag');
      response.headers.delete('last-modified');
      const until = servedFresh.get(request);
      if (until === undefined || request.method !== 'GET' || response.status !== 200) return;
      // As the field path would say of the same answer (http-caching.ts): fresh until its earliest bucket's deadline.
      response.headers.set('cache-control', `private, max-age=${Math.max(0, Math.floor((until - clock()) / 1000))}`);
      response.headers.set('vary', 'Authorization');
    },
  };
}
