/**
 * The whole-response layer: identical repeated queries answered from a stored
 * response (@graphql-yoga/plugin-response-cache), in the cache store — Redis when
 * there is one, so every instance shares it. It sits in front of the field-level
 * cache and pays where many clients ask the very same thing (the benchmark measured
 * it); a response is kept no longer than the open bucket stays fresh.
 *
 * - Session: the verified token's tenant, region scope and role. The token is checked
 *   on every request; a response is only ever served to callers the same answer was
 *   computed for, and responses with errors (a VIEWER's FORBIDDEN) are never kept.
 * - Invalidation by the same events, before the write returns: each tenant has a
 *   generation in the store, part of every response key; an event or a manual
 *   invalidation replaces it, so older responses are never read again (and expire).
 */
import { createHash, randomBytes } from 'node:crypto';
import { useResponseCache } from '@graphql-yoga/plugin-response-cache';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { verifyAuthorization } from '../../auth/identity.js';
import { parseResponseKey, responseGenerationKey, responseKey } from '../../cache/keys.js';
import type { CacheStore } from '../../cache/store.js';

/** Where the whole-response layer stores responses, how its keys are built, and how long responses live. */
export interface ResponseCacheOptions {
  /** Where responses and tenant generations are kept: the bucket cache's store. */
  store: CacheStore;
  /** The store's key prefix (CACHE_KEY_PREFIX). */
  prefix: string;
  /** CACHE_VERSION: a new one makes every stored response unreadable. */
  cacheVersion: string;
  /** The JWT secret, to verify the token a session is made from. */
  secret: Uint8Array;
  /** How long a response is kept. */
  ttlMs: number;
  /** Epoch ms now; part of a new generation's value. */
  clock: () => number;
}

/** Tenant generations: what invalidates a tenant's stored responses. */
export interface ResponseGenerations {
  /** Makes every stored response of the tenant unreadable. */
  bump(tenant: string): Promise<void>;
}

const GENERATION_TTL_MS = 86_400_000;
const SEP = '\u0000';

/** The layer: a yoga plugin, and the generations that invalidation bumps. */
export interface ResponseCacheLayer {
  plugin: Plugin;
  generations: ResponseGenerations;
}

/**
 * The whole-response layer over `options.store` (see the top of this file). A store that
 * fails never fails a request: a read becomes a miss, a write or a bump is skipped.
 */
export function createResponseCache(options: ResponseCacheOptions): ResponseCacheLayer {
  const { store } = options;
  const space = { prefix: options.prefix, cacheVersion: options.cacheVersion };
  const generationKey = (tenant: string) => responseGenerationKey({ ...space, tenant });
  /** Keys built and not yet looked up; each is taken once. */
  const justBuilt = new Set<string>();

  /**
   * True when `key` names a response of the tenant's current generation. The plugin
   * also looks keys up from If-None-Match headers, which clients write: only our
   * response keys are read, and a key of an older generation is stale (its data changed).
   */
  async function isCurrent(key: string): Promise<boolean> {
    // The plugin looks a key up right after building it from the generation it just read:
    // no need to read that generation again (one store read less per request).
    if (justBuilt.delete(key)) return true;
    const parts = parseResponseKey(key, space);
    if (!parts) return false;
    const [generation] = await store.getMany([generationKey(parts.tenant)]).catch(() => [undefined]);
    return (generation ?? '0') === parts.generation;
  }

  const generations: ResponseGenerations = {
    async bump(tenant) {
      const value = `${options.clock()}-${randomBytes(4).toString('hex')}`;
      await store.setMany([{ key: generationKey(tenant), value, ttlMs: GENERATION_TTL_MS }]).catch(() => {});
    },
  };

  const plugin = useResponseCache({
    ttl: options.ttlMs,
    async session(request) {
      try {
        const identity = await verifyAuthorization(request.headers.get('authorization'), options.secret);
        return [identity.tenant, identity.region ?? '*', identity.role].join(SEP);
      } catch {
        // No valid token: a session nobody else has, so nothing is ever shared with it.
        return `anonymous${SEP}${randomBytes(16).toString('hex')}`;
      }
    },
    async buildResponseCacheKey({ documentString, variableValues, operationName, sessionId }) {
      const tenant = (sessionId ?? '').split(SEP)[0] ?? '';
      let generation = '0';
      try {
        generation = (await store.getMany([generationKey(tenant)]))[0] ?? '0';
      } catch {
        // Store down: the key is not reachable either, so nothing stale can be served.
      }
      const hash = createHash('sha256')
        .update([sessionId, documentString, JSON.stringify(variableValues ?? {}), operationName ?? ''].join(SEP))
        .digest('base64url');
      const key = responseKey({ ...space, tenant, generation, hash });
      if (justBuilt.size > 10_000) justBuilt.clear();
      justBuilt.add(key);
      return key;
    },
    cache: {
      async get(key) {
        if (!(await isCurrent(key))) return undefined;
        const [text] = await store.getMany([key]).catch(() => [null]);
        return text ? (JSON.parse(text) as ExecutionResult) : undefined;
      },
      async set(key, data, _entities, ttl) {
        await store.setMany([{ key, value: JSON.stringify(data), ttlMs: Math.max(1, ttl) }]).catch(() => {});
      },
      // Invalidation goes through tenant generations, not entities.
      invalidate() {},
    },
  });

  return { plugin, generations };
}
