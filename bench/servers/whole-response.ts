/**
 * Bench server: the baseline most teams would reach for, a whole-response cache
 * (@graphql-yoga/plugin-response-cache over Redis) in front of the uncached
 * resolvers, configured as its own users would:
 *
 * - session: the verified token's tenant and region (what the answer depends on);
 * - ttl: WHOLE_RESPONSE_TTL_MS (30 s), one TTL for every response;
 * - invalidation: the plugin's own (`invalidateViaMutation`, on by default), by
 *   entity. A `recordOrder` answer is an `Order`, and no dashboard answer holds an
 *   `Order`, so writes invalidate nothing: answers are stale after a write until
 *   their TTL runs out. That is this baseline's trade-off, and the bench measures it.
 *
 * The app underneath is createApp with `cache: false`, plus the plugin. Its cache
 * store is the in-process one (unused with `cache: false`), so the Redis of
 * `--redis` holds responses only and its command counts are the plugin's.
 *
 *   --redis URL   where responses are kept (required)
 */
import { useResponseCache, type Cache } from '@graphql-yoga/plugin-response-cache';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { verifyAuthorization } from '../../src/auth/identity.js';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { serve, serverArgs } from './child.js';
import { countingSource } from './counting-source.js';

/** How long a response is kept: one TTL for all, as the plugin's users set it. */
export const WHOLE_RESPONSE_TTL_MS = 30_000;
const KEY_PREFIX = 'wrc:';

/**
 * The plugin's `Cache` over ioredis: GET to read; SET … PX and SADDs of the
 * response's entities (type and type:id → response keys) to write; SMEMBERS + DEL
 * to invalidate. What @envelop/response-cache-redis does, written here so as not
 * to add a dependency for fifty lines.
 */
function redisResponseCache(redis: Redis): Cache {
  const entityKey = (typename: string, id?: number | string) => `${KEY_PREFIX}entity:${typename}${id === undefined ? '' : `:${id}`}`;
  return {
    async get(key) {
      const text = await redis.get(KEY_PREFIX + key);
      return text ? (JSON.parse(text) as ExecutionResult) : undefined;
    },
    async set(key, data, entities, ttl) {
      const pipeline = redis.pipeline();
      if (Number.isFinite(ttl)) pipeline.set(KEY_PREFIX + key, JSON.stringify(data), 'PX', Math.max(1, Math.round(ttl)));
      else pipeline.set(KEY_PREFIX + key, JSON.stringify(data));
      for (const { typename, id } of entities) {
        pipeline.sadd(entityKey(typename), key);
        if (id !== undefined) pipeline.sadd(entityKey(typename, id), key);
      }
      await pipeline.exec();
    },
    async invalidate(entities) {
      for (const { typename, id } of entities) {
        const set = entityKey(typename, id ?? undefined);
        const keys = await redis.smembers(set);
        await redis.del(set, ...keys.map((k) => KEY_PREFIX + k));
      }
    },
  };
}

function responseCachePlugin(redis: Redis, secret: Uint8Array): Plugin {
  return useResponseCache({
    ttl: WHOLE_RESPONSE_TTL_MS,
    cache: redisResponseCache(redis),
    async session(request) {
      try {
        const identity = await verifyAuthorization(request.headers.get('authorization'), secret);
        return `${identity.tenant}|${identity.region ?? '*'}`;
      } catch {
        // Not verified: the request fails anyway; a session of its own shares nothing.
        return `unverified|${Math.random()}`;
      }
    },
  });
}

const args = serverArgs({ redis: { type: 'string' } });

await serve('whole-response cache', async () => {
  if (!args.redis) throw new Error('--redis URL is required');
  const config = loadConfig(process.env);
  if (config.store.kind !== 'memory') throw new Error('give the whole-response server its Redis with --redis, not REDIS_URL');
  const logger = createLogger(config.logLevel);
  const redis = new Redis(args.redis, { maxRetriesPerRequest: 1 });
  const app = await createApp(config, {
    logger,
    seed: false,
    cache: false,
    plugins: [responseCachePlugin(redis, config.auth.jwtSecret)],
    // The uncached path counts no source queries itself: count them around the source.
    wrapAggregates: (aggregates, registry) => countingSource(aggregates, registry),
  });
  const close = async () => {
    await app.close();
    redis.disconnect();
  };
  try {
    return { port: await app.listen(0), close };
  } catch (error) {
    await close();
    throw error;
  }
});
